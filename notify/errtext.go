package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"regexp"
	"strings"
	"syscall"

	"github.com/geoetl/geoetl/netguard"
)

// describeError words a delivery error for the record, which every viewer
// of the tenant can read: what went wrong and with which host name, but
// not the addresses the name resolved to, the DNS server that answered or
// the local end of the connection, which tell an outsider how the
// server's network is laid out.
func describeError(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		switch {
		case dnsErr.IsNotFound:
			return "could not resolve host " + dnsErr.Name + ": no such host"
		case dnsErr.IsTimeout:
			return "could not resolve host " + dnsErr.Name + ": the DNS lookup timed out"
		}
		return "could not resolve host " + dnsErr.Name
	case netguard.IsForbidden(err):
		return "address not allowed: the host resolves to a loopback, link-local or private address (see --allow-private-urls)"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return "TLS handshake failed: the server did not answer with TLS"
	}
	return stripAddresses(err.Error())
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Literal addresses in any other message: "dial tcp 10.0.0.5:443",
// "lookup x on 10.0.0.2:53", "[fd00::1]:25", "read tcp 1.2.3.4:5->...".
var (
	resolverPart = regexp.MustCompile(` on \[?[0-9A-Fa-f:.]+\]?:\d+`)
	ipv4Addr     = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`)
	ipv6Addr     = regexp.MustCompile(`\[[0-9A-Fa-f:.%a-z]*:[0-9A-Fa-f:.%a-z]*\](:\d+)?|\b([0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(%[0-9A-Za-z]+)?`)
)

func stripAddresses(msg string) string {
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
