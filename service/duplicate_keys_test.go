package service

import (
	"testing"

	"github.com/geoetl/geoetl"
)

func TestCheckJSONText_RefusesDuplicateKeysNamingThem(t *testing.T) {
	for _, tc := range []struct{ in, field string }{
		{`{"name":"a","name":"b"}`, "name"},
		{`{"notificationConfig":{"notifyOnFailure":true,"notifyOnFailure":false}}`, "notificationConfig.notifyOnFailure"},
		{`{"tags":[{"a":1},{"b":1,"b":2}]}`, "tags.1.b"},
		{`{"n\u0061me":"a","name":"b"}`, "name"},
		{`{"parameterValues":{"x":{"y":1,"y":1}}}`, "parameterValues.x.y"},
	} {
		err := CheckJSONText([]byte(tc.in))
		if geoetl.ErrorFields(err)[tc.field] == nil {
			t.Errorf("%s: %v, want an error on %s", tc.in, err, tc.field)
		}
		if _, err := ParseObject([]byte(tc.in)); geoetl.ErrorFields(err)[tc.field] == nil {
			t.Errorf("ParseObject(%s): %v", tc.in, err)
		}
	}
	for _, ok := range []string{`{"a":1,"b":{"a":2}}`, `[{"a":1},{"a":2}]`, `{"a":`, `{}{}`} {
		if err := checkDuplicateKeys([]byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
