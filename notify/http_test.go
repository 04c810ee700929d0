package notify

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geoetl/geoetl/netguard"
)

var allowLoopback = netguard.Policy{AllowPrivate: true}

func TestClassifyResponse(t *testing.T) {
	now := time.Date(2027, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		code       int
		retryAfter string
		ok, retry  bool
		wait       time.Duration
	}{
		{200, "", true, false, 0},
		{202, "", true, false, 0},
		{204, "", true, false, 0},
		{302, "", false, false, 0},
		{400, "", false, false, 0},
		{401, "", false, false, 0},
		{404, "", false, false, 0},
		{408, "", false, false, 0},
		{410, "", false, false, 0},
		{429, "", false, true, 0},
		{429, "90", false, true, 90 * time.Second},
		{500, "", false, true, 0},
		{502, "", false, true, 0},
		{503, now.Add(2 * time.Minute).Format(http.TimeFormat), false, true, 2 * time.Minute},
		{503, "86400", false, true, 0}, // a day is not sane: the backoff applies
	} {
		resp := &http.Response{StatusCode: tc.code, Header: http.Header{}}
		if tc.retryAfter != "" {
			resp.Header.Set("Retry-After", tc.retryAfter)
		}
		o := classifyResponse(resp, []byte("nope"), now)
		if (o.err == nil) != tc.ok || o.retry != tc.retry || o.retryAfter != tc.wait || o.statusCode != tc.code {
			t.Errorf("%d Retry-After %q: got err=%v retry=%v wait=%v", tc.code, tc.retryAfter, o.err, o.retry, o.retryAfter)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2027, 3, 14, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":     0,
		"0":    0,
		"-5":   0,
		"30":   30 * time.Second,
		"3600": time.Hour,
		"3601": 0,
		"soon": 0,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
		now.Add(10 * time.Minute).Format(http.TimeFormat): 10 * time.Minute,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestPost_DefaultPolicyRefusesLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	// A name, not a literal address, so only the check after resolution
	// can catch it.
	target := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/hooks/secret-token"
	o := post(ctxTimeout(t), newHTTPClient(netguard.Policy{}, 5*time.Second), target, nil, []byte(`{}`), time.Now())
	if !netguard.IsForbidden(o.err) || o.retry {
		t.Fatalf("outcome err=%v retry=%v: want refused by the network policy, not retried", o.err, o.retry)
	}
	if hits.Load() != 0 {
		t.Fatal("the receiver was reached")
	}
	if strings.Contains(o.err.Error(), "secret-token") {
		t.Fatalf("error %q shows the URL's secret", o.err)
	}
}

func TestPost_RedirectThatWouldTurnPostIntoGetIsNotFollowed(t *testing.T) {
	var reached atomic.Int32
	final := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer final.Close()
	redir := httptest.NewServer(http.RedirectHandler(final.URL, http.StatusFound))
	defer redir.Close()
	o := post(ctxTimeout(t), newHTTPClient(allowLoopback, 5*time.Second), redir.URL, nil, []byte(`{}`), time.Now())
	if o.err == nil || o.retry || o.statusCode != http.StatusFound {
		t.Fatalf("outcome %+v: want a final failure with status 302", o)
	}
	if reached.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

func TestPost_PermanentRedirectKeepsMethodAndBody(t *testing.T) {
	var got string
	final := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + string(b)
	}))
	defer final.Close()
	redir := httptest.NewServer(http.RedirectHandler(final.URL, http.StatusPermanentRedirect))
	defer redir.Close()
	o := post(ctxTimeout(t), newHTTPClient(allowLoopback, 5*time.Second), redir.URL, nil, []byte(`{"a":1}`), time.Now())
	if o.err != nil || got != `POST {"a":1}` {
		t.Fatalf("outcome %+v, receiver got %q: want the POST delivered after the 308", o, got)
	}
}

func TestPost_ReadsOnlyAFewKiBOfTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		chunk := []byte(strings.Repeat("x", 32<<10))
		// An endless answer: reading it all would run into the time-out.
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	o := post(ctxTimeout(t), newHTTPClient(allowLoopback, 3*time.Second), srv.URL, nil, []byte(`{}`), time.Now())
	if o.statusCode != 500 || !o.retry || o.err == nil || !strings.HasPrefix(o.err.Error(), "HTTP 500: xxx") || len(o.err.Error()) > 300 {
		t.Fatalf("outcome status=%d retry=%v err=%.120v: want a short HTTP 500 error", o.statusCode, o.retry, o.err)
	}
}

func TestPost_NetworkErrorIsRetriedWithoutTheURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	target := "http://" + addr + "/services/T0/B0/secret-token?sig=abc123"
	o := post(ctxTimeout(t), newHTTPClient(allowLoopback, 5*time.Second), target, nil, []byte(`{}`), time.Now())
	if o.err == nil || !o.retry || o.statusCode != 0 {
		t.Fatalf("outcome %+v: want a network error worth retrying", o)
	}
	for _, secret := range []string{"secret-token", "abc123"} {
		if strings.Contains(o.err.Error(), secret) {
			t.Fatalf("error %q shows %q", o.err, secret)
		}
	}
}

func TestScrub_RemovesURLAndItsSecretParts(t *testing.T) {
	target := "https://hooks.slack.com/services/T0/B0/secret-token?sig=abc123"
	for _, msg := range []string{
		`Post "` + target + `": EOF`,
		"redirected to /services/T0/B0/secret-token",
		"bad sig=abc123",
	} {
		got := scrub(msg, target)
		if strings.Contains(got, "secret-token") || strings.Contains(got, "abc123") {
			t.Errorf("scrub(%q) = %q still shows a secret", msg, got)
		}
	}
}
