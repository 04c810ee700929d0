-- The PostgreSQL schema, the same tables as on SQLite with native types:
-- uuid ids, timestamptz times (microseconds, like SQLite's integers),
-- jsonb for JSON that is queried and json for JSON kept verbatim. Names and
-- lower-cased columns use the C collation so they sort as on SQLite.
-- Columns ending in _lc hold strings.ToLower of their source column, so
-- searches and sorts are case-insensitive in the same way as on SQLite.

-- +goose Up
CREATE TABLE tenants (
    id                         uuid PRIMARY KEY,
    name                       text COLLATE "C" NOT NULL,
    webhook_secret             text NOT NULL DEFAULT '',
    previous_webhook_secret    text NOT NULL DEFAULT '',
    previous_secret_expires_at timestamptz,
    created_at                 timestamptz NOT NULL,
    CONSTRAINT tenants_name_key UNIQUE (name)
);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text COLLATE "C" NOT NULL,
    email         text NOT NULL DEFAULT '',
    email_lc      text COLLATE "C" NOT NULL DEFAULT '',
    role          text NOT NULL,
    password_hash text NOT NULL DEFAULT '',
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_name_key ON users (name);
CREATE UNIQUE INDEX users_email_lc_key ON users (email_lc) WHERE email_lc <> '';
CREATE INDEX users_tenant_idx ON users (tenant_id, name);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text COLLATE "C" NOT NULL,
    role         text NOT NULL,
    hash         text NOT NULL,
    prefix       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    created_by   text NOT NULL DEFAULT '',
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT api_tokens_hash_key UNIQUE (hash)
);
CREATE INDEX api_tokens_tenant_idx ON api_tokens (tenant_id, created_at);

CREATE TABLE sessions (
    id_hash    text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    csrf_token text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE workflows (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name           text COLLATE "C" NOT NULL,
    name_lc        text COLLATE "C" NOT NULL,
    description    text NOT NULL DEFAULT '',
    description_lc text COLLATE "C" NOT NULL DEFAULT '',
    definition     json NOT NULL,
    version        integer NOT NULL,
    created_at     timestamptz NOT NULL,
    created_by     text NOT NULL DEFAULT '',
    updated_at     timestamptz NOT NULL,
    updated_by     text NOT NULL DEFAULT '',
    CONSTRAINT workflows_tenant_id_name_key UNIQUE (tenant_id, name)
);
CREATE INDEX workflows_tenant_name_idx ON workflows (tenant_id, name_lc, id);

CREATE TABLE workflow_versions (
    workflow_id uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL,
    version     integer NOT NULL,
    name        text COLLATE "C" NOT NULL,
    definition  json NOT NULL,
    changed_by  text NOT NULL DEFAULT '',
    changed_at  timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

-- Schedules do not reference workflows with a foreign key: deleting a
-- workflow with force leaves its schedules in status error, still naming it.
CREATE TABLE schedules (
    id                        uuid PRIMARY KEY,
    tenant_id                 uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    workflow_id               uuid NOT NULL,
    name                      text COLLATE "C" NOT NULL,
    name_lc                   text COLLATE "C" NOT NULL,
    description               text NOT NULL DEFAULT '',
    description_lc            text COLLATE "C" NOT NULL DEFAULT '',
    cron_expression           text NOT NULL,
    timezone                  text NOT NULL,
    enabled                   boolean NOT NULL,
    status                    text NOT NULL,
    status_reason             text,
    parameter_values          jsonb NOT NULL DEFAULT '{}',
    tags                      jsonb NOT NULL DEFAULT '[]',
    max_concurrent_executions integer NOT NULL,
    overlap_policy            text NOT NULL,
    misfire_policy            text NOT NULL,
    catchup_window_minutes    integer NOT NULL,
    retry_attempts            integer NOT NULL,
    retry_delay_minutes       integer NOT NULL,
    retry_backoff             text NOT NULL,
    max_retry_delay_minutes   integer NOT NULL,
    timeout_minutes           integer,
    expires_at                timestamptz,
    notification_config       jsonb NOT NULL DEFAULT '{}',
    next_run_at               timestamptz,
    last_run_at               timestamptz,
    last_run_status           text,
    last_run_id               uuid,
    created_at                timestamptz NOT NULL,
    created_by                text NOT NULL DEFAULT '',
    updated_at                timestamptz NOT NULL,
    updated_by                text NOT NULL DEFAULT '',
    version                   integer NOT NULL,
    CONSTRAINT schedules_tenant_id_name_key UNIQUE (tenant_id, name)
);
-- The dispatcher's due query: only schedules that can fire are indexed.
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled = TRUE AND status = 'active';
-- Listing per tenant, one index per sort key. (Unlike on SQLite the name
-- index cannot carry the description: a btree entry is limited to ~2.7 kB.)
CREATE INDEX schedules_tenant_name_idx ON schedules (tenant_id, name_lc, id);
CREATE INDEX schedules_tenant_next_idx ON schedules (tenant_id, next_run_at, id);
CREATE INDEX schedules_tenant_updated_idx ON schedules (tenant_id, updated_at, id);
CREATE INDEX schedules_tenant_workflow_idx ON schedules (tenant_id, workflow_id);
CREATE INDEX schedules_expiry_idx ON schedules (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;

CREATE TABLE schedule_versions (
    schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL,
    version     integer NOT NULL,
    snapshot    json NOT NULL,
    changed_by  text NOT NULL DEFAULT '',
    changed_at  timestamptz NOT NULL,
    PRIMARY KEY (schedule_id, version)
);

-- Executions keep schedule_id and workflow_id without foreign keys, so the
-- history outlives the schedule and the workflow.
CREATE TABLE executions (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    schedule_id      uuid,
    workflow_id      uuid NOT NULL,
    workflow_run_id  text NOT NULL DEFAULT '',
    scheduled_at     timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    trigger_type     text NOT NULL,
    status           text NOT NULL,
    executed_at      timestamptz,
    completed_at     timestamptz,
    duration_ms      bigint,
    retry_count      integer NOT NULL DEFAULT 0,
    retry_of         uuid,
    error_message    text,
    skipped          boolean NOT NULL DEFAULT false,
    skip_reason      text,
    instance_id      text,
    parameter_values jsonb NOT NULL DEFAULT '{}',
    summary          jsonb,
    forced           boolean NOT NULL DEFAULT false,
    heartbeat_at     timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    created_by       text NOT NULL DEFAULT ''
);
-- One execution per occurrence: the key that makes double claims harmless.
CREATE UNIQUE INDEX executions_occurrence_key ON executions (schedule_id, scheduled_at) WHERE trigger_type IN ('schedule', 'catchup');
CREATE INDEX executions_pending_due_idx ON executions (due_at) WHERE status = 'pending';
CREATE INDEX executions_active_idx ON executions (schedule_id, status) WHERE status IN ('pending', 'running');
CREATE INDEX executions_schedule_history_idx ON executions (schedule_id, scheduled_at DESC, created_at DESC, id DESC);
CREATE INDEX executions_tenant_time_idx ON executions (tenant_id, scheduled_at DESC, created_at DESC, id DESC);
CREATE INDEX executions_finished_idx ON executions (coalesce(completed_at, created_at)) WHERE status IN ('completed', 'failed', 'skipped', 'cancelled');

CREATE TABLE execution_nodes (
    execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL,
    node_id      text NOT NULL,
    node_type    text NOT NULL DEFAULT '',
    status       text NOT NULL,
    started_at   timestamptz,
    completed_at timestamptz,
    duration_ms  bigint,
    features_in  bigint NOT NULL DEFAULT 0,
    features_out bigint NOT NULL DEFAULT 0,
    error        text,
    PRIMARY KEY (execution_id, node_id)
);

CREATE TABLE execution_logs (
    execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL,
    seq          bigint NOT NULL,
    at           timestamptz NOT NULL,
    level        text NOT NULL,
    node_id      text NOT NULL DEFAULT '',
    message      text NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

CREATE TABLE deliveries (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    execution_id     uuid REFERENCES executions (id) ON DELETE CASCADE,
    schedule_id      uuid,
    event            text NOT NULL,
    channel          text NOT NULL,
    target           text NOT NULL,
    masked_target    text NOT NULL,
    payload          bytea,
    status           text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    lease_owner      text,
    lease_until      timestamptz
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_execution_idx ON deliveries (execution_id);

CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor_id    text NOT NULL DEFAULT '',
    actor       text NOT NULL DEFAULT '',
    action      text NOT NULL,
    object_type text NOT NULL DEFAULT '',
    object_id   text NOT NULL DEFAULT '',
    before_json json,
    after_json  json,
    at          timestamptz NOT NULL
);
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
