-- Tenant quotas. A due pending execution that waits (for its tenant's
-- limit of concurrent runs) says why in wait_reason. The claim counts, per
-- tenant, the runs that hold one of the tenant's slots (running, or
-- claimed by an instance) in every claim transaction that starts one;
-- this index holds only those rows, with the columns the condition reads,
-- so the count reads index entries alone (no row lookups), however many
-- finished executions the tenant has.

-- +goose Up
ALTER TABLE executions ADD COLUMN wait_reason TEXT;
CREATE INDEX executions_tenant_holding_idx ON executions (tenant_id, status, instance_id) WHERE status = 'running' OR (status = 'pending' AND instance_id IS NOT NULL);

-- +goose Down
DROP INDEX executions_tenant_holding_idx;
ALTER TABLE executions DROP COLUMN wait_reason;
