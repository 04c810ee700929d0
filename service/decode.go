package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/geoetl/geoetl"
)

// ScheduleExtras are the fields of a schedule document that are not part
// of the update itself.
type ScheduleExtras struct {
	TenantID     *string // must equal the caller's tenant when present
	WorkflowName string  // import may name the workflow instead of its id
}

// DecodeScheduleJSON turns a schedule JSON object (create, update or an
// import item) into a partial update. Only the fields present are set;
// unknown and read-only fields are ignored. Every field with the wrong
// type is reported by its JSON name, all at once.
func DecodeScheduleJSON(raw []byte) (geoetl.ScheduleUpdate, ScheduleExtras, error) {
	var upd geoetl.ScheduleUpdate
	var extra ScheduleExtras
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil || m == nil {
		return upd, extra, invalid("body", "must be a JSON object")
	}
	d := decoder{fields: m, fe: geoetl.FieldErrors{}}
	upd.WorkflowID = d.str("workflowId")
	upd.Name = d.str("name")
	upd.Description = d.str("description")
	upd.CronExpression = d.str("cronExpression")
	upd.Timezone = d.str("timezone")
	upd.Enabled = d.boolean("enabled")
	if s := d.str("status"); s != nil {
		st := geoetl.ScheduleStatus(*s)
		upd.Status = &st
	}
	if v, ok := d.nullable("statusReason"); ok {
		var sp *string
		if v != nil {
			sp = d.strFrom("statusReason", v)
		}
		upd.StatusReason = &sp
	}
	if v, ok := m["parameterValues"]; ok {
		var pv map[string]any
		if string(v) == "null" {
			pv = map[string]any{}
		} else if err := json.Unmarshal(v, &pv); err != nil || pv == nil {
			d.fe.Add("parameterValues", "must be a JSON object")
		}
		if pv != nil {
			upd.ParameterValues = &pv
		}
	}
	if v, ok := m["tags"]; ok {
		var tags []string
		if string(v) != "null" {
			if err := json.Unmarshal(v, &tags); err != nil {
				d.fe.Add("tags", "must be an array of strings")
			}
		}
		if tags == nil {
			tags = []string{}
		}
		upd.Tags = &tags
	}
	upd.MaxConcurrentExecutions = d.integer("maxConcurrentExecutions")
	if s := d.str("overlapPolicy"); s != nil {
		p := geoetl.OverlapPolicy(*s)
		upd.OverlapPolicy = &p
	}
	if s := d.str("misfirePolicy"); s != nil {
		p := geoetl.MisfirePolicy(*s)
		upd.MisfirePolicy = &p
	}
	upd.CatchupWindowMinutes = d.integer("catchupWindowMinutes")
	upd.RetryAttempts = d.integer("retryAttempts")
	upd.RetryDelayMinutes = d.integer("retryDelayMinutes")
	if s := d.str("retryBackoff"); s != nil {
		b := geoetl.RetryBackoff(*s)
		upd.RetryBackoff = &b
	}
	upd.MaxRetryDelayMinutes = d.integer("maxRetryDelayMinutes")
	if v, ok := d.nullable("timeoutMinutes"); ok {
		var ip *int
		if v != nil {
			ip = d.intFrom("timeoutMinutes", v)
		}
		upd.TimeoutMinutes = &ip
	}
	if v, ok := d.nullable("expiresAt"); ok {
		var tp *time.Time
		if v != nil {
			tp = d.timeFrom("expiresAt", v)
		}
		upd.ExpiresAt = &tp
	}
	if v, ok := m["notificationConfig"]; ok {
		nc := geoetl.NotificationConfig{EmailAddresses: []string{}, WebhookURLs: []string{}}
		if string(v) != "null" {
			if err := json.Unmarshal(v, &nc); err != nil {
				d.fe.Add("notificationConfig", "must be an object with notifyOnSuccess, notifyOnFailure, emailAddresses, webhookUrls, slackWebhookUrl, teamsWebhookUrl: %s", jsonProblem(err))
			}
		}
		upd.NotificationConfig = &nc
	}
	if v := d.integer("version"); v != nil {
		upd.ExpectedVersion = v
	}
	extra.TenantID = d.str("tenantId")
	if s := d.str("workflowName"); s != nil {
		extra.WorkflowName = *s
	}
	return upd, extra, d.fe.Err()
}

type decoder struct {
	fields map[string]json.RawMessage
	fe     geoetl.FieldErrors
}

// nullable reports whether the field is present, and its raw value or nil
// for JSON null.
func (d decoder) nullable(name string) (json.RawMessage, bool) {
	v, ok := d.fields[name]
	if !ok {
		return nil, false
	}
	if string(bytes.TrimSpace(v)) == "null" {
		return nil, true
	}
	return v, true
}

func (d decoder) present(name string) (json.RawMessage, bool) {
	v, ok := d.nullable(name)
	if ok && v == nil {
		d.fe.Add(name, "must not be null")
		return nil, false
	}
	return v, ok
}

func (d decoder) str(name string) *string {
	v, ok := d.present(name)
	if !ok {
		return nil
	}
	return d.strFrom(name, v)
}

func (d decoder) strFrom(name string, v json.RawMessage) *string {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		d.fe.Add(name, "must be a string")
		return nil
	}
	return &s
}

func (d decoder) boolean(name string) *bool {
	v, ok := d.present(name)
	if !ok {
		return nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		d.fe.Add(name, "must be true or false")
		return nil
	}
	return &b
}

func (d decoder) integer(name string) *int {
	v, ok := d.present(name)
	if !ok {
		return nil
	}
	return d.intFrom(name, v)
}

func (d decoder) intFrom(name string, v json.RawMessage) *int {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1e9 {
		d.fe.Add(name, "must be an integer")
		return nil
	}
	i := int(f)
	return &i
}

func (d decoder) timeFrom(name string, v json.RawMessage) *time.Time {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		d.fe.Add(name, "must be an RFC 3339 time string")
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fe.Add(name, "must be an RFC 3339 time, e.g. 2027-01-31T23:00:00Z")
		return nil
	}
	t = t.UTC()
	return &t
}

func jsonProblem(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("%s must be %s", te.Field, te.Type)
	}
	return err.Error()
}
