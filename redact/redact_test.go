package redact

import "testing"

func TestSystemText_HidesServerDetailsAndKeepsTheRest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"connecting to \"warehouse\": failed to connect to `user=geo database=gis`: 10.0.0.5:5432 (db.internal): dial error: connection refused",
			"connecting to \"warehouse\": failed to connect to `user=… database=…`: (address) (db.internal): dial error: connection refused"},
		{"bad DSN postgres://geo:s3cret@db.internal:5432/gis?sslmode=disable here", "bad DSN postgres://… here"},
		{"GET https://user:pw@example.com/a/b.geojson: HTTP 404", "GET https://…@example.com/a/b.geojson: HTTP 404"},
		{"open /var/lib/geoetl/data/acme/in.geojson: permission denied", "open (server path): permission denied"},
		{`"in/parcels.geojson" does not exist in the data folder`, `"in/parcels.geojson" does not exist in the data folder`},
		{"lookup hooks.example on 10.0.0.2:53: no such host", "lookup hooks.example: no such host"},
		{"dial tcp [fd00::5]:443: i/o timeout at 12:30:05", "dial tcp (address): i/o timeout at 12:30:05"},
		{"node out: wrote 1,187 features in 2.5 s", "node out: wrote 1,187 features in 2.5 s"},
	} {
		if got := SystemText(tc.in); got != tc.want {
			t.Errorf("SystemText(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
