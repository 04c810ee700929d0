package service

import (
	"encoding/json"

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
	o, err := ParseObject(raw)
	if err != nil {
		return geoetl.ScheduleUpdate{}, ScheduleExtras{}, err
	}
	return DecodeSchedule(o)
}

// DecodeSchedule is DecodeScheduleJSON for an object already parsed.
func DecodeSchedule(o *Object) (geoetl.ScheduleUpdate, ScheduleExtras, error) {
	var upd geoetl.ScheduleUpdate
	var extra ScheduleExtras
	upd.WorkflowID = o.String("workflowId")
	upd.Name = o.String("name")
	upd.Description = o.String("description")
	upd.CronExpression = o.String("cronExpression")
	upd.Timezone = o.String("timezone")
	upd.Enabled = o.Bool("enabled")
	if s := o.String("status"); s != nil {
		st := geoetl.ScheduleStatus(*s)
		upd.Status = &st
	}
	upd.StatusReason = o.NullableString("statusReason")
	upd.ParameterValues = o.Map("parameterValues")
	upd.Tags = o.Strings("tags")
	upd.MaxConcurrentExecutions = o.Int("maxConcurrentExecutions")
	if s := o.String("overlapPolicy"); s != nil {
		p := geoetl.OverlapPolicy(*s)
		upd.OverlapPolicy = &p
	}
	if s := o.String("misfirePolicy"); s != nil {
		p := geoetl.MisfirePolicy(*s)
		upd.MisfirePolicy = &p
	}
	upd.CatchupWindowMinutes = o.Int("catchupWindowMinutes")
	upd.RetryAttempts = o.Int("retryAttempts")
	upd.RetryDelayMinutes = o.Int("retryDelayMinutes")
	if s := o.String("retryBackoff"); s != nil {
		b := geoetl.RetryBackoff(*s)
		upd.RetryBackoff = &b
	}
	upd.MaxRetryDelayMinutes = o.Int("maxRetryDelayMinutes")
	upd.TimeoutMinutes = o.NullableInt("timeoutMinutes")
	upd.ExpiresAt = o.NullableTime("expiresAt")
	if v, ok := o.Nullable("notificationConfig"); ok {
		if nc := decodeNotificationConfig(o, v); nc != nil {
			upd.NotificationConfig = nc
		}
	}
	upd.ExpectedVersion = o.Int("version")
	extra.TenantID = o.String("tenantId")
	if s := o.String("workflowName"); s != nil {
		extra.WorkflowName = *s
	}
	return upd, extra, o.Err()
}

// decodeNotificationConfig reads the notification object field by field,
// so a wrong type is reported as notificationConfig.<field>. Fields left
// out take their zero value (the object replaces the stored one whole),
// except notifyOnFailure: as in the original system, it defaults to true
// when the object names anyone to notify.
func decodeNotificationConfig(parent *Object, v json.RawMessage) *geoetl.NotificationConfig {
	nc := &geoetl.NotificationConfig{EmailAddresses: []string{}, WebhookURLs: []string{}}
	if v == nil {
		return nc
	}
	o, err := ParseObject(v)
	if err != nil {
		parent.Fail("notificationConfig", "must be a JSON object")
		return nil
	}
	if b := o.Bool("notifyOnSuccess"); b != nil {
		nc.NotifyOnSuccess = *b
	}
	if b := o.Bool("notifyOnFailure"); b != nil {
		nc.NotifyOnFailure = *b
	}
	if l := o.Strings("emailAddresses"); l != nil {
		nc.EmailAddresses = *l
	}
	if l := o.Strings("webhookUrls"); l != nil {
		nc.WebhookURLs = *l
	}
	if p := o.NullableString("slackWebhookUrl"); p != nil {
		nc.SlackWebhookURL = *p
	}
	if p := o.NullableString("teamsWebhookUrl"); p != nil {
		nc.TeamsWebhookURL = *p
	}
	if !o.Has("notifyOnFailure") {
		nc.NotifyOnFailure = len(nc.EmailAddresses) > 0 || len(nc.WebhookURLs) > 0 ||
			nc.SlackWebhookURL != nil && *nc.SlackWebhookURL != "" || nc.TeamsWebhookURL != nil && *nc.TeamsWebhookURL != ""
	}
	if len(o.fe) > 0 {
		for k, msgs := range o.fe {
			for _, m := range msgs {
				parent.Fail("notificationConfig."+k, m)
			}
		}
		return nil
	}
	return nc
}
