package netguard

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestIsPublic_RefusesNonPublicRanges(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"127.0.0.1", false}, {"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"0.0.0.0", false}, {"100.64.0.1", false}, {"::1", false},
		{"fe80::1", false}, {"fd00::1", false}, {"::ffff:127.0.0.1", false}, {"224.0.0.1", false},
		{"8.8.8.8", true}, {"1.1.1.1", true}, {"2606:4700:4700::1111", true},
	} {
		if got := IsPublic(netip.MustParseAddr(tc.addr)); got != tc.public {
			t.Errorf("IsPublic(%s) = %v, want %v", tc.addr, got, tc.public)
		}
	}
}

func TestCheckURL_RefusesLiteralPrivateHostsUnlessAllowed(t *testing.T) {
	deny := Policy{}
	for _, u := range []string{"http://127.0.0.1/x", "http://[::1]:8080/", "http://localhost/", "https://10.0.0.1/hook"} {
		if err := deny.CheckURL(u); !IsForbidden(err) {
			t.Errorf("CheckURL(%s) = %v, want forbidden", u, err)
		}
	}
	for _, u := range []string{"https://hooks.slack.com/services/x", "https://8.8.8.8/"} {
		if err := deny.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%s) = %v, want nil", u, err)
		}
	}
	if err := (Policy{AllowPrivate: true}).CheckURL("http://127.0.0.1/"); err != nil {
		t.Errorf("allowed policy refused loopback: %v", err)
	}
	if err := deny.CheckURL("ftp://example.com/"); err == nil {
		t.Error("ftp scheme accepted")
	}
}

func TestClient_RefusesLoopbackAfterResolution(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	// "localhost" is a name, so only the dial-time check can catch it.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	_, err := Policy{}.NewClient(ClientOptions{}).Get(url)
	if !IsForbidden(err) {
		t.Fatalf("GET %s: err = %v, want forbidden", url, err)
	}
	resp, err := Policy{AllowPrivate: true}.NewClient(ClientOptions{}).Get(url)
	if err != nil {
		t.Fatalf("allowed GET: %v", err)
	}
	resp.Body.Close()
}

func TestLimitedBody_FailsPastLimit(t *testing.T) {
	b, err := io.ReadAll(LimitedBody(strings.NewReader("0123456789"), 10))
	if err != nil || string(b) != "0123456789" {
		t.Fatalf("at limit: %q %v", b, err)
	}
	b, err = io.ReadAll(LimitedBody(strings.NewReader("0123456789A"), 10))
	if !errors.Is(err, ErrTooLarge) || len(b) != 10 {
		t.Fatalf("past limit: %q %v", b, err)
	}
}

// TestCheckURL_RefusesEverySpellingOfAPrivateHost checks the host forms
// that resolvers and browsers read as loopback or private addresses.
func TestCheckURL_RefusesEverySpellingOfAPrivateHost(t *testing.T) {
	deny := Policy{}
	for _, host := range []string{
		"LOCALHOST", "localhost.", "LocalHost..", "api.localhost", "API.LOCALHOST.", "localhost.localdomain", "ip6-localhost",
		"2130706433", "127.1", "127.0.1", "0x7f.1", "0x7F000001", "0177.0.0.1", "017700000001", "0x7f.0.0.1", "127.0.0.1.",
		"[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::1]", "[0:0:0:0:0:0:0:1]", "0", "0.0.0.0", "[::]",
		"10.1", "167772161", "0xa.0.0.1", "192.168.1", "169.254.169.254", "0xa9fea9fe", "[fe80::1%25eth0]",
		"１２７.０.０.１", "localhost。", "[64:ff9b::a00:1]",
	} {
		if err := deny.CheckURL("http://" + host + "/hook"); !IsForbidden(err) {
			t.Errorf("CheckURL(http://%s/hook) = %v, want forbidden", host, err)
		}
	}
	for _, host := range []string{"256.1.1.1", "1.2.3.4.5", "127.0.0.0x", "4294967296", "example.0x", "%6c%6fcalhost"} {
		if err := deny.CheckURL("http://" + host + "/"); err == nil {
			t.Errorf("CheckURL(http://%s/) accepted an invalid address", host)
		}
	}
	for _, host := range []string{"hooks.slack.com", "HOOKS.SLACK.COM.", "8.8.8.8", "134744072", "1.2.3.com", "127x.example", "localhost.example.com"} {
		if err := deny.CheckURL("https://" + host + "/x"); err != nil {
			t.Errorf("CheckURL(https://%s/x) = %v, want nil", host, err)
		}
	}
}
