package scheduler

import (
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl"
)

// TestRun_RecordsErrorsWithoutServerDetails runs a real workflow whose
// PostgreSQL connection fails and checks that what viewers read (the
// execution error, node errors, the log) names the problem without the
// database's address, user or database name.
func TestRun_RecordsErrorsWithoutServerDetails(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	eng, err := etl.New(etl.Config{DataDir: t.TempDir(), Connections: map[string]string{"warehouse": "postgres://geo_secret_user:s3cret@127.0.0.1:1/gis_private?connect_timeout=5"}})
	if err != nil {
		t.Fatal(err)
	}
	b.start("i1", func(c *Config) { c.Engine = eng })
	def := `{"nodes":[{"id":"src","type":"data_source.postgis","parameters":{"connection":"warehouse","table":"parcels"}},
		{"id":"out","type":"data_sink.geojson","parameters":{"output_path":"out.geojson"}}],"edges":[{"from":"src","to":"out"}]}`
	sc := b.schedule(b.workflow(def), "0 0 1 1 *", nil)
	e := b.runNow(sc, nil, false)
	b.waitStatus(sc, geoetl.ExecFailed, 1)
	b.sched.runner.writer.drainForTest(t)
	var texts []string
	got := b.execution(e.ID)
	texts = append(texts, str(got.ErrorMessage))
	nodes, err := b.store.ExecutionNodes(t.Context(), b.tenant.ID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		texts = append(texts, str(n.Error))
	}
	logs, err := b.store.ExecutionLogs(t.Context(), b.tenant.ID, e.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		texts = append(texts, l.Message)
	}
	all := strings.Join(texts, "\n")
	if !strings.Contains(all, "warehouse") {
		t.Errorf("the error no longer names the connection:\n%s", all)
	}
	for _, secret := range []string{"127.0.0.1", "geo_secret_user", "s3cret", "gis_private"} {
		if strings.Contains(all, secret) {
			t.Errorf("recorded text shows %q:\n%s", secret, all)
		}
	}
}
