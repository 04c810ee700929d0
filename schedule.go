package geoetl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/geoetl/geoetl/cron"
)

// ScheduleStatus is where a schedule stands. Only "active" schedules fire,
// and only when they are also enabled.
type ScheduleStatus string

const (
	StatusActive  ScheduleStatus = "active"
	StatusPaused  ScheduleStatus = "paused"
	StatusExpired ScheduleStatus = "expired"
	StatusError   ScheduleStatus = "error"
)

// Valid reports whether s is a known status.
func (s ScheduleStatus) Valid() bool {
	switch s {
	case StatusActive, StatusPaused, StatusExpired, StatusError:
		return true
	}
	return false
}

// OverlapPolicy says what happens when an occurrence comes while the
// schedule already runs its maximum number of executions.
type OverlapPolicy string

const (
	OverlapSkip           OverlapPolicy = "skip"            // record a skipped execution
	OverlapQueue          OverlapPolicy = "queue"           // start when a slot frees; at most one waits
	OverlapCancelPrevious OverlapPolicy = "cancel_previous" // cancel the running one, then start
	OverlapAllow          OverlapPolicy = "allow"           // no limit
)

// Valid reports whether p is a known overlap policy.
func (p OverlapPolicy) Valid() bool {
	switch p {
	case OverlapSkip, OverlapQueue, OverlapCancelPrevious, OverlapAllow:
		return true
	}
	return false
}

// MisfirePolicy says what happens to occurrences that fell due while no
// instance was running.
type MisfirePolicy string

const (
	MisfireRunOnce MisfirePolicy = "run_once" // one catch-up run for the latest missed occurrence
	MisfireSkip    MisfirePolicy = "skip"     // record the missed ones as skipped
	MisfireRunAll  MisfirePolicy = "run_all"  // run each missed one within the catch-up window
)

// Valid reports whether p is a known misfire policy.
func (p MisfirePolicy) Valid() bool {
	switch p {
	case MisfireRunOnce, MisfireSkip, MisfireRunAll:
		return true
	}
	return false
}

// RetryBackoff is how the delay between retries grows.
type RetryBackoff string

const (
	BackoffFixed       RetryBackoff = "fixed"
	BackoffExponential RetryBackoff = "exponential"
)

// Valid reports whether b is a known backoff.
func (b RetryBackoff) Valid() bool { return b == BackoffFixed || b == BackoffExponential }

// Limits from the API contract.
const (
	MaxScheduleNameLen      = 200
	MaxDescriptionLen       = 2000
	MaxParameterValuesBytes = 64 << 10
	MaxConcurrentLimit      = 100
	MaxRetryAttempts        = 20
	MaxRetryDelayMinutes    = 1440
	MaxTimeoutMinutes       = 10080
	MaxCatchupWindowMinutes = 525600
	MaxTags                 = 20
	MaxTagLen               = 50
	DefaultCatchupWindow    = 1440
	DefaultRetryDelay       = 5
	DefaultMaxRetryDelay    = 60
)

// Schedule fires a workflow on a cron timetable in a time zone.
type Schedule struct {
	ID                      string             `json:"id"`
	TenantID                string             `json:"tenantId"`
	WorkflowID              string             `json:"workflowId"`
	Name                    string             `json:"name"`
	Description             string             `json:"description"`
	CronExpression          string             `json:"cronExpression"`
	Timezone                string             `json:"timezone"`
	Enabled                 bool               `json:"enabled"`
	Status                  ScheduleStatus     `json:"status"`
	StatusReason            *string            `json:"statusReason"`
	ParameterValues         map[string]any     `json:"parameterValues"`
	Tags                    []string           `json:"tags"`
	MaxConcurrentExecutions int                `json:"maxConcurrentExecutions"`
	OverlapPolicy           OverlapPolicy      `json:"overlapPolicy"`
	MisfirePolicy           MisfirePolicy      `json:"misfirePolicy"`
	CatchupWindowMinutes    int                `json:"catchupWindowMinutes"`
	RetryAttempts           int                `json:"retryAttempts"`
	RetryDelayMinutes       int                `json:"retryDelayMinutes"`
	RetryBackoff            RetryBackoff       `json:"retryBackoff"`
	MaxRetryDelayMinutes    int                `json:"maxRetryDelayMinutes"`
	TimeoutMinutes          *int               `json:"timeoutMinutes"`
	ExpiresAt               *time.Time         `json:"expiresAt"`
	NotificationConfig      NotificationConfig `json:"notificationConfig"`
	NextRunAt               *time.Time         `json:"nextRunAt"`
	LastRunAt               *time.Time         `json:"lastRunAt"`
	LastRunStatus           *ExecutionStatus   `json:"lastRunStatus"`
	LastRunID               *string            `json:"lastRunId"`
	CreatedAt               time.Time          `json:"createdAt"`
	CreatedBy               string             `json:"createdBy"`
	UpdatedAt               time.Time          `json:"updatedAt"`
	UpdatedBy               string             `json:"updatedBy"`
	Version                 int                `json:"version"`
}

// NewSchedule returns a schedule with every default of the API contract
// set; callers fill in name, workflow and cron expression.
func NewSchedule() *Schedule {
	return &Schedule{
		Timezone:                "UTC",
		Enabled:                 true,
		Status:                  StatusActive,
		ParameterValues:         map[string]any{},
		Tags:                    []string{},
		MaxConcurrentExecutions: 1,
		OverlapPolicy:           OverlapSkip,
		MisfirePolicy:           MisfireRunOnce,
		CatchupWindowMinutes:    DefaultCatchupWindow,
		RetryDelayMinutes:       DefaultRetryDelay,
		RetryBackoff:            BackoffFixed,
		MaxRetryDelayMinutes:    DefaultMaxRetryDelay,
		NotificationConfig:      NotificationConfig{NotifyOnFailure: false, EmailAddresses: []string{}, WebhookURLs: []string{}},
	}
}

// Location returns the schedule's time zone. It only fails for a schedule
// that did not pass Validate.
func (s *Schedule) Location() (*time.Location, error) {
	return LoadLocation(s.Timezone)
}

// Cron parses the schedule's expression.
func (s *Schedule) Cron() (*cron.Expression, error) {
	return cron.Parse(s.CronExpression)
}

// IsActive reports whether the schedule should fire at time now: enabled,
// status active and not past its expiry. (Whether its workflow still exists
// is the store's and the scheduler's concern.)
func (s *Schedule) IsActive(now time.Time) bool {
	return s.Enabled && s.Status == StatusActive && !s.IsExpiredAt(now)
}

// IsExpiredAt reports whether the schedule's expiry has passed at now.
func (s *Schedule) IsExpiredAt(now time.Time) bool {
	return s.ExpiresAt != nil && !now.Before(*s.ExpiresAt)
}

// ComputeNextRun returns the first occurrence strictly after from, or nil
// when the schedule is not active or never fires again before its expiry.
func (s *Schedule) ComputeNextRun(from time.Time) (*time.Time, error) {
	if !s.Enabled || s.Status != StatusActive {
		return nil, nil
	}
	expr, err := s.Cron()
	if err != nil {
		return nil, err
	}
	loc, err := s.Location()
	if err != nil {
		return nil, err
	}
	next := expr.Next(from, loc)
	if next.IsZero() {
		return nil, nil
	}
	if s.ExpiresAt != nil && !next.Before(*s.ExpiresAt) {
		return nil, nil
	}
	next = next.UTC()
	return &next, nil
}

// Validate checks every field against the limits of the API contract and
// reports all bad fields at once, named by their JSON names.
func (s *Schedule) Validate() error {
	fe := FieldErrors{}
	s.validateInto(fe)
	return fe.Err()
}

func (s *Schedule) validateInto(fe FieldErrors) {
	if n := utf8.RuneCountInString(strings.TrimSpace(s.Name)); n == 0 {
		fe.Add("name", "is required")
	} else if utf8.RuneCountInString(s.Name) > MaxScheduleNameLen {
		fe.Add("name", "must be at most %d characters", MaxScheduleNameLen)
	}
	if utf8.RuneCountInString(s.Description) > MaxDescriptionLen {
		fe.Add("description", "must be at most %d characters", MaxDescriptionLen)
	}
	if s.WorkflowID == "" {
		fe.Add("workflowId", "is required")
	} else if !IsUUID(s.WorkflowID) {
		fe.Add("workflowId", "must be a UUID")
	}
	if strings.TrimSpace(s.CronExpression) == "" {
		fe.Add("cronExpression", "is required")
	} else if _, err := cron.Parse(s.CronExpression); err != nil {
		fe.Add("cronExpression", "%s", err.Error())
	}
	if _, err := LoadLocation(s.Timezone); err != nil {
		fe.Add("timezone", "%s", err.Error())
	}
	if !s.Status.Valid() {
		fe.Add("status", "must be one of active, paused, expired, error")
	}
	if s.ParameterValues == nil {
		s.ParameterValues = map[string]any{}
	}
	if b, err := json.Marshal(s.ParameterValues); err != nil {
		fe.Add("parameterValues", "must be a JSON object")
	} else if len(b) > MaxParameterValuesBytes {
		fe.Add("parameterValues", "must be at most 64 KiB of JSON")
	}
	if len(s.Tags) > MaxTags {
		fe.Add("tags", "at most %d tags", MaxTags)
	}
	for i, t := range s.Tags {
		if n := utf8.RuneCountInString(t); n == 0 || n > MaxTagLen {
			fe.Add(fmt.Sprintf("tags[%d]", i), "must be 1-%d characters", MaxTagLen)
		}
	}
	intRange(fe, "maxConcurrentExecutions", s.MaxConcurrentExecutions, 0, MaxConcurrentLimit)
	if !s.OverlapPolicy.Valid() {
		fe.Add("overlapPolicy", "must be one of skip, queue, cancel_previous, allow")
	}
	if !s.MisfirePolicy.Valid() {
		fe.Add("misfirePolicy", "must be one of run_once, skip, run_all")
	}
	intRange(fe, "catchupWindowMinutes", s.CatchupWindowMinutes, 0, MaxCatchupWindowMinutes)
	intRange(fe, "retryAttempts", s.RetryAttempts, 0, MaxRetryAttempts)
	intRange(fe, "retryDelayMinutes", s.RetryDelayMinutes, 0, MaxRetryDelayMinutes)
	if !s.RetryBackoff.Valid() {
		fe.Add("retryBackoff", "must be one of fixed, exponential")
	}
	intRange(fe, "maxRetryDelayMinutes", s.MaxRetryDelayMinutes, 1, MaxRetryDelayMinutes)
	if s.TimeoutMinutes != nil {
		intRange(fe, "timeoutMinutes", *s.TimeoutMinutes, 1, MaxTimeoutMinutes)
	}
	s.NotificationConfig.validateInto(fe, "notificationConfig")
}

func intRange(fe FieldErrors, field string, v, min, max int) {
	if v < min || v > max {
		fe.Add(field, "must be between %d and %d", min, max)
	}
}

// Timeout returns the schedule's time-out as a duration, 0 for none.
func (s *Schedule) Timeout() time.Duration {
	if s.TimeoutMinutes == nil {
		return 0
	}
	return time.Duration(*s.TimeoutMinutes) * time.Minute
}

// ConcurrencyLimit returns how many executions may run at once, 0 meaning
// no limit (maxConcurrentExecutions 0 or the "allow" policy).
func (s *Schedule) ConcurrencyLimit() int {
	if s.OverlapPolicy == OverlapAllow {
		return 0
	}
	return s.MaxConcurrentExecutions
}

// RetryDelay returns how long to wait before retry number attempt (1 for
// the first retry), before jitter: fixed, or doubling per attempt up to
// maxRetryDelayMinutes.
func (s *Schedule) RetryDelay(attempt int) time.Duration {
	base := time.Duration(s.RetryDelayMinutes) * time.Minute
	if s.RetryBackoff != BackoffExponential || attempt <= 1 {
		return base
	}
	limit := time.Duration(s.MaxRetryDelayMinutes) * time.Minute
	d := base
	for i := 1; i < attempt; i++ {
		d *= 2
		if d >= limit {
			return limit
		}
	}
	return d
}

// Clone returns a deep copy, so a caller can change it without touching
// the original (stores and caches hand out copies).
func (s *Schedule) Clone() *Schedule {
	b, _ := json.Marshal(s)
	var c Schedule
	_ = json.Unmarshal(b, &c)
	return &c
}

// ScheduleUpdate is a partial update: nil fields keep their value.
type ScheduleUpdate struct {
	WorkflowID              *string
	Name                    *string
	Description             *string
	CronExpression          *string
	Timezone                *string
	Enabled                 *bool
	Status                  *ScheduleStatus
	StatusReason            **string
	ParameterValues         *map[string]any
	Tags                    *[]string
	MaxConcurrentExecutions *int
	OverlapPolicy           *OverlapPolicy
	MisfirePolicy           *MisfirePolicy
	CatchupWindowMinutes    *int
	RetryAttempts           *int
	RetryDelayMinutes       *int
	RetryBackoff            *RetryBackoff
	MaxRetryDelayMinutes    *int
	TimeoutMinutes          **int
	ExpiresAt               **time.Time
	NotificationConfig      *NotificationConfig

	// ExpectedVersion, when set, makes the update fail with ECONFLICT if
	// the stored version differs (a lost update otherwise).
	ExpectedVersion *int
}

// Apply copies the set fields of u onto s. It does not validate.
func (u *ScheduleUpdate) Apply(s *Schedule) {
	for _, f := range scheduleFields {
		f.apply(u, s)
	}
}

// Fields returns the JSON names of the fields u sets, sorted.
func (u *ScheduleUpdate) Fields() []string {
	out := []string{}
	for _, f := range scheduleFields {
		if f.isSet(u) {
			out = append(out, f.name)
		}
	}
	sort.Strings(out)
	return out
}

// UpdateBetween returns the update that turns was into now: it sets, to
// now's values, the fields in which the two differ. Values compare as
// their JSON, with null and an empty list or object counting as the same,
// so a field nobody touched never shows as changed because one side was
// read from a form and the other from the store.
func UpdateBetween(was, now *Schedule) ScheduleUpdate {
	var u ScheduleUpdate
	for _, f := range scheduleFields {
		if !sameJSON(f.value(was), f.value(now)) {
			f.take(&u, now)
		}
	}
	return u
}

// Diff returns the JSON names of the fields that differ between s and
// other, sorted. Identity and runtime fields (id, next and last run,
// version, who and when) are not compared: they change without anyone
// changing the schedule.
func (s *Schedule) Diff(other *Schedule) []string {
	u := UpdateBetween(s, other)
	return u.Fields()
}

// DefinitionUpdate returns an update setting every field of s's
// definition, which is everything an update can set except its status
// and status reason: restoring a definition does not pause or resume.
func (s *Schedule) DefinitionUpdate() ScheduleUpdate {
	var u ScheduleUpdate
	for _, f := range scheduleFields {
		if !f.state {
			f.take(&u, s)
		}
	}
	return u
}

// scheduleField ties a Schedule field to the ScheduleUpdate field that
// sets it, so applying, diffing and listing updates share one list.
type scheduleField struct {
	name  string // the JSON name
	state bool   // status, not definition
	value func(*Schedule) any
	take  func(*ScheduleUpdate, *Schedule) // set u's field to s's value
	apply func(*ScheduleUpdate, *Schedule) // copy u's field onto s, if set
	isSet func(*ScheduleUpdate) bool
}

func field[T any](name string, sf func(*Schedule) *T, uf func(*ScheduleUpdate) **T) scheduleField {
	return scheduleField{
		name:  name,
		value: func(s *Schedule) any { return *sf(s) },
		take:  func(u *ScheduleUpdate, s *Schedule) { *uf(u) = sf(s) },
		apply: func(u *ScheduleUpdate, s *Schedule) {
			if v := *uf(u); v != nil {
				*sf(s) = *v
			}
		},
		isSet: func(u *ScheduleUpdate) bool { return *uf(u) != nil },
	}
}

func stateField(f scheduleField) scheduleField {
	f.state = true
	return f
}

// scheduleFields lists every field a ScheduleUpdate can set. A new
// schedule field that users may change gets its line here.
var scheduleFields = []scheduleField{
	field("workflowId", func(s *Schedule) *string { return &s.WorkflowID }, func(u *ScheduleUpdate) **string { return &u.WorkflowID }),
	field("name", func(s *Schedule) *string { return &s.Name }, func(u *ScheduleUpdate) **string { return &u.Name }),
	field("description", func(s *Schedule) *string { return &s.Description }, func(u *ScheduleUpdate) **string { return &u.Description }),
	field("cronExpression", func(s *Schedule) *string { return &s.CronExpression }, func(u *ScheduleUpdate) **string { return &u.CronExpression }),
	field("timezone", func(s *Schedule) *string { return &s.Timezone }, func(u *ScheduleUpdate) **string { return &u.Timezone }),
	field("enabled", func(s *Schedule) *bool { return &s.Enabled }, func(u *ScheduleUpdate) **bool { return &u.Enabled }),
	stateField(field("status", func(s *Schedule) *ScheduleStatus { return &s.Status }, func(u *ScheduleUpdate) **ScheduleStatus { return &u.Status })),
	stateField(field("statusReason", func(s *Schedule) **string { return &s.StatusReason }, func(u *ScheduleUpdate) ***string { return &u.StatusReason })),
	field("parameterValues", func(s *Schedule) *map[string]any { return &s.ParameterValues }, func(u *ScheduleUpdate) **map[string]any { return &u.ParameterValues }),
	field("tags", func(s *Schedule) *[]string { return &s.Tags }, func(u *ScheduleUpdate) **[]string { return &u.Tags }),
	field("maxConcurrentExecutions", func(s *Schedule) *int { return &s.MaxConcurrentExecutions }, func(u *ScheduleUpdate) **int { return &u.MaxConcurrentExecutions }),
	field("overlapPolicy", func(s *Schedule) *OverlapPolicy { return &s.OverlapPolicy }, func(u *ScheduleUpdate) **OverlapPolicy { return &u.OverlapPolicy }),
	field("misfirePolicy", func(s *Schedule) *MisfirePolicy { return &s.MisfirePolicy }, func(u *ScheduleUpdate) **MisfirePolicy { return &u.MisfirePolicy }),
	field("catchupWindowMinutes", func(s *Schedule) *int { return &s.CatchupWindowMinutes }, func(u *ScheduleUpdate) **int { return &u.CatchupWindowMinutes }),
	field("retryAttempts", func(s *Schedule) *int { return &s.RetryAttempts }, func(u *ScheduleUpdate) **int { return &u.RetryAttempts }),
	field("retryDelayMinutes", func(s *Schedule) *int { return &s.RetryDelayMinutes }, func(u *ScheduleUpdate) **int { return &u.RetryDelayMinutes }),
	field("retryBackoff", func(s *Schedule) *RetryBackoff { return &s.RetryBackoff }, func(u *ScheduleUpdate) **RetryBackoff { return &u.RetryBackoff }),
	field("maxRetryDelayMinutes", func(s *Schedule) *int { return &s.MaxRetryDelayMinutes }, func(u *ScheduleUpdate) **int { return &u.MaxRetryDelayMinutes }),
	field("timeoutMinutes", func(s *Schedule) **int { return &s.TimeoutMinutes }, func(u *ScheduleUpdate) ***int { return &u.TimeoutMinutes }),
	field("expiresAt", func(s *Schedule) **time.Time { return &s.ExpiresAt }, func(u *ScheduleUpdate) ***time.Time { return &u.ExpiresAt }),
	field("notificationConfig", func(s *Schedule) *NotificationConfig { return &s.NotificationConfig }, func(u *ScheduleUpdate) **NotificationConfig { return &u.NotificationConfig }),
}

// sameJSON compares values as their JSON, so nil and empty collections
// count as the same.
func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	norm := func(b []byte) string {
		switch string(b) {
		case "null", "[]", "{}":
			return ""
		}
		return string(b)
	}
	return norm(ja) == norm(jb)
}

// ChangesTiming reports whether the update can move the next run, so the
// store recomputes next_run_at.
func (u *ScheduleUpdate) ChangesTiming() bool {
	return u.CronExpression != nil || u.Timezone != nil || u.Enabled != nil || u.Status != nil || u.ExpiresAt != nil
}

// ScheduleSort names the orders a schedule list can come in.
type ScheduleSort string

const (
	SortByName      ScheduleSort = "name"
	SortByNextRunAt ScheduleSort = "nextRunAt"
	SortByUpdatedAt ScheduleSort = "updatedAt"
)

// Valid reports whether s is a known sort ("" means by name).
func (s ScheduleSort) Valid() bool {
	switch s {
	case "", SortByName, SortByNextRunAt, SortByUpdatedAt:
		return true
	}
	return false
}

// Page asks for one page of a list: at most Limit items after Cursor (an
// opaque string from a previous page) or, if no cursor, after Offset items.
type Page struct {
	Limit  int
	Cursor string
	Offset int
}

// Default and maximum page sizes of the API contract.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Normalize applies the default and maximum limit.
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultPageLimit
	}
	if p.Limit > MaxPageLimit {
		p.Limit = MaxPageLimit
	}
	if p.Offset < 0 {
		p.Offset = 0
	}
	return p
}

// ScheduleFilter selects schedules of one tenant.
type ScheduleFilter struct {
	TenantID   string
	Q          string // case-insensitive substring of name or description
	Status     ScheduleStatus
	WorkflowID string
	Tag        string
	Sort       ScheduleSort
	Page
}

// ScheduleVersion is one kept version of a schedule's definition.
type ScheduleVersion struct {
	ScheduleID string          `json:"scheduleId"`
	Version    int             `json:"version"`
	Snapshot   json.RawMessage `json:"snapshot"` // the schedule as JSON at that version
	ChangedBy  string          `json:"changedBy"`
	ChangedAt  time.Time       `json:"changedAt"`
}
