// Package netguard keeps outgoing HTTP requests (webhooks, URL sources)
// away from loopback, link-local and private addresses unless the operator
// allowed them. The check runs on the resolved address at connect time, so
// DNS tricks and redirects cannot get around it.
package netguard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned (wrapped) when a connection would reach an
// address that the policy refuses.
var ErrForbiddenAddress = errors.New("address not allowed")

// Policy says which destinations are allowed.
type Policy struct {
	// AllowPrivate lets requests reach loopback, link-local, private and
	// other non-public addresses (the --allow-private-urls switch).
	AllowPrivate bool
}

// IsPublic reports whether addr is a globally routable unicast address.
func IsPublic(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsLoopback() || addr.IsPrivate() ||
		addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() ||
		addr.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// Special-purpose ranges that the netip predicates do not cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 (may map to private IPv4)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4 (embeds IPv4)
	netip.MustParsePrefix("fc00::/7"),        // unique local
}

// CheckAddr returns an error wrapping ErrForbiddenAddress when the policy
// refuses addr.
func (p Policy) CheckAddr(addr netip.Addr) error {
	if p.AllowPrivate || IsPublic(addr) {
		return nil
	}
	return fmt.Errorf("%w: %s is a loopback, link-local or private address (see --allow-private-urls)", ErrForbiddenAddress, addr.Unmap())
}

// CheckURL is the check that can be done when a URL is saved: the scheme,
// and the host when it is a literal IP address or "localhost". Names are
// checked again on the resolved address when a request is made.
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL must start with http:// or https://")
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("URL must have a host")
	}
	if p.AllowPrivate {
		return nil
	}
	if host == "localhost" || len(host) > 10 && host[len(host)-10:] == ".localhost" {
		return fmt.Errorf("%w: %s is a loopback host name (see --allow-private-urls)", ErrForbiddenAddress, host)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(addr)
	}
	return nil
}

// control runs after DNS resolution and before connect, on every address
// the dialer tries, so it sees exactly what the socket will reach.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrForbiddenAddress, address)
	}
	return p.CheckAddr(ap.Addr())
}

// Dialer returns a dialer that refuses forbidden addresses.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.control}
}

// ClientOptions shape an HTTP client made by NewClient.
type ClientOptions struct {
	Timeout      time.Duration // whole request, default 30 s
	MaxRedirects int           // default 5
}

// NewClient returns an HTTP client whose every connection (including after
// redirects) is checked by the policy. It ignores proxy settings from the
// environment, since a proxy would hide the real destination.
func (p Policy) NewClient(opts ClientOptions) *http.Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = 5
	}
	dialer := p.Dialer(10 * time.Second)
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          50,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: opts.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= opts.MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", opts.MaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s URL refused", req.URL.Scheme)
			}
			return nil
		},
	}
}

// ErrTooLarge is returned by LimitedBody when a response exceeds its limit.
var ErrTooLarge = errors.New("response too large")

// LimitedBody wraps r so that reading more than max bytes fails with
// ErrTooLarge instead of silently truncating.
func LimitedBody(r io.Reader, max int64) io.Reader {
	return &limitedReader{r: r, left: max}
}

type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n - 1, ErrTooLarge
	}
	return n, err
}

// IsForbidden reports whether err came from the policy refusing an address.
func IsForbidden(err error) bool { return errors.Is(err, ErrForbiddenAddress) }
