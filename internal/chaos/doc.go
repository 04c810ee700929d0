// Package chaos is the fault-injection harness of GeoETL. It
// drives real `geoetl serve` processes (Build compiles ./cmd/geoetl) on one
// database, injects faults (SIGKILL, SIGSTOP, dropped database sessions, a
// restarted PostgreSQL, skewed clocks) and then judges the executions table
// against the occurrences the schedules' cron expressions define (Check).
//
// The scenarios are the tests of this package. By default each runs
// briefly, so `make test` catches a regression in claims, leases or
// retries; GEOETL_CHAOS_LONG=1 (`make chaos`) runs them for minutes and
// also restarts the PostgreSQL server itself. RELIABILITY.md at the
// repository root ties each guarantee to its scenario.
package chaos
