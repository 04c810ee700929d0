-- Row-level security backs up the tenant filter of every query. Tenant-scoped
-- transactions switch to the NOLOGIN role geoetl_app and set
-- geoetl.tenant_id for the transaction only; the policies then show that
-- tenant's rows and nothing else (no rows at all when no tenant is set).
-- Cross-tenant work (the scheduler's claims, sign-in lookups, the tenant
-- list) runs as the connecting role, which the policies let through: a
-- superuser bypasses row security anyway, and FORCE plus the
-- current_user test keep the rule the same for a table owner that is not.
--
-- The role belongs to the cluster, not to the database, so its creation
-- tolerates another database of the same cluster creating it at the same
-- moment (the loser sees duplicate_object or unique_violation).

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'geoetl_app') THEN
        CREATE ROLE geoetl_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
-- +goose StatementEnd

-- The connecting role must be allowed to switch to geoetl_app. A superuser
-- always is; anyone else needs membership, which only a role with the
-- right to grant it can give, so a refusal is left to the operator.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'geoetl_app', 'MEMBER') THEN
        EXECUTE format('GRANT geoetl_app TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege OR unique_violation THEN
    RAISE WARNING 'geoetl: could not grant geoetl_app to %: tenant-scoped queries will fail until it is granted', current_user;
END
$$;
-- +goose StatementEnd

GRANT SELECT, INSERT, UPDATE, DELETE ON
    tenants, users, api_tokens, sessions, workflows, workflow_versions, schedules, schedule_versions, executions, execution_nodes, execution_logs, deliveries, audit_log TO geoetl_app;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (current_user <> 'geoetl_app' OR id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_tokens
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE workflows ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workflows
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE workflow_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflow_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workflow_versions
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedules
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE schedule_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedule_versions
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE executions ENABLE ROW LEVEL SECURITY;
ALTER TABLE executions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON executions
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE execution_nodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE execution_nodes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON execution_nodes
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE execution_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE execution_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON execution_logs
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deliveries
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid)
    WITH CHECK (current_user <> 'geoetl_app' OR tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid);

-- +goose Down
DROP POLICY tenant_isolation ON tenants;
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenants DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON users;
ALTER TABLE users NO FORCE ROW LEVEL SECURITY;
ALTER TABLE users DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON api_tokens;
ALTER TABLE api_tokens NO FORCE ROW LEVEL SECURITY;
ALTER TABLE api_tokens DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON sessions;
ALTER TABLE sessions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sessions DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON workflows;
ALTER TABLE workflows NO FORCE ROW LEVEL SECURITY;
ALTER TABLE workflows DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON workflow_versions;
ALTER TABLE workflow_versions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE workflow_versions DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON schedules;
ALTER TABLE schedules NO FORCE ROW LEVEL SECURITY;
ALTER TABLE schedules DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON schedule_versions;
ALTER TABLE schedule_versions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE schedule_versions DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON executions;
ALTER TABLE executions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE executions DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON execution_nodes;
ALTER TABLE execution_nodes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE execution_nodes DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON execution_logs;
ALTER TABLE execution_logs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE execution_logs DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON deliveries;
ALTER TABLE deliveries NO FORCE ROW LEVEL SECURITY;
ALTER TABLE deliveries DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON audit_log;
ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_log DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON tenants, users, api_tokens, sessions, workflows, workflow_versions, schedules, schedule_versions, executions, execution_nodes, execution_logs, deliveries, audit_log FROM geoetl_app;
-- The role stays: other databases of the cluster may use it.
