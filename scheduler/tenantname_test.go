package scheduler

import (
	"testing"

	"github.com/geoetl/geoetl"
)

func TestRun_CarriesTheTenantNameToTheEngine(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	b.start("i1", nil)
	sc := b.schedule(b.workflow(defEmpty), "0 0 1 1 *", nil)
	// One after the other: two run-nows created together contend for the
	// schedule's one slot, and the overlap policy would skip one of them.
	b.runNow(sc, nil, false)
	b.waitStatus(sc, geoetl.ExecCompleted, 1)
	b.runNow(sc, nil, false)
	b.waitStatus(sc, geoetl.ExecCompleted, 1)
	reqs := b.engine.requests()
	if len(reqs) != 2 {
		t.Fatalf("engine got %d runs", len(reqs))
	}
	for _, r := range reqs {
		if r.TenantName != b.tenant.Name || r.TenantID != b.tenant.ID {
			t.Errorf("run of tenant %q (%s), want %q (%s)", r.TenantName, r.TenantID, b.tenant.Name, b.tenant.ID)
		}
	}
}
