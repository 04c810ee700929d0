package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/geoetl/geoetl"
)

// Object is a JSON object from a request body whose fields are read one at
// a time with their types checked. Wrong types are collected per field
// (by JSON name), so a caller learns about every bad field at once; unknown
// fields are ignored. Every reader returns nil for a field that is absent
// or has the wrong type.
type Object struct {
	fields map[string]json.RawMessage
	fe     geoetl.FieldErrors
}

// ParseObject decodes raw as a JSON object. Malformed JSON, anything other
// than an object, and text that the stores cannot keep (see CheckJSONText)
// are EINVALID with the field "body".
func ParseObject(raw []byte) (*Object, error) {
	if err := CheckJSONText(raw); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil {
		return nil, invalid("body", "must be a JSON object: "+jsonSyntaxProblem(err))
	}
	if m == nil {
		return nil, invalid("body", "must be a JSON object")
	}
	if dec.More() {
		return nil, invalid("body", "must hold exactly one JSON object")
	}
	return &Object{fields: m, fe: geoetl.FieldErrors{}}, nil
}

// EmptyObject is an object without fields, for optional bodies left empty.
func EmptyObject() *Object {
	return &Object{fields: map[string]json.RawMessage{}, fe: geoetl.FieldErrors{}}
}

// Err returns the collected type errors as one EINVALID error, or nil.
func (o *Object) Err() error { return o.fe.Err() }

// Fail records a problem with a field found by the caller.
func (o *Object) Fail(field, msg string) { o.fe.Add(field, "%s", msg) }

// Has reports whether the field is present (even as null).
func (o *Object) Has(name string) bool {
	_, ok := o.fields[name]
	return ok
}

// Raw returns the field's raw JSON, nil when absent.
func (o *Object) Raw(name string) json.RawMessage { return o.fields[name] }

// Nullable reports whether the field is present, and its raw value or nil
// for JSON null.
func (o *Object) Nullable(name string) (json.RawMessage, bool) {
	v, ok := o.fields[name]
	if !ok {
		return nil, false
	}
	if string(bytes.TrimSpace(v)) == "null" {
		return nil, true
	}
	return v, true
}

// present returns the field's value when present and not null; null is a
// type error, since the fields read this way have no "unset" value.
func (o *Object) present(name string) (json.RawMessage, bool) {
	v, ok := o.Nullable(name)
	if ok && v == nil {
		o.fe.Add(name, "must not be null")
		return nil, false
	}
	return v, ok
}

// String reads a string field.
func (o *Object) String(name string) *string {
	v, ok := o.present(name)
	if !ok {
		return nil
	}
	return o.StringFrom(name, v)
}

// StringFrom decodes v as a string, reporting problems under name.
func (o *Object) StringFrom(name string, v json.RawMessage) *string {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		o.fe.Add(name, "must be a string")
		return nil
	}
	return &s
}

// NullableString reads a string field that may be null: nil when absent,
// a pointer to nil for null.
func (o *Object) NullableString(name string) **string {
	v, ok := o.Nullable(name)
	if !ok {
		return nil
	}
	var sp *string
	if v != nil {
		if sp = o.StringFrom(name, v); sp == nil {
			return nil
		}
	}
	return &sp
}

// Bool reads a boolean field.
func (o *Object) Bool(name string) *bool {
	v, ok := o.present(name)
	if !ok {
		return nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		o.fe.Add(name, "must be true or false")
		return nil
	}
	return &b
}

// Int reads an integer field (a JSON number without a fraction, within
// ±1e9 so it fits every int the application uses).
func (o *Object) Int(name string) *int {
	v, ok := o.present(name)
	if !ok {
		return nil
	}
	return o.IntFrom(name, v)
}

// IntFrom decodes v as an integer, reporting problems under name.
func (o *Object) IntFrom(name string, v json.RawMessage) *int {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1e9 {
		o.fe.Add(name, "must be an integer")
		return nil
	}
	i := int(f)
	return &i
}

// NullableInt reads an integer field that may be null.
func (o *Object) NullableInt(name string) **int {
	v, ok := o.Nullable(name)
	if !ok {
		return nil
	}
	var ip *int
	if v != nil {
		if ip = o.IntFrom(name, v); ip == nil {
			return nil
		}
	}
	return &ip
}

// Time reads an RFC 3339 time field, returned in UTC.
func (o *Object) Time(name string) *time.Time {
	v, ok := o.present(name)
	if !ok {
		return nil
	}
	return o.TimeFrom(name, v)
}

// TimeFrom decodes v as an RFC 3339 time, reporting problems under name.
func (o *Object) TimeFrom(name string, v json.RawMessage) *time.Time {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		o.fe.Add(name, "must be an RFC 3339 time string")
		return nil
	}
	t, err := ParseTime(s)
	if err != nil {
		o.fe.Add(name, "must be an RFC 3339 time, e.g. 2027-01-31T23:00:00Z")
		return nil
	}
	return &t
}

// NullableTime reads a time field that may be null.
func (o *Object) NullableTime(name string) **time.Time {
	v, ok := o.Nullable(name)
	if !ok {
		return nil
	}
	var tp *time.Time
	if v != nil {
		if tp = o.TimeFrom(name, v); tp == nil {
			return nil
		}
	}
	return &tp
}

// Map reads a JSON object field into a map; null reads as an empty map.
func (o *Object) Map(name string) *map[string]any {
	v, ok := o.Nullable(name)
	if !ok {
		return nil
	}
	m := map[string]any{}
	if v != nil {
		var got map[string]any
		if err := json.Unmarshal(v, &got); err != nil || got == nil {
			o.fe.Add(name, "must be a JSON object")
			return nil
		}
		m = got
	}
	return &m
}

// Strings reads an array of strings; null reads as an empty array.
func (o *Object) Strings(name string) *[]string {
	v, ok := o.Nullable(name)
	if !ok {
		return nil
	}
	out := []string{}
	if v != nil {
		if err := json.Unmarshal(v, &out); err != nil {
			o.fe.Add(name, "must be an array of strings")
			return nil
		}
		if out == nil {
			out = []string{}
		}
	}
	return &out
}

// ParseTime parses an RFC 3339 time (with or without fractional seconds)
// and returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	// Years outside 0-9999 parse but cannot be written back as RFC 3339
	// (and most databases refuse them), so they are refused here.
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, errors.New("year out of range")
	}
	return t.UTC(), nil
}

// CheckJSONText refuses request text that is valid JSON but cannot be kept
// faithfully by both stores: bytes that are not UTF-8, the escape \u0000
// (PostgreSQL text and jsonb cannot hold NUL) and UTF-16 surrogate escapes
// that are not a proper pair. Such input is a client error (400), never a
// database failure (500). A key given twice in one object is refused too,
// naming the key: decoders disagree on which of the two wins, so the
// caller's intent is unknown.
func CheckJSONText(raw []byte) error {
	if !utf8.Valid(raw) {
		return invalid("body", "must be UTF-8 text")
	}
	if err := checkDuplicateKeys(raw); err != nil {
		return err
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // skip the escaped character, which may be a backslash
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case r == 0:
			return invalid("body", `must not contain the character \u0000`)
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := -1, false
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				lo, ok = hex4(raw, i+8)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return invalid("body", "must not contain an unpaired UTF-16 surrogate escape")
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return invalid("body", "must not contain an unpaired UTF-16 surrogate escape")
		default:
			i += 5
		}
	}
	return nil
}

// checkDuplicateKeys refuses an object member name given twice, anywhere
// in the first JSON value of raw; other syntax errors are left to the
// decoder that reads the value, which words them.
func checkDuplicateKeys(raw []byte) error {
	err := jsontext.NewDecoder(bytes.NewReader(raw)).SkipValue()
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) || !errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return nil
	}
	var path []string
	for tok := range se.JSONPointer.Tokens() {
		path = append(path, tok)
	}
	if len(path) == 0 {
		return invalid("body", "has a key given twice")
	}
	return invalid(strings.Join(path, "."), "is given more than once in the same object")
}

// hex4 reads four hex digits at raw[at:].
func hex4(raw []byte, at int) (int, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	v := 0
	for _, c := range raw[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// CheckText refuses a string parameter (a query value, say) that the
// stores cannot keep or compare: not UTF-8, or holding NUL.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return invalid(field, "must be UTF-8 text")
	}
	if strings.ContainsRune(s, 0) {
		return invalid(field, "must not contain the NUL character")
	}
	return nil
}

// jsonSyntaxProblem words a decoding error without Go type names.
func jsonSyntaxProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error() + " at byte " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "got a JSON " + te.Value
	}
	if errors.Is(err, io.EOF) {
		return "the body is empty"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the JSON text ends too early"
	}
	msg := err.Error()
	return strings.TrimPrefix(msg, "json: ")
}
