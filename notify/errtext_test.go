package notify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/netguard"
)

// TestDescribeError_KeepsTheCauseAndDropsAddresses checks the wording of
// recorded delivery errors: the useful part stays, internal addresses and
// the DNS server go.
func TestDescribeError_KeepsTheCauseAndDropsAddresses(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 443}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.DNSError{Err: "no such host", Name: "hooks.example", Server: "10.0.0.2:53", IsNotFound: true}, "could not resolve host hooks.example: no such host"},
		{&net.DNSError{Err: "i/o timeout", Name: "hooks.example", Server: "[fd00::53]:53", IsTimeout: true}, "could not resolve host hooks.example: the DNS lookup timed out"},
		{&net.DNSError{Err: "server misbehaving", Name: "hooks.example", Server: "10.0.0.2:53"}, "could not resolve host hooks.example"},
		{refused, "connection refused"},
		{fmt.Errorf("wrapped: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), "connection reset by the server"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, "host unreachable"},
		{fmt.Errorf("%w: 10.1.2.3 is a loopback, link-local or private address", netguard.ErrForbiddenAddress), "address not allowed: the host resolves to a loopback, link-local or private address (see --allow-private-urls)"},
		{errors.New("dial tcp 192.168.7.9:25: something odd, from [fd00::1]:4431 and fe80::1%eth0 at 12:30:00"), "dial tcp (address): something odd, from (address) and (address) at 12:30:00"},
		{errors.New("lookup smtp.internal on 10.0.0.2:53: weird"), "lookup smtp.internal: weird"},
		{errors.New("HTTP 500: upstream failed"), "HTTP 500: upstream failed"},
	} {
		if got := describeError(tc.err); got != tc.want {
			t.Errorf("describeError(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestSendDue_RecordsNetworkErrorsWithoutAddresses sends to a closed port
// on loopback (allowed here) and checks what viewers will read.
func TestSendDue_RecordsNetworkErrorsWithoutAddresses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		n := b.notifierWithPolicy(t, Config{Network: netguard.Policy{AllowPrivate: true}, MaxAttempts: 1})
		ds := b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{"http://" + addr + "/hook"}})
		sendDue(t, n)
		d := b.deliveries(t)[ds[0].ID]
		if d.LastError == nil || *d.LastError != "connection refused" || strings.Contains(*d.LastError, "127.0.0.1") {
			t.Fatalf("recorded error %v, want just \"connection refused\"", d.LastError)
		}
	})
}
