package handlers

import (
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
)

// Sign-in throttling counts only failed attempts, and answers them with a
// delay that doubles with each failure past a free allowance, instead of a
// fixed lock-out. Three counters apply to each attempt:
//   - the account from this address: guessing one user's password from
//     one machine (the real user elsewhere is not affected);
//   - the account from any address: guessing spread over many machines;
//   - the address, whatever the account: trying many users.
//
// The account is the user the name or email resolves to, so a user's name
// and email share one count. A successful sign-in clears the account's
// counts. Counts are forgotten after backoffForget without failures.
var (
	signinPerAccountAddr = backoffPolicy{free: 5, base: time.Second, max: 5 * time.Minute}
	signinPerAccount     = backoffPolicy{free: 20, base: time.Second, max: 5 * time.Minute}
	signinPerAddr        = backoffPolicy{free: 20, base: time.Second, max: 5 * time.Minute}
)

const backoffForget = 15 * time.Minute

// backoffPolicy: the first free failures cost nothing; the next one makes
// the key wait base, then 2×base, 4×base, ... up to max.
type backoffPolicy struct {
	free int
	base time.Duration
	max  time.Duration
}

func (p backoffPolicy) delay(failures int) time.Duration {
	if failures < p.free {
		return 0
	}
	d := p.base
	for i := p.free; i < failures && d < p.max; i++ {
		d *= 2
	}
	return min(d, p.max)
}

// backoff keeps the failures per key.
type backoff struct {
	mu     sync.Mutex
	p      backoffPolicy
	keys   map[string]*failures
	swept  time.Time
	forget time.Duration
}

type failures struct {
	n    int
	last time.Time
}

func newBackoff(p backoffPolicy) *backoff {
	return &backoff{p: p, keys: map[string]*failures{}, forget: backoffForget}
}

// wait returns how long key must still wait before its next attempt.
func (b *backoff) wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.get(key, now)
	if f == nil {
		return 0
	}
	return max(0, f.last.Add(b.p.delay(f.n)).Sub(now))
}

// fail records a failed attempt.
func (b *backoff) fail(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.get(key, now)
	if f == nil {
		f = &failures{}
		b.keys[key] = f
	}
	f.n++
	f.last = now
}

// clear forgets key's failures.
func (b *backoff) clear(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.keys, key)
}

// get returns key's live record, dropping it (and, now and then, every
// other stale one) when it is older than the forget span.
func (b *backoff) get(key string, now time.Time) *failures {
	if now.Sub(b.swept) > b.forget {
		for k, f := range b.keys {
			if now.Sub(f.last) > b.forget {
				delete(b.keys, k)
			}
		}
		b.swept = now
	}
	f := b.keys[key]
	if f != nil && now.Sub(f.last) > b.forget {
		delete(b.keys, key)
		return nil
	}
	return f
}

// signinLimits holds one Server's sign-in counters.
type signinLimits struct {
	accountAddr, account, addr *backoff
}

var signinLimiters sync.Map // *Server → *signinLimits

func (s *Server) signinLimits() *signinLimits {
	if l, ok := signinLimiters.Load(s); ok {
		return l.(*signinLimits)
	}
	l, _ := signinLimiters.LoadOrStore(s, &signinLimits{
		accountAddr: newBackoff(signinPerAccountAddr),
		account:     newBackoff(signinPerAccount),
		addr:        newBackoff(signinPerAddr),
	})
	return l.(*signinLimits)
}

// wait returns how long an attempt on account from addr must wait.
func (l *signinLimits) wait(account, addr string, now time.Time) time.Duration {
	return max(l.accountAddr.wait(account+"|"+addr, now), l.account.wait(account, now), l.addr.wait(addr, now))
}

// fail records a failed attempt on account from addr.
func (l *signinLimits) fail(account, addr string, now time.Time) {
	l.accountAddr.fail(account+"|"+addr, now)
	l.account.fail(account, now)
	l.addr.fail(addr, now)
}

// succeed clears the account's counts; the address keeps its count, or
// an attacker could reset it by signing in to an account of their own
// between guesses.
func (l *signinLimits) succeed(account, addr string) {
	l.accountAddr.clear(account + "|" + addr)
	l.account.clear(account)
}

// checkPasswordGuess refuses a request that would check the caller's
// current password (a password change) while the caller's account is
// being throttled: such a check is a sign-in attempt in disguise.
func (s *Server) checkPasswordGuess(c echo.Context) error {
	if p := principal(c); p.UserID != "" {
		return s.throttled(c, "user:"+p.UserID, "Too many wrong passwords")
	}
	return nil
}

// countPasswordGuess counts a wrong current password as a failed sign-in.
func (s *Server) countPasswordGuess(c echo.Context, err error) {
	if p := principal(c); p.UserID != "" && geoetl.ErrorFields(err)["currentPassword"] != nil {
		s.signinLimits().fail("user:"+p.UserID, clientAddr(c), s.svc.Clock.Now())
	}
}

// checkNameProbe refuses a user creation or email change while the
// caller is throttled for names or emails that were taken: each such
// refusal tells whether a name exists somewhere in the install, so they
// are counted like failed sign-ins.
func (s *Server) checkNameProbe(c echo.Context) error {
	return s.throttled(c, "probe:"+principal(c).ActorID, "Too many names or emails that cannot be used")
}

// countNameProbe counts a taken name or email.
func (s *Server) countNameProbe(c echo.Context, err error) {
	if service.IsNameOrEmailTaken(err) {
		s.signinLimits().fail("probe:"+principal(c).ActorID, clientAddr(c), s.svc.Clock.Now())
	}
}

// throttled answers 429 with Retry-After while account, from the
// caller's address, must wait.
func (s *Server) throttled(c echo.Context, account, what string) error {
	if wait := s.signinLimits().wait(account, clientAddr(c), s.svc.Clock.Now()); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return geoetl.Errorf(geoetl.ERATELIMIT, "%s; try again in %d s.", what, secs)
	}
	return nil
}
