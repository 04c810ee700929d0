package sqlstore

import "testing"

func TestSnapshot_Within(t *testing.T) {
	for _, c := range []struct {
		kept, cur string
		want      bool
	}{
		{"100:105:101,103", "100:105:101,103", true}, // the same snapshot
		{"100:105:101,103", "104:110:106", true},     // 101 and 103 finished since
		{"100:105:101,103", "100:110:101,103,107", true},
		{"100:105:101,103", "100:104:101,103", false}, // cur ends before kept
		{"100:105:101,103", "100:110:102", false},     // kept saw 102 finished, cur does not
		{"100:105:", "99:106:104", false},
		{"100:100:", "100:100:", true},
	} {
		k, err := parseSnapshot(c.kept)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := parseSnapshot(c.cur)
		if err != nil {
			t.Fatal(err)
		}
		if got := k.within(cur); got != c.want {
			t.Errorf("%s within %s = %v, want %v", c.kept, c.cur, got, c.want)
		}
	}
	for _, bad := range []string{"", "1:2", "a:2:", "1:b:", "1:2:x", "1:2:3:4"} {
		if _, err := parseSnapshot(bad); err == nil {
			t.Errorf("parseSnapshot(%q) accepted", bad)
		}
	}
}
