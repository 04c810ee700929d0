// Package redact removes from system-made text what a tenant's users must
// not read: the server's network addresses, the connection details of
// databases it reaches and its file system layout. Execution errors, node
// errors, run logs and notification errors are shown to every viewer of
// the tenant, so they pass through here when they are recorded.
package redact

import (
	"regexp"
	"strings"
)

var (
	// " on 10.0.0.2:53" names the DNS server in Go's resolver errors.
	resolverPart = regexp.MustCompile(` on \[?[0-9A-Fa-f:.]+\]?:\d+`)
	ipv4Addr     = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`)
	ipv6Addr     = regexp.MustCompile(`\[[0-9A-Fa-f:.%a-z]*:[0-9A-Fa-f:.%a-z]*\](:\d+)?|\b([0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(%[0-9A-Za-z]+)?`)
	// PostgreSQL URLs, whole: host, user, database and options.
	pgURL = regexp.MustCompile(`(?i)\bpostgres(ql)?://[^\s"'` + "`" + `]*`)
	// Other URLs' user information (user:password@).
	urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/\s"'@` + "`" + `]*@`)
	// libpq/pgx key=value connection settings, as in pgx's
	// "failed to connect to `user=geo database=gis`".
	connSetting = regexp.MustCompile(`(?i)\b(user|password|host|hostaddr|dbname|database|port|sslmode|sslcert|sslkey|sslrootcert|passfile)=("[^"]*"|'[^']*'|[^\s` + "`" + `'"]+)`)
	// Absolute file paths of two or more segments, after a delimiter.
	absPath = regexp.MustCompile(`(^|[\s"'(=:\x60])(/[A-Za-z0-9._@+~-]+){2,}/?`)
)

// Addresses replaces literal IP addresses (with their ports) and the DNS
// server part of resolver errors by "(address)", keeping host names.
func Addresses(msg string) string {
	msg = resolverPart.ReplaceAllString(msg, "")
	msg = ipv6Addr.ReplaceAllStringFunc(msg, func(s string) string {
		// Times such as 12:30:00 look like IPv6 without brackets.
		if !strings.HasPrefix(s, "[") && !strings.Contains(s, "::") && strings.Count(s, ":") < 4 {
			return s
		}
		return "(address)"
	})
	return ipv4Addr.ReplaceAllString(msg, "(address)")
}

// SystemText applies Addresses and also hides database URLs and
// connection settings, the credentials in other URLs, and absolute paths
// on the server (paths in the data folder are relative, and stay).
func SystemText(msg string) string {
	if !mayHoldSystemDetails(msg) {
		// Every run logs a line or two, and the expressions below cost
		// microseconds each even when nothing matches; on the no-op runs
		// of every-second schedules that was most of a run's CPU before
		// its start, and so of its lateness.
		return msg
	}
	msg = pgURL.ReplaceAllString(msg, "postgres://…")
	msg = urlUserinfo.ReplaceAllString(msg, "$1…@")
	msg = connSetting.ReplaceAllString(msg, "$1=…")
	msg = absPath.ReplaceAllString(msg, "$1(server path)")
	return Addresses(msg)
}

// mayHoldSystemDetails reports whether any expression of SystemText can
// match msg: each needs a colon (addresses, URLs), a slash (paths), an
// equals sign (connection settings) or a digit (IPv4 addresses).
func mayHoldSystemDetails(msg string) bool {
	return strings.ContainsAny(msg, ":/=0123456789")
}
