// Package geoetl is the domain of GeoETL Scheduler: the types and rules
// every other package speaks in, and nothing about HTTP, SQL or processes.
//
// What lives here:
//   - Schedules (schedule.go): a workflow on a cron timetable in a time zone,
//     with its policies (overlap, misfire, retry, time-out, expiry), its
//     validation against the API contract's limits, and partial updates
//     (ScheduleUpdate) whose nil fields keep their value.
//   - Executions (execution.go): one record per occurrence or run, with its
//     status, trigger, timings, attempts and skip reason; NodeRun and
//     LogEntry are what a run reports as it goes.
//   - Workflows (workflow.go): named, versioned definitions in the Honua
//     GeoETL shape, and the WorkflowEngine interface that validates and
//     runs them (package etl implements it; package worker runs it in
//     separate processes).
//   - Tenants, users, sessions, API tokens and roles (tenant.go, user.go);
//     notification configuration and deliveries (notification.go); the
//     audit log (audit.go).
//   - Errors (error.go): a small closed set of codes (EINVALID, ENOTFOUND,
//     ECONFLICT, …) that the HTTP layer maps to status codes in one place and
//     the CLI to exit codes; FieldErrors names every bad field at once.
//   - Store (store.go): everything the application keeps, implemented by
//     db/sqlite and db/postgres and held to one behaviour by db/storetest.
//   - Cluster (cluster.go): how instances sharing a database stay in step,
//     a ChangeFeed of changes between them and an Elector of the one that
//     runs the singleton chores; db/postgres implements it with
//     LISTEN/NOTIFY and an advisory lock, db/inprocess within one process.
//
// The cron dialect itself is in the cron subpackage. Adapters sit below
// this package and depend on it, never the other way round: handlers and
// views (HTTP and the console), service (use cases shared by the API, the
// console and the CLI), scheduler (claims and runs occurrences), etl (the
// workflow engine), notify (deliveries) and db (storage).
package geoetl
