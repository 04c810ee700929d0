package geoetl

import (
	"fmt"
	"strings"
	"time"
)

// Names of the per-tenant limits. Errors, the limits endpoint and the
// configuration all use them, so a caller can tell which one it hit.
const (
	LimitMaxRuns      = "tenant-max-runs"      // concurrent runs of one tenant
	LimitMaxSchedules = "tenant-max-schedules" // schedules of one tenant
	LimitMinInterval  = "min-interval"         // shortest time between two occurrences of one schedule
)

// TenantLimits are the limits every tenant of an install works within. A
// zero value means no limit (tests and embedded uses); the server always
// sets finite ones.
type TenantLimits struct {
	MaxRuns      int
	MaxSchedules int
	MinInterval  time.Duration
}

// OverLimit is the error for a request that would take a tenant over one
// of its limits: EFORBIDDEN (403), with a message that starts with the
// limit's name so clients and people can tell which limit it was.
func OverLimit(limit, format string, args ...any) *Error {
	return &Error{Code: EFORBIDDEN, Message: limit + ": " + fmt.Sprintf(format, args...)}
}

// WaitingForTenantPrefix starts the wait reason of a run held back by its
// tenant's limit of concurrent runs.
const WaitingForTenantPrefix = "waiting for tenant run limit"

// TenantWaitReason is the wait reason of a run held back by its tenant's
// limit of concurrent runs, with the count seen when it was held back.
func TenantWaitReason(running, limit int) string {
	return fmt.Sprintf("%s (%d of %d running)", WaitingForTenantPrefix, running, limit)
}

// IsOverLimit reports whether err is an OverLimit error.
func IsOverLimit(err error) bool {
	if ErrorCode(err) != EFORBIDDEN {
		return false
	}
	msg := ErrorMessage(err)
	for _, l := range []string{LimitMaxRuns, LimitMaxSchedules, LimitMinInterval} {
		if strings.HasPrefix(msg, l+": ") {
			return true
		}
	}
	return false
}
