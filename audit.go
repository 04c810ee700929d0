package geoetl

import (
	"encoding/json"
	"time"
)

// AuditEntry records one change: who did what to which object, with the
// object before and after as JSON.
type AuditEntry struct {
	ID         string          `json:"id"`
	TenantID   string          `json:"tenantId"`
	ActorID    string          `json:"actorId"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"` // e.g. schedule.create, schedule.pause, workflow.delete
	ObjectType string          `json:"objectType"`
	ObjectID   string          `json:"objectId"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	At         time.Time       `json:"at"`
}

// AuditFilter selects audit entries of one tenant, newest first.
type AuditFilter struct {
	TenantID   string
	ObjectType string
	ObjectID   string
	Action     string
	Page
}
