package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// The scanners below accept what either driver hands to a sql.Scanner:
// SQLite gives int64 for times and string or []byte for text; pgx gives
// time.Time for timestamptz and string for uuid and JSON.

// toTime converts a scanned time value.
func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case int64:
		return time.UnixMicro(x).UTC(), nil
	case time.Time:
		return x.UTC().Truncate(time.Microsecond), nil
	}
	return time.Time{}, fmt.Errorf("cannot scan %T as a time", v)
}

type timeScan struct{ p *time.Time }

func (s *timeScan) Scan(v any) error {
	if v == nil {
		*s.p = time.Time{}
		return nil
	}
	t, err := toTime(v)
	*s.p = t
	return err
}

type timePtrScan struct{ p **time.Time }

func (s *timePtrScan) Scan(v any) error {
	if v == nil {
		*s.p = nil
		return nil
	}
	t, err := toTime(v)
	if err != nil {
		return err
	}
	*s.p = &t
	return nil
}

// ts scans a NOT NULL time column; tsp a nullable one.
func ts(p *time.Time) *timeScan      { return &timeScan{p} }
func tsp(p **time.Time) *timePtrScan { return &timePtrScan{p} }

func toString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case [16]byte: // a uuid, should a driver hand one over raw
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	}
	return "", fmt.Errorf("cannot scan %T as a string", v)
}

type strScan struct{ p *string }

func (s *strScan) Scan(v any) error {
	if v == nil {
		*s.p = ""
		return nil
	}
	x, err := toString(v)
	*s.p = x
	return err
}

type strPtrScan struct{ p **string }

func (s *strPtrScan) Scan(v any) error {
	if v == nil {
		*s.p = nil
		return nil
	}
	x, err := toString(v)
	if err != nil {
		return err
	}
	*s.p = &x
	return nil
}

// str scans text or uuid into a string ("" for NULL); strp a nullable one.
func str(p *string) *strScan          { return &strScan{p} }
func strp(p **string) *strPtrScan     { return &strPtrScan{p} }
func strpT[T ~string](p **T) *tPtr[T] { return &tPtr[T]{p} }

type tPtr[T ~string] struct{ p **T }

func (s *tPtr[T]) Scan(v any) error {
	if v == nil {
		*s.p = nil
		return nil
	}
	x, err := toString(v)
	if err != nil {
		return err
	}
	t := T(x)
	*s.p = &t
	return nil
}

type intPtrScan struct{ p **int }

func (s *intPtrScan) Scan(v any) error {
	if v == nil {
		*s.p = nil
		return nil
	}
	n, err := toInt64(v)
	if err != nil {
		return err
	}
	i := int(n)
	*s.p = &i
	return nil
}

type int64PtrScan struct{ p **int64 }

func (s *int64PtrScan) Scan(v any) error {
	if v == nil {
		*s.p = nil
		return nil
	}
	n, err := toInt64(v)
	if err != nil {
		return err
	}
	*s.p = &n
	return nil
}

func intp(p **int) *intPtrScan       { return &intPtrScan{p} }
func int64p(p **int64) *int64PtrScan { return &int64PtrScan{p} }

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int:
		return int64(x), nil
	case float64:
		return int64(x), nil
	}
	return 0, fmt.Errorf("cannot scan %T as an integer", v)
}

// rawScan scans JSON or bytes verbatim (nil for NULL).
type rawScan struct{ p *[]byte }

func (s *rawScan) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*s.p = nil
	case string:
		*s.p = []byte(x)
	case []byte:
		*s.p = append([]byte(nil), x...)
	default:
		return fmt.Errorf("cannot scan %T as bytes", v)
	}
	return nil
}

func raw(p *[]byte) *rawScan { return &rawScan{p} }

// rawMsg scans a JSON column into a json.RawMessage.
func rawMsg(p *json.RawMessage) *rawScan { return &rawScan{(*[]byte)(p)} }

// jsonScan decodes a JSON column into v (left untouched for NULL).
type jsonScan struct{ v any }

func (s *jsonScan) Scan(v any) error {
	var b []byte
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return fmt.Errorf("cannot scan %T as JSON", v)
	}
	if scanEmptyJSON(b, s.v) {
		return nil
	}
	return json.Unmarshal(b, s.v)
}

// scanEmptyJSON stores an empty object or array as json.Unmarshal would
// (an empty, non-nil map or slice) without decoding it, and reports
// whether it did. Most schedules and executions have no parameters, tags
// or notifications, and every claim reads them: the decoder's set-up was
// a few microseconds per column and row.
func scanEmptyJSON(b []byte, v any) bool {
	switch p := v.(type) {
	case *map[string]any:
		if string(b) != "{}" {
			return false
		}
		if *p == nil {
			*p = map[string]any{}
		}
		return true
	case *[]string:
		if string(b) != "[]" {
			return false
		}
		if *p == nil {
			*p = []string{}
		} else {
			*p = (*p)[:0]
		}
		return true
	}
	return false
}

func jsonInto(v any) *jsonScan { return &jsonScan{v} }

// jsonArg encodes v as JSON text for a JSON column.
func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// rawArg passes verbatim JSON, or NULL when empty.
func rawArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
