package service

import (
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
)

func TestCheckJSONText(t *testing.T) {
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"Plain", `{"a":"b"}`, true},
		{"EscapedQuoteAndBackslash", `{"a":"\"\\u0000\\"}`, true},
		{"PairedSurrogates", `{"a":"\ud83d\ude00"}`, true},
		{"UppercaseHexPair", `{"a":"\uD83D\uDE00"}`, true},
		{"OtherEscapes", `{"a":"\n\t\u00e9\u20ac"}`, true},
		{"RawUTF8", `{"a":"grüße 😀"}`, true},
		{"NUL", `{"a":"x\u0000"}`, false},
		{"LoneHigh", `{"a":"\ud800"}`, false},
		{"HighThenText", `{"a":"\ud800abcdef"}`, false},
		{"HighThenHigh", `{"a":"\ud800\ud800"}`, false},
		{"LoneLow", `{"a":"\udc00"}`, false},
		{"InvalidUTF8", "{\"a\":\"\xff\"}", false},
		{"TruncatedEscape", `{"a":"\u12`, true}, // left to the JSON parser
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckJSONText([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("CheckJSONText(%s) = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && len(geoetl.ErrorFields(err)["body"]) == 0 {
				t.Fatalf("error does not name the body: %v", err)
			}
		})
	}
}

func TestParseObject_RefusesWhatIsNotOneObject(t *testing.T) {
	for _, in := range []string{``, ` `, `null`, `[]`, `"x"`, `1`, `{`, `{"a":1}{}`, `{"a":1} x`, strings.Repeat("[", 100000)} {
		if _, err := ParseObject([]byte(in)); geoetl.ErrorCode(err) != geoetl.EINVALID || len(geoetl.ErrorFields(err)["body"]) == 0 {
			t.Errorf("ParseObject(%.20q) = %v, want EINVALID naming body", in, err)
		}
	}
	if _, err := ParseObject([]byte(" {\"a\":1}\n")); err != nil {
		t.Errorf("white space around an object: %v", err)
	}
}

func TestObject_TypedReadersNameEachBadField(t *testing.T) {
	o, err := ParseObject([]byte(`{"s":1,"b":"true","i":1.5,"big":1e12,"t":"2027-13-01T00:00:00Z","m":[1],"l":"a","n":null,
		"ns":null,"ni":null,"nt":null,"ok":"fine","oki":-3,"okt":"2027-01-31T23:00:00+01:00"}`))
	if err != nil {
		t.Fatal(err)
	}
	o.String("s")
	o.Bool("b")
	o.Int("i")
	o.Int("big")
	o.Time("t")
	o.Map("m")
	o.Strings("l")
	o.String("n")
	if s := o.String("ok"); s == nil || *s != "fine" {
		t.Errorf("String(ok) = %v", s)
	}
	if i := o.Int("oki"); i == nil || *i != -3 {
		t.Errorf("Int(oki) = %v", i)
	}
	if tm := o.Time("okt"); tm == nil || tm.Format("2006-01-02T15:04:05Z07:00") != "2027-01-31T22:00:00Z" {
		t.Errorf("Time(okt) = %v, want it in UTC", tm)
	}
	if p := o.NullableString("ns"); p == nil || *p != nil {
		t.Errorf("NullableString(null) = %v, want a pointer to nil", p)
	}
	if p := o.NullableInt("ni"); p == nil || *p != nil {
		t.Errorf("NullableInt(null) = %v", p)
	}
	if p := o.NullableTime("nt"); p == nil || *p != nil {
		t.Errorf("NullableTime(null) = %v", p)
	}
	if p := o.String("absent"); p != nil || o.Has("absent") {
		t.Errorf("absent field read as %v", p)
	}
	fields := geoetl.ErrorFields(o.Err())
	for _, f := range []string{"s", "b", "i", "big", "t", "m", "l", "n"} {
		if len(fields[f]) == 0 {
			t.Errorf("no error for %s: %v", f, fields)
		}
	}
	for _, f := range []string{"ok", "oki", "okt", "ns", "ni", "nt"} {
		if len(fields[f]) != 0 {
			t.Errorf("unexpected error for %s: %v", f, fields[f])
		}
	}
}

func TestParseTime_RefusesYearsOutsideRFC3339(t *testing.T) {
	for _, s := range []string{"0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "2027-02-30T00:00:00Z", "2027-01-01", "2027-01-01T00:00:00"} {
		if _, err := ParseTime(s); err == nil {
			t.Errorf("ParseTime(%q) accepted", s)
		}
	}
	if tm, err := ParseTime("2027-06-01T12:00:00.123456+02:00"); err != nil || tm.Location().String() != "UTC" || tm.Hour() != 10 {
		t.Errorf("ParseTime with offset = %v, %v", tm, err)
	}
}

func TestDecodeScheduleJSON(t *testing.T) {
	upd, extra, err := DecodeScheduleJSON([]byte(`{"name":"n","timeoutMinutes":null,"expiresAt":"2027-01-01T00:00:00Z",
		"statusReason":null,"tags":null,"parameterValues":null,"notificationConfig":{"notifyOnFailure":true,"slackWebhookUrl":null},
		"version":3,"tenantId":"t","workflowName":"w","unknown":{"x":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if *upd.Name != "n" || upd.TimeoutMinutes == nil || *upd.TimeoutMinutes != nil || (*upd.ExpiresAt).Year() != 2027 {
		t.Errorf("scalars: %+v", upd)
	}
	if upd.Tags == nil || len(*upd.Tags) != 0 || upd.ParameterValues == nil || len(*upd.ParameterValues) != 0 {
		t.Errorf("null collections should read as empty: %+v %+v", upd.Tags, upd.ParameterValues)
	}
	if nc := upd.NotificationConfig; nc == nil || !nc.NotifyOnFailure || nc.WebhookURLs == nil || nc.EmailAddresses == nil {
		t.Errorf("notification config: %+v", nc)
	}
	if *upd.ExpectedVersion != 3 || *extra.TenantID != "t" || extra.WorkflowName != "w" {
		t.Errorf("version and extras: %v %+v", upd.ExpectedVersion, extra)
	}
	if upd.CronExpression != nil || upd.Enabled != nil {
		t.Errorf("absent fields set: %+v", upd)
	}

	_, _, err = DecodeScheduleJSON([]byte(`{"name":null,"enabled":1,"notificationConfig":{"webhookUrls":"x","notifyOnSuccess":0},"expiresAt":5}`))
	fields := geoetl.ErrorFields(err)
	for _, f := range []string{"name", "enabled", "notificationConfig.webhookUrls", "notificationConfig.notifyOnSuccess", "expiresAt"} {
		if len(fields[f]) == 0 {
			t.Errorf("no error for %s: %v", f, fields)
		}
	}
}

func TestParseWorkflowInput_BothShapes(t *testing.T) {
	bare := `{"metadata":{"name":"From metadata","description":"d"},"nodes":[]}`
	in, err := ParseWorkflowInput([]byte(bare))
	if err != nil || *in.Name != "From metadata" || *in.Description != "d" || string(in.Definition) != bare {
		t.Fatalf("bare: %+v %v", in, err)
	}
	in, err = ParseWorkflowInput([]byte(`{"name":"Env","definition":{"nodes":[]},"version":2,"tenantId":"x"}`))
	if err != nil || *in.Name != "Env" || string(in.Definition) != `{"nodes":[]}` || *in.ExpectedVersion != 2 || *in.TenantID != "x" {
		t.Fatalf("envelope: %+v %v", in, err)
	}
	in, err = ParseWorkflowInput([]byte(`{"name":"Only a rename"}`))
	if err != nil || in.Definition != nil {
		t.Fatalf("no definition: %+v %v", in, err)
	}
	_, err = ParseWorkflowInput([]byte(`{"name":1,"definition":[],"metadata":{"name":2}}`))
	fields := geoetl.ErrorFields(err)
	for _, f := range []string{"name", "definition"} {
		if len(fields[f]) == 0 {
			t.Errorf("no error for %s: %v", f, fields)
		}
	}
	_, err = ParseWorkflowInput([]byte(`{"metadata":{"name":2},"nodes":[]}`))
	if len(geoetl.ErrorFields(err)["metadata.name"]) == 0 {
		t.Errorf("metadata.name type error not reported: %v", err)
	}
}

func TestCheckParameterValues(t *testing.T) {
	declared := []geoetl.WorkflowParameter{
		{Name: "s", Type: "string"}, {Name: "n", Type: "number"}, {Name: "i", Type: "integer"},
		{Name: "b", Type: "boolean"}, {Name: "d", Type: "date"}, {Name: "dt", Type: "datetime"},
		{Name: "any"}, {Name: "req", Type: "string", Required: true},
		{Name: "reqdef", Type: "string", Required: true, DefaultValue: "x"},
	}
	good := map[string]any{"s": "x", "n": 1.5, "i": 2.0, "b": true, "d": "2027-01-31", "dt": "2027-01-31T10:00:00Z", "any": []any{1}, "req": "y"}
	if err := CheckParameterValues(declared, good, "parameterValues"); err != nil {
		t.Fatalf("good values: %v", err)
	}
	templated := map[string]any{"d": "{{run.date}}", "i": "{{parameters.x}}", "req": "y"}
	if err := CheckParameterValues(declared, templated, "parameterValues"); err != nil {
		t.Fatalf("templates are checked at run time: %v", err)
	}
	bad := map[string]any{"s": 1.0, "n": "1", "i": 1.5, "b": "true", "d": "31.01.2027", "dt": "2027-01-31", "zz": 1.0}
	fields := geoetl.ErrorFields(CheckParameterValues(declared, bad, "pv"))
	for _, f := range []string{"pv.s", "pv.n", "pv.i", "pv.b", "pv.d", "pv.dt", "pv.zz", "pv.req"} {
		if len(fields[f]) == 0 {
			t.Errorf("no error for %s: %v", f, fields)
		}
	}
	if len(fields["pv.reqdef"]) != 0 {
		t.Errorf("a required parameter with a default needs no value: %v", fields["pv.reqdef"])
	}
}

func TestChangedFields_IgnoresRuntimeFields(t *testing.T) {
	a := `{"name":"a","cronExpression":"* * * * *","nextRunAt":"2027-01-01T00:00:00Z","version":1,"tags":["a"]}`
	b := `{"name":"a","cronExpression":"0 * * * *","nextRunAt":"2027-01-01T01:00:00Z","version":2,"tags":["a","b"],"description":"new"}`
	if got := strings.Join(changedFields([]byte(a), []byte(b)), ","); got != "cronExpression,description,tags" {
		t.Fatalf("changed fields = %s", got)
	}
}
