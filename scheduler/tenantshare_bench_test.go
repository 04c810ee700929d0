package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl/clock"
)

// BenchmarkPrecisionTenantLimit is BenchmarkPrecision with the tenant's
// limit of concurrent runs raised as load tests of one tenant raise it
// (GEOETL_TENANT_MAX_RUNS=1000000): every claim still counts the tenant's
// runs holding a slot, so the difference from BenchmarkPrecision is the
// cost of the count.
func BenchmarkPrecisionTenantLimit(b *testing.B) {
	d := newBenchDB(b, "sqlite")
	start := time.Now().Truncate(time.Second).Add(3 * time.Second)
	d.schedules(1000, "* * * * * *", start, nil)
	s := d.scheduler("bench", newTestEngine(clock.Real{}), func(c *Config) { c.TenantMaxRuns = 1000000 })
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	end := start.Add(benchSeconds())
	time.Sleep(time.Until(end.Add(2 * time.Second)))
	stopNow(b, s)
	st := d.occurrenceStats(start, end, 1000*int(end.Sub(start)/time.Second))
	st.report(b)
	b.ReportMetric(float64(st.runs)/end.Sub(start).Seconds(), "runs/s")
}
