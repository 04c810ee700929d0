package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/geoetl/geoetl/netguard"
)

// maxAnswerBytes is how much of a receiver's answer is read: enough for an
// error message, never a whole page.
const maxAnswerBytes = 4 << 10

// maxRetryAfter bounds the Retry-After a receiver may ask for; a longer one
// is not sane and the usual backoff applies instead.
const maxRetryAfter = time.Hour

// outcome is the result of one attempt.
type outcome struct {
	statusCode int           // HTTP status, 0 when there was none
	err        error         // nil when delivered
	retry      bool          // worth another attempt
	retryAfter time.Duration // the receiver's Retry-After, 0 when none or not sane
}

// permanentError marks an error that another attempt cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// errRedirect is returned when a receiver redirects in a way that would
// change the request.
var errRedirect = errors.New("redirect not followed")

// newHTTPClient returns the policy's client, changed to follow only the
// redirects that keep a POST a POST (307, 308); after a 301, 302 or 303
// the client would send a GET without the body and take its answer for a
// delivery, so those come back as the answer and fail the attempt.
func newHTTPClient(policy netguard.Policy, timeout time.Duration) *http.Client {
	c := policy.NewClient(netguard.ClientOptions{Timeout: timeout, MaxRedirects: 3})
	guard := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.Response != nil && req.Response.StatusCode != http.StatusTemporaryRedirect && req.Response.StatusCode != http.StatusPermanentRedirect {
			return http.ErrUseLastResponse
		}
		if err := guard(req, via); err != nil {
			return fmt.Errorf("%w: %v", errRedirect, err)
		}
		return nil
	}
	return c
}

// post sends body to target and classifies the answer.
func post(ctx context.Context, client *http.Client, target string, header http.Header, body []byte, now time.Time) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return outcome{err: fmt.Errorf("building the request: %w", unwrapURLError(err))}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GeoETL-Notifier/1")
	resp, err := client.Do(req)
	if err != nil {
		err = unwrapURLError(err)
		retry := !netguard.IsForbidden(err) && !errors.Is(err, errRedirect)
		return outcome{err: err, retry: retry}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	return classifyResponse(resp, answer, now)
}

// classifyResponse turns an HTTP answer into an outcome: 2xx delivered,
// 429 and 5xx worth retrying, everything else final.
func classifyResponse(resp *http.Response, answer []byte, now time.Time) outcome {
	code := resp.StatusCode
	o := outcome{statusCode: code}
	if code >= 200 && code < 300 {
		return o
	}
	msg := fmt.Sprintf("HTTP %d", code)
	if code >= 300 && code < 400 {
		msg += " (redirect not followed: a redirected POST would be sent as GET; use the final URL)"
	}
	if snippet := answerSnippet(answer); snippet != "" {
		msg += ": " + snippet
	}
	o.err = errors.New(msg)
	o.retry = code == http.StatusTooManyRequests || code >= 500
	if o.retry {
		o.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	return o
}

// parseRetryAfter reads delay-seconds or an HTTP date. It returns 0 for
// anything missing, malformed, in the past or longer than maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 || secs > int(maxRetryAfter/time.Second) {
			return 0
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	if d <= 0 || d > maxRetryAfter {
		return 0
	}
	return d
}

// answerSnippet keeps the start of a receiver's answer on one line, for the
// delivery's error.
func answerSnippet(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), " "))
	return truncate(strings.Join(strings.Fields(s), " "), 200)
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// full URL, secrets and all.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// scrub removes a secret URL, and its secret parts, from an error message
// that may have picked it up anywhere along the way.
func scrub(msg, target string) string {
	if target == "" {
		return msg
	}
	masked := maskTarget(target)
	msg = strings.ReplaceAll(msg, target, masked)
	u, err := url.Parse(target)
	if err != nil {
		return msg
	}
	for _, secret := range []string{u.RawQuery, u.EscapedPath(), u.Path} {
		if len(secret) > 1 {
			msg = strings.ReplaceAll(msg, secret, "/****")
		}
	}
	return msg
}
