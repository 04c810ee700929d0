package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
)

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

// SystemText leaves text alone without running its expressions when none
// can match; random text over an alphabet that can form every kind of
// detail must come out as the expressions alone make it.
func TestSystemText_ShortcutChangesNothing(t *testing.T) {
	slow := func(msg string) string {
		msg = pgURL.ReplaceAllString(msg, "postgres://…")
		msg = urlUserinfo.ReplaceAllString(msg, "$1…@")
		msg = connSetting.ReplaceAllString(msg, "$1=…")
		msg = absPath.ReplaceAllString(msg, "$1(server path)")
		return Addresses(msg)
	}
	parts := []string{"a", "b", "f", "0", "1", "9", ".", ":", "/", "=", "@", " ", "[", "]", "%", "\"", "'", "`", "(", "-",
		"postgres://", "https://", "user=", "host=", " on ", "10.0.0.2", "fd00::5", "12:30:05", "/var/lib", "the workflow has no nodes; nothing to do"}
	r := rand.New(rand.NewPCG(1, 2))
	shortcuts := 0
	for range 20000 {
		var b strings.Builder
		for range 1 + r.IntN(12) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		msg := b.String()
		if !mayHoldSystemDetails(msg) {
			shortcuts++
		}
		if got, want := SystemText(msg), slow(msg); got != want {
			t.Fatalf("SystemText(%q) = %q, the expressions make %q", msg, got, want)
		}
	}
	if shortcuts == 0 {
		t.Fatal("no text took the shortcut")
	}
}
