package geoetl

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Workflow is a named, versioned GeoETL definition of one tenant. The
// definition is kept as the JSON the user wrote (the Honua shape); the etl
// package parses, validates and runs it.
type Workflow struct {
	ID          string          `json:"id"`
	TenantID    string          `json:"tenantId"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Definition  json.RawMessage `json:"definition"`
	Version     int             `json:"version"`
	CreatedAt   time.Time       `json:"createdAt"`
	CreatedBy   string          `json:"createdBy"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	UpdatedBy   string          `json:"updatedBy"`
}

// MaxDefinitionBytes bounds a workflow definition.
const MaxDefinitionBytes = 512 << 10

// Validate checks the envelope of a workflow; the definition's own rules
// are checked by a WorkflowEngine.
func (w *Workflow) Validate() error {
	fe := FieldErrors{}
	if n := utf8.RuneCountInString(strings.TrimSpace(w.Name)); n == 0 {
		fe.Add("name", "is required")
	} else if utf8.RuneCountInString(w.Name) > MaxScheduleNameLen {
		fe.Add("name", "must be at most %d characters", MaxScheduleNameLen)
	}
	if utf8.RuneCountInString(w.Description) > MaxDescriptionLen {
		fe.Add("description", "must be at most %d characters", MaxDescriptionLen)
	}
	if len(w.Definition) == 0 {
		fe.Add("definition", "is required")
	} else if len(w.Definition) > MaxDefinitionBytes {
		fe.Add("definition", "must be at most 512 KiB")
	} else if !json.Valid(w.Definition) {
		fe.Add("definition", "must be valid JSON")
	}
	return fe.Err()
}

// WorkflowUpdate is a partial update of a workflow.
type WorkflowUpdate struct {
	Name            *string
	Description     *string
	Definition      *json.RawMessage
	ExpectedVersion *int
}

// WorkflowFilter selects workflows of one tenant.
type WorkflowFilter struct {
	TenantID string
	Q        string
	Page
}

// WorkflowVersion is one kept version of a workflow definition.
type WorkflowVersion struct {
	WorkflowID string          `json:"workflowId"`
	Version    int             `json:"version"`
	Name       string          `json:"name"`
	Definition json.RawMessage `json:"definition"`
	ChangedBy  string          `json:"changedBy"`
	ChangedAt  time.Time       `json:"changedAt"`
}

// RunRequest is what the scheduler hands to a workflow engine for one
// execution.
type RunRequest struct {
	TenantID string
	// TenantName names the tenant's data folder and is what connection
	// grants list; the engine refuses a run without it.
	TenantName  string
	ExecutionID string
	Workflow    *Workflow
	Parameters  map[string]any // schedule or run-now values; the engine applies the workflow's defaults
	ScheduledAt time.Time      // the occurrence, for {{run.scheduledAt}} and {{run.date}}
	Trigger     Trigger
	Recorder    RunRecorder
}

// RunRecorder receives what a run does, as it does it. Implementations
// must be safe for concurrent use and must not block for long: the
// scheduler batches these writes.
type RunRecorder interface {
	Node(NodeRun)
	Log(level, nodeID, message string)
}

// RunSummary is the outcome of a run that the execution keeps.
type RunSummary struct {
	FeaturesRead    int64          `json:"featuresRead"`
	FeaturesWritten int64          `json:"featuresWritten"`
	Extra           map[string]any `json:"-"`
}

// AsMap returns the summary as the execution's summary object.
func (s RunSummary) AsMap() map[string]any {
	m := map[string]any{"featuresRead": s.FeaturesRead, "featuresWritten": s.FeaturesWritten}
	for k, v := range s.Extra {
		m[k] = v
	}
	return m
}

// WorkflowEngine validates and runs workflow definitions. Run must return
// promptly once ctx is done, with ctx.Err() (wrapped or not).
type WorkflowEngine interface {
	// Validate checks a definition; its *Error names each bad node and
	// parameter ("nodes[src].parameters.file_path").
	Validate(definition json.RawMessage) error
	// ValidateFor is Validate plus what depends on the tenant, such as
	// the connections granted to it; saving a workflow uses it.
	ValidateFor(tenantName string, definition json.RawMessage) error
	// Parameters lists the parameters a definition declares, for checking a
	// schedule's parameter values.
	Parameters(definition json.RawMessage) ([]WorkflowParameter, error)
	Run(ctx context.Context, req RunRequest) (RunSummary, error)
}

// WorkflowParameter is one parameter that a workflow declares.
type WorkflowParameter struct {
	Name         string `json:"name"`
	Type         string `json:"type"` // string, number, integer, boolean, date, datetime
	DefaultValue any    `json:"defaultValue"`
	Required     bool   `json:"required"`
	Description  string `json:"description,omitempty"`
}
