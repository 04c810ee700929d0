package geoetl

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes are the small, closed set of failure kinds the application
// reports. The HTTP layer maps each one to a status code in one place; the
// CLI maps them to exit codes. Anything that is not an *Error is internal.
const (
	EINVALID      = "invalid"      // the caller sent something wrong (400)
	ENOTFOUND     = "not_found"    // no such object for this tenant (404)
	ECONFLICT     = "conflict"     // stale version, duplicate name, object in use (409)
	EUNAUTHORIZED = "unauthorized" // no or bad credentials (401)
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed (403)
	ETOOLARGE     = "too_large"    // body or value over a size limit (413)
	ERATELIMIT    = "rate_limited" // too many requests (429)
	EUNAVAILABLE  = "unavailable"  // a dependency is down; try again (503)
	EINTERNAL     = "internal"     // a fault of ours (500)
)

// Error is an application error with a code, a human message and, for
// validation failures, the messages for each bad field keyed by the field's
// JSON name ("cronExpression", "notificationConfig.webhookUrls[1]").
type Error struct {
	Code    string
	Message string
	Fields  map[string][]string
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(e.Fields[k], "; "))
	}
	if e.Message == "" {
		return strings.Join(parts, ", ")
	}
	return e.Message + ": " + strings.Join(parts, ", ")
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for errors that are not
// application errors, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of an application error, and a
// generic text for internal errors so that details never leak to callers.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorFields returns the per-field messages of a validation error, or nil.
func ErrorFields(err error) map[string][]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// IsNotFound reports whether err is an ENOTFOUND application error.
func IsNotFound(err error) bool { return ErrorCode(err) == ENOTFOUND }

// IsConflict reports whether err is an ECONFLICT application error.
func IsConflict(err error) bool { return ErrorCode(err) == ECONFLICT }

// FieldErrors collects validation messages per field and turns them into
// one EINVALID *Error, so a caller learns about every bad field at once.
type FieldErrors map[string][]string

// Add records a message for a field.
func (f FieldErrors) Add(field, format string, args ...any) {
	f[field] = append(f[field], fmt.Sprintf(format, args...))
}

// Err returns nil when no field failed, else an EINVALID *Error.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "Validation failed.", Fields: map[string][]string(f)}
}

// NotFound returns the ENOTFOUND error for an object kind, worded the same
// whether the object never existed or belongs to another tenant.
func NotFound(kind string) *Error {
	return &Error{Code: ENOTFOUND, Message: kind + " not found."}
}
