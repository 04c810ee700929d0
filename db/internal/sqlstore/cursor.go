package sqlstore

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/geoetl/geoetl"
)

// cursor is a keyset position: the sort it belongs to, the sort key of the
// last row of a page (a string, or a time in unix microseconds, absent for
// NULL) and that row's id. Callers see it as opaque base64.
type cursor struct {
	Sort string `json:"s"`
	Str  string `json:"k,omitempty"`
	Time *int64 `json:"t,omitempty"`
	T2   int64  `json:"u,omitempty"` // a second time key (executions: createdAt)
	ID   string `json:"i"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func badCursor() error {
	return &geoetl.Error{Code: geoetl.EINVALID, Message: "Validation failed.", Fields: map[string][]string{"cursor": {"is not a valid cursor for this list"}}}
}

// decodeCursor parses s and checks it belongs to the given sort.
func decodeCursor(s, sort string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Sort != sort {
		return cursor{}, badCursor()
	}
	id, ok := normID(c.ID)
	if !ok {
		return cursor{}, badCursor()
	}
	c.ID = id
	return c, nil
}

func timeFromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
