package scheduler

import "testing"

// BenchmarkPrecisionTenantLimit is BenchmarkPrecision with the tenant's
// limit of concurrent runs raised as load tests of one tenant raise it
// (GEOETL_TENANT_MAX_RUNS=1000000): every claim still counts the tenant's
// runs holding a slot, so the difference from BenchmarkPrecision is the
// cost of the count.
func BenchmarkPrecisionTenantLimit(b *testing.B) {
	benchPrecision(b, func(c *Config) { c.TenantMaxRuns = 1000000 })
}
