-- The SQLite schema. Times are UTC unix microseconds (INTEGER), so both
-- stores round-trip times identically; booleans are 0/1; JSON is TEXT.
-- Columns ending in _lc hold strings.ToLower of their source column, so
-- searches and sorts are case-insensitive in the same way as on PostgreSQL.

-- +goose Up
CREATE TABLE tenants (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL,
    webhook_secret             TEXT NOT NULL DEFAULT '',
    previous_webhook_secret    TEXT NOT NULL DEFAULT '',
    previous_secret_expires_at INTEGER,
    created_at                 INTEGER NOT NULL,
    CONSTRAINT tenants_name_key UNIQUE (name)
) STRICT;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL DEFAULT '',
    email_lc      TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_name_key ON users (name);
CREATE UNIQUE INDEX users_email_lc_key ON users (email_lc) WHERE email_lc <> '';
CREATE INDEX users_tenant_idx ON users (tenant_id, name);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    prefix       TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    last_used_at INTEGER,
    revoked_at   INTEGER,
    CONSTRAINT api_tokens_hash_key UNIQUE (hash)
) STRICT;
CREATE INDEX api_tokens_tenant_idx ON api_tokens (tenant_id, created_at);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE workflows (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    name_lc        TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    description_lc TEXT NOT NULL DEFAULT '',
    definition     TEXT NOT NULL,
    version        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    updated_at     INTEGER NOT NULL,
    updated_by     TEXT NOT NULL DEFAULT '',
    CONSTRAINT workflows_tenant_id_name_key UNIQUE (tenant_id, name)
) STRICT;
CREATE INDEX workflows_tenant_name_idx ON workflows (tenant_id, name_lc, id);

CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    changed_by  TEXT NOT NULL DEFAULT '',
    changed_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
) STRICT;

-- Schedules do not reference workflows with a foreign key: deleting a
-- workflow with force leaves its schedules in status error, still naming it.
CREATE TABLE schedules (
    id                        TEXT PRIMARY KEY,
    tenant_id                 TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    workflow_id               TEXT NOT NULL,
    name                      TEXT NOT NULL,
    name_lc                   TEXT NOT NULL,
    description               TEXT NOT NULL DEFAULT '',
    description_lc            TEXT NOT NULL DEFAULT '',
    cron_expression           TEXT NOT NULL,
    timezone                  TEXT NOT NULL,
    enabled                   INTEGER NOT NULL,
    status                    TEXT NOT NULL,
    status_reason             TEXT,
    parameter_values          TEXT NOT NULL DEFAULT '{}',
    tags                      TEXT NOT NULL DEFAULT '[]',
    max_concurrent_executions INTEGER NOT NULL,
    overlap_policy            TEXT NOT NULL,
    misfire_policy            TEXT NOT NULL,
    catchup_window_minutes    INTEGER NOT NULL,
    retry_attempts            INTEGER NOT NULL,
    retry_delay_minutes       INTEGER NOT NULL,
    retry_backoff             TEXT NOT NULL,
    max_retry_delay_minutes   INTEGER NOT NULL,
    timeout_minutes           INTEGER,
    expires_at                INTEGER,
    notification_config       TEXT NOT NULL DEFAULT '{}',
    next_run_at               INTEGER,
    last_run_at               INTEGER,
    last_run_status           TEXT,
    last_run_id               TEXT,
    created_at                INTEGER NOT NULL,
    created_by                TEXT NOT NULL DEFAULT '',
    updated_at                INTEGER NOT NULL,
    updated_by                TEXT NOT NULL DEFAULT '',
    version                   INTEGER NOT NULL,
    CONSTRAINT schedules_tenant_id_name_key UNIQUE (tenant_id, name)
) STRICT;
-- The dispatcher's due query: only schedules that can fire are indexed.
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled = TRUE AND status = 'active';
-- Listing per tenant, one index per sort key; the name index also carries
-- the lower-cased description so a search filters on the index alone.
CREATE INDEX schedules_tenant_name_idx ON schedules (tenant_id, name_lc, id, description_lc);
CREATE INDEX schedules_tenant_next_idx ON schedules (tenant_id, next_run_at, id);
CREATE INDEX schedules_tenant_updated_idx ON schedules (tenant_id, updated_at, id);
CREATE INDEX schedules_tenant_workflow_idx ON schedules (tenant_id, workflow_id);
CREATE INDEX schedules_expiry_idx ON schedules (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;

CREATE TABLE schedule_versions (
    schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    snapshot    TEXT NOT NULL,
    changed_by  TEXT NOT NULL DEFAULT '',
    changed_at  INTEGER NOT NULL,
    PRIMARY KEY (schedule_id, version)
) STRICT;

-- Executions keep schedule_id and workflow_id without foreign keys, so the
-- history outlives the schedule and the workflow.
CREATE TABLE executions (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    schedule_id      TEXT,
    workflow_id      TEXT NOT NULL,
    workflow_run_id  TEXT NOT NULL DEFAULT '',
    scheduled_at     INTEGER NOT NULL,
    due_at           INTEGER NOT NULL,
    trigger_type     TEXT NOT NULL,
    status           TEXT NOT NULL,
    executed_at      INTEGER,
    completed_at     INTEGER,
    duration_ms      INTEGER,
    retry_count      INTEGER NOT NULL DEFAULT 0,
    retry_of         TEXT,
    error_message    TEXT,
    skipped          INTEGER NOT NULL DEFAULT 0,
    skip_reason      TEXT,
    instance_id      TEXT,
    parameter_values TEXT NOT NULL DEFAULT '{}',
    summary          TEXT,
    forced           INTEGER NOT NULL DEFAULT 0,
    heartbeat_at     INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    created_by       TEXT NOT NULL DEFAULT ''
) STRICT;
-- One execution per occurrence: the key that makes double claims harmless.
CREATE UNIQUE INDEX executions_occurrence_key ON executions (schedule_id, scheduled_at) WHERE trigger_type IN ('schedule', 'catchup');
CREATE INDEX executions_pending_due_idx ON executions (due_at) WHERE status = 'pending';
CREATE INDEX executions_active_idx ON executions (schedule_id, status) WHERE status IN ('pending', 'running');
CREATE INDEX executions_schedule_history_idx ON executions (schedule_id, scheduled_at DESC, created_at DESC, id DESC);
CREATE INDEX executions_tenant_time_idx ON executions (tenant_id, scheduled_at DESC, created_at DESC, id DESC);
CREATE INDEX executions_finished_idx ON executions (coalesce(completed_at, created_at)) WHERE status IN ('completed', 'failed', 'skipped', 'cancelled');

CREATE TABLE execution_nodes (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    node_id      TEXT NOT NULL,
    node_type    TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    started_at   INTEGER,
    completed_at INTEGER,
    duration_ms  INTEGER,
    features_in  INTEGER NOT NULL DEFAULT 0,
    features_out INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    PRIMARY KEY (execution_id, node_id)
) STRICT;

CREATE TABLE execution_logs (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    level        TEXT NOT NULL,
    node_id      TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
) STRICT;

CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    execution_id     TEXT REFERENCES executions (id) ON DELETE CASCADE,
    schedule_id      TEXT,
    event            TEXT NOT NULL,
    channel          TEXT NOT NULL,
    target           TEXT NOT NULL,
    masked_target    TEXT NOT NULL,
    payload          BLOB,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error       TEXT,
    next_attempt_at  INTEGER,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER,
    lease_owner      TEXT,
    lease_until      INTEGER
) STRICT;
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_execution_idx ON deliveries (execution_id);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor_id    TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL DEFAULT '',
    object_id   TEXT NOT NULL DEFAULT '',
    before_json TEXT,
    after_json  TEXT,
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_log_tenant_time_idx ON audit_log (tenant_id, at DESC, id DESC);
CREATE INDEX audit_log_object_idx ON audit_log (tenant_id, object_type, object_id, at DESC);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE deliveries;
DROP TABLE execution_logs;
DROP TABLE execution_nodes;
DROP TABLE executions;
DROP TABLE schedule_versions;
DROP TABLE schedules;
DROP TABLE workflow_versions;
DROP TABLE workflows;
DROP TABLE sessions;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE tenants;
