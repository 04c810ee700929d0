package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"syscall"

	"github.com/geoetl/geoetl/netguard"
	"github.com/geoetl/geoetl/redact"
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
	return redact.SystemText(err.Error())
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
