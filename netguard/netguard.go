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
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/idna"
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
// and the host when it is a literal IP address or a loopback name. Names
// are checked again on the resolved address when a request is made.
//
// The host is read the way resolvers and browsers read it, so spellings
// of a private address are refused as the address itself: any case, a
// trailing dot ("LOCALHOST.", "localhost."), IDNA full-width forms, and
// the numeric IPv4 forms of inet_aton and the WHATWG URL standard
// ("2130706433", "127.1", "0x7f.1", "0177.0.0.1"); IPv4-mapped IPv6
// ("[::ffff:127.0.0.1]") is unmapped.
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
	addr, name, err := NormalizeHost(host)
	if err != nil {
		return err
	}
	if addr.IsValid() {
		return p.CheckAddr(addr)
	}
	if isLoopbackName(name) {
		return fmt.Errorf("%w: %s is a loopback host name (see --allow-private-urls)", ErrForbiddenAddress, host)
	}
	return nil
}

// NormalizeHost reads a URL's host as a resolver would: an IP address
// (in any notation the C library or a browser accepts), or else a host
// name in lower-case ASCII without its trailing dot.
func NormalizeHost(host string) (netip.Addr, string, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.WithZone("").Unmap(), "", nil
	}
	name := strings.ToLower(host)
	if ascii, err := idna.Lookup.ToASCII(name); err == nil {
		name = ascii
	}
	name = strings.TrimRight(name, ".")
	if a, err := netip.ParseAddr(name); err == nil {
		return a.WithZone("").Unmap(), "", nil
	}
	labels := strings.Split(name, ".")
	if last := labels[len(labels)-1]; last != "" && isNumericLabel(last) {
		// The WHATWG URL standard reads a host whose last label is a
		// number as IPv4, as inet_aton does; if that fails, the URL is
		// invalid (a browser would refuse it).
		a, ok := parseInetAton(labels)
		if !ok {
			return netip.Addr{}, "", fmt.Errorf("host %q is not a valid IPv4 address", host)
		}
		return a, "", nil
	}
	return netip.Addr{}, name, nil
}

func isLoopbackName(name string) bool {
	switch name {
	case "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "localhost6", "localhost6.localdomain6":
		return true
	}
	return strings.HasSuffix(name, ".localhost")
}

// isNumericLabel reports whether a label is a number in inet_aton's
// notations: decimal, octal (leading 0) or hexadecimal (0x).
func isNumericLabel(l string) bool {
	_, ok := parseAtonPart(l)
	if ok {
		return true
	}
	// Digits only but too large still means "meant as a number".
	return strings.TrimLeft(l, "0123456789") == "" || (strings.HasPrefix(l, "0x") && strings.TrimLeft(l[2:], "0123456789abcdef") == "")
}

func parseAtonPart(l string) (uint64, bool) {
	base := 10
	switch {
	case strings.HasPrefix(l, "0x"):
		base, l = 16, l[2:]
		if l == "" {
			return 0, true // "0x" is 0 in the URL standard
		}
	case len(l) > 1 && l[0] == '0':
		base, l = 8, l[1:]
	}
	if l == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(l, base, 64)
	return n, err == nil
}

// parseInetAton reads 1 to 4 numeric parts: a.b.c.d, a.b.c (c is 16
// bits), a.b (b is 24 bits) or a (32 bits).
func parseInetAton(labels []string) (netip.Addr, bool) {
	if len(labels) > 4 {
		return netip.Addr{}, false
	}
	parts := make([]uint64, len(labels))
	for i, l := range labels {
		n, ok := parseAtonPart(l)
		if !ok {
			return netip.Addr{}, false
		}
		parts[i] = n
	}
	for _, n := range parts[:len(parts)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
	}
	last := parts[len(parts)-1]
	if last >= 1<<(8*(5-len(parts))) {
		return netip.Addr{}, false
	}
	v := uint32(last)
	for i, n := range parts[:len(parts)-1] {
		v |= uint32(n) << (24 - 8*i)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
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
