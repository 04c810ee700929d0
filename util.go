package geoetl

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // every IANA zone works even where the host has no zoneinfo

	"github.com/google/uuid"
)

// NewTimeID returns a time-ordered (version 7) UUID. Rows written at a
// high rate (executions) take these: consecutive ids land on the same
// last page of the primary-key index instead of a random page each, which
// on SQLite is a page written to the WAL per row saved.
func NewTimeID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return NewID()
	}
	return id.String()
}

// NewID returns a random (version 4) UUID.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// IsUUID reports whether s has the textual form of a UUID.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// LoadLocation loads an IANA time zone by name. Unlike time.LoadLocation it
// refuses "" and "Local", whose meaning depends on the host.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return nil, fmt.Errorf("is required")
	}
	if name == "Local" || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, fmt.Errorf("%q is not an IANA time zone", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone", name)
	}
	return loc, nil
}

// Ptr returns a pointer to v, for optional fields.
func Ptr[T any](v T) *T { return &v }
