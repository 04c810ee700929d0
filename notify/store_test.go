package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/netguard"
)

// backends are the stores the delivery tests run on; each open returns a
// fresh migrated store and its database URL.
var backends = []struct {
	name string
	open func(*testing.T) (geoetl.Store, string)
}{
	{"sqlite", func(t *testing.T) (geoetl.Store, string) { return dbtest.SQLiteURL(t, db.Options{}) }},
	{"postgres", func(t *testing.T) (geoetl.Store, string) { return dbtest.Postgres(t) }},
}

// reopen opens a second store on the database at u, as another process
// (a restarted one, or another instance) would.
func reopen(t *testing.T, u string) geoetl.Store {
	t.Helper()
	s, err := db.Open(context.Background(), u, db.Options{})
	if err != nil {
		t.Fatalf("opening a second store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// bundle is one tenant with a failed execution of a schedule, in a store.
type bundle struct {
	store  geoetl.Store
	url    string // of the store's database
	tenant *geoetl.Tenant
	sched  *geoetl.Schedule
	exec   *geoetl.Execution
}

func setup(t *testing.T, store geoetl.Store, u string) *bundle {
	t.Helper()
	ctx := ctxTimeout(t)
	tn := &geoetl.Tenant{Name: "notify-" + geoetl.NewID()[:8]}
	if err := store.CreateTenant(ctx, tn); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	s := testSchedule(geoetl.NotificationConfig{})
	s.ID, s.TenantID = geoetl.NewID(), tn.ID
	e := testExecution(s, geoetl.ExecFailed)
	e.ID, e.ScheduleID, e.DueAt, e.Trigger = geoetl.NewID(), &s.ID, e.ScheduledAt, geoetl.TriggerManual
	if err := store.CreateExecution(ctx, e); err != nil {
		t.Fatalf("CreateExecution: %v", err)
	}
	return &bundle{store: store, url: u, tenant: tn, sched: s, exec: e}
}

// notifier returns a Notifier on the bundle's store that may reach
// loopback (the test receivers) and retries without waiting.
func (b *bundle) notifier(t *testing.T, cfg Config) *Notifier {
	t.Helper()
	cfg.Network = netguard.Policy{AllowPrivate: true}
	return newNotifier(t, b.store, cfg)
}

// notifierWithPolicy is notifier with cfg.Network as given.
func (b *bundle) notifierWithPolicy(t *testing.T, cfg Config) *Notifier {
	t.Helper()
	return newNotifier(t, b.store, cfg)
}

func newNotifier(t *testing.T, store Store, cfg Config) *Notifier {
	t.Helper()
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return 0 }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "https://geoetl.example.com"
	}
	n, err := New(cfg, store)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

// plan stores the deliveries of the bundle's execution under nc.
func (b *bundle) plan(t *testing.T, n *Notifier, nc geoetl.NotificationConfig) []*geoetl.Delivery {
	t.Helper()
	nc.NotifyOnFailure = true
	b.sched.NotificationConfig = nc
	ds := n.PlanExecution(ExecutionEvent{Schedule: b.sched, WorkflowName: "Parcels to GeoPackage", Execution: b.exec})
	if len(ds) == 0 {
		t.Fatal("no deliveries planned")
	}
	if err := b.store.CreateDeliveries(ctxTimeout(t), ds); err != nil {
		t.Fatalf("CreateDeliveries: %v", err)
	}
	return ds
}

// deliveries reads back the execution's delivery records by id.
func (b *bundle) deliveries(t *testing.T) map[string]*geoetl.Delivery {
	t.Helper()
	ds, err := b.store.ListDeliveries(ctxTimeout(t), b.tenant.ID, b.exec.ID)
	if err != nil {
		t.Fatalf("ListDeliveries: %v", err)
	}
	out := map[string]*geoetl.Delivery{}
	for _, d := range ds {
		out[d.ID] = d
	}
	return out
}

func sendDue(t *testing.T, n *Notifier) int {
	t.Helper()
	sent, err := n.SendDue(ctxTimeout(t))
	if err != nil {
		t.Fatalf("SendDue: %v", err)
	}
	return sent
}

// hit is one request a receiver got.
type hit struct {
	Path   string
	Header http.Header
	Body   []byte
}

// receiver is an HTTP server on loopback that answers with the given
// status codes in turn (the last one repeats) and records every request.
type receiver struct {
	URL   string
	mu    sync.Mutex
	hits  []hit
	codes []int
	got   chan struct{}
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	t.Helper()
	r := &receiver{codes: codes, got: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hits = append(r.hits, hit{Path: req.URL.Path, Header: req.Header.Clone(), Body: body})
		code := http.StatusOK
		if len(r.codes) > 0 {
			code = r.codes[0]
			if len(r.codes) > 1 {
				r.codes = r.codes[1:]
			}
		}
		r.mu.Unlock()
		w.WriteHeader(code)
		io.WriteString(w, http.StatusText(code))
		r.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *receiver) Hits() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// forEachBackend runs fn on each backend. The test that calls it and its
// backends run in parallel: each has its own store and servers, and most
// of their time is spent waiting for a database or a delivery.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *bundle)) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			store, u := be.open(t)
			fn(t, setup(t, store, u))
		})
	}
}

func TestSendDue_WebhookIsSignedWithTheTenantSecret(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		ctx := ctxTimeout(t)
		secret, err := EnsureWebhookSecret(ctx, b.store, b.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		rcv := newReceiver(t)
		n := b.notifier(t, Config{})
		ds := b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL + "/hooks/secret-path"}})
		if sent := sendDue(t, n); sent != 1 {
			t.Fatalf("sent %d, want 1", sent)
		}
		hits := rcv.Hits()
		if len(hits) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(hits))
		}
		h := hits[0]
		if !VerifySignature(secret, h.Header.Get(HeaderSignature), h.Header.Get(HeaderTimestamp), h.Body) {
			t.Fatalf("signature %q does not verify", h.Header.Get(HeaderSignature))
		}
		if h.Header.Get(HeaderEvent) != EventExecutionFailed || h.Header.Get(HeaderDelivery) != ds[0].ID || h.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", h.Header)
		}
		if ts, err := strconv.ParseInt(h.Header.Get(HeaderTimestamp), 10, 64); err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
			t.Errorf("timestamp %q is not the Unix time of the attempt", h.Header.Get(HeaderTimestamp))
		}
		var body struct {
			Event     string `json:"event"`
			TenantID  string `json:"tenantId"`
			Execution struct {
				ID string `json:"id"`
			} `json:"execution"`
		}
		if err := json.Unmarshal(h.Body, &body); err != nil || body.Event != EventExecutionFailed || body.TenantID != b.tenant.ID || body.Execution.ID != b.exec.ID {
			t.Errorf("body %s (%v)", h.Body, err)
		}
		d := b.deliveries(t)[ds[0].ID]
		if d.Status != geoetl.DeliverySent || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.DeliveredAt == nil {
			t.Errorf("record %+v: want sent after one attempt with 200", d)
		}
		if d.MaskedTarget != geoetl.MaskURL(rcv.URL+"/hooks/secret-path") || strings.Contains(d.MaskedTarget, "secret-path") {
			t.Errorf("masked target %q", d.MaskedTarget)
		}
	})
}

func TestSendDue_FailsTwiceThenSucceedsInThreeAttemptsWithOneDeliveryID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		rcv := newReceiver(t, 500, 429, 200)
		n := b.notifier(t, Config{})
		ds := b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL}})
		total := 0
		for range 3 {
			total += sendDue(t, n)
		}
		if total != 1 {
			t.Fatalf("sent %d, want 1", total)
		}
		hits := rcv.Hits()
		if len(hits) != 3 {
			t.Fatalf("receiver got %d requests, want 3", len(hits))
		}
		for _, h := range hits {
			if h.Header.Get(HeaderDelivery) != ds[0].ID {
				t.Errorf("delivery id %q, want %q on every attempt", h.Header.Get(HeaderDelivery), ds[0].ID)
			}
		}
		d := b.deliveries(t)[ds[0].ID]
		if d.Status != geoetl.DeliverySent || d.Attempts != 3 || d.LastError != nil {
			t.Fatalf("record %+v: want sent after 3 attempts", d)
		}
		if sent := sendDue(t, n); sent != 0 || len(rcv.Hits()) != 3 {
			t.Fatal("a sent delivery was sent again")
		}
	})
}

func TestSendDue_ClientErrorIsFinalAfterOneAttempt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		rcv := newReceiver(t, 400)
		n := b.notifier(t, Config{})
		ds := b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL}})
		sendDue(t, n)
		sendDue(t, n)
		if len(rcv.Hits()) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(rcv.Hits()))
		}
		d := b.deliveries(t)[ds[0].ID]
		if d.Status != geoetl.DeliveryFailed || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 400 || d.LastError == nil || !strings.HasPrefix(*d.LastError, "HTTP 400") {
			t.Fatalf("record %+v: want failed after one attempt with 400", d)
		}
	})
}

func TestSendDue_GivesUpAfterMaxAttempts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		rcv := newReceiver(t, 503)
		n := b.notifier(t, Config{MaxAttempts: 3})
		ds := b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL}})
		for range 5 {
			sendDue(t, n)
		}
		if len(rcv.Hits()) != 3 {
			t.Fatalf("receiver got %d requests, want 3", len(rcv.Hits()))
		}
		if d := b.deliveries(t)[ds[0].ID]; d.Status != geoetl.DeliveryFailed || d.Attempts != 3 {
			t.Fatalf("record %+v: want failed after 3 attempts", d)
		}
	})
}

func TestSendDue_RotatedSecretSignsWithBothForADay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		ctx := ctxTimeout(t)
		old, err := EnsureWebhookSecret(ctx, b.store, b.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := RotateWebhookSecret(ctx, b.store, b.tenant.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if cur == old {
			t.Fatal("rotation kept the secret")
		}
		if again, err := EnsureWebhookSecret(ctx, b.store, b.tenant.ID); err != nil || again != cur {
			t.Fatalf("EnsureWebhookSecret after rotation = %q, %v; want the new secret", again, err)
		}
		rcv := newReceiver(t)
		n := b.notifier(t, Config{})
		b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL}})
		sendDue(t, n)
		h := rcv.Hits()[0]
		sig, ts := h.Header.Get(HeaderSignature), h.Header.Get(HeaderTimestamp)
		if strings.Count(sig, "sha256=") != 2 || !strings.HasPrefix(sig, Sign(cur, ts, h.Body)+", ") {
			t.Errorf("signature header %q: want the current then the previous signature", sig)
		}
		if !VerifySignature(cur, sig, ts, h.Body) || !VerifySignature(old, sig, ts, h.Body) {
			t.Fatal("during the overlap both secrets must verify")
		}
	})
}

func TestSendDue_PreviousSecretStopsSigningAfterTheOverlap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		ctx := ctxTimeout(t)
		old, err := EnsureWebhookSecret(ctx, b.store, b.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Rotated 25 hours ago: the overlap is over.
		cur, err := RotateWebhookSecret(ctx, b.store, b.tenant.ID, time.Now().Add(-SecretOverlap-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		rcv := newReceiver(t)
		n := b.notifier(t, Config{})
		b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL}})
		sendDue(t, n)
		h := rcv.Hits()[0]
		sig, ts := h.Header.Get(HeaderSignature), h.Header.Get(HeaderTimestamp)
		if !VerifySignature(cur, sig, ts, h.Body) || VerifySignature(old, sig, ts, h.Body) {
			t.Fatalf("signature %q: want only the current secret to verify", sig)
		}
	})
}

func TestSendDue_CreatesTheSecretOnFirstUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		rcv := newReceiver(t)
		n := b.notifier(t, Config{})
		b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL}})
		sendDue(t, n)
		secret, err := EnsureWebhookSecret(ctxTimeout(t), b.store, b.tenant.ID)
		if err != nil || len(secret) != 64 {
			t.Fatalf("secret %q, %v: want 64 hex characters", secret, err)
		}
		h := rcv.Hits()[0]
		if !VerifySignature(secret, h.Header.Get(HeaderSignature), h.Header.Get(HeaderTimestamp), h.Body) {
			t.Fatal("the webhook was not signed with the secret created for it")
		}
	})
}

func TestSendDue_DefaultPolicyRefusesPrivateAddresses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		rcv := newReceiver(t)
		n := b.notifierWithPolicy(t, Config{Network: netguard.Policy{}})
		ds := b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL + "/hook/secret-path"}})
		sendDue(t, n)
		if len(rcv.Hits()) != 0 {
			t.Fatal("the default policy let a request reach loopback")
		}
		d := b.deliveries(t)[ds[0].ID]
		if d.Status != geoetl.DeliveryFailed || d.Attempts != 1 || d.LastError == nil || !strings.Contains(*d.LastError, "not allowed") || strings.Contains(*d.LastError, "secret-path") {
			t.Fatalf("record %+v: want failed once, refused by the policy, without the URL", d)
		}
	})
}

func TestSendDue_SlackAndTeamsGetTheirPayloads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		slack, teams := newReceiver(t), newReceiver(t)
		n := b.notifier(t, Config{})
		b.plan(t, n, geoetl.NotificationConfig{SlackWebhookURL: geoetl.Ptr(slack.URL + "/services/T/B/x"), TeamsWebhookURL: geoetl.Ptr(teams.URL + "/webhookb2/x")})
		if sent := sendDue(t, n); sent != 2 {
			t.Fatalf("sent %d, want 2", sent)
		}
		var s struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		sh := slack.Hits()[0]
		if err := json.Unmarshal(sh.Body, &s); err != nil || s.Text == "" || len(s.Blocks) == 0 {
			t.Errorf("Slack got %s (%v): want text and blocks", sh.Body, err)
		}
		if sh.Header.Get(HeaderSignature) != "" {
			t.Error("Slack got a GeoETL signature; its URL is its secret")
		}
		var m struct {
			Type        string `json:"type"`
			Attachments []struct {
				ContentType string         `json:"contentType"`
				Content     map[string]any `json:"content"`
			} `json:"attachments"`
		}
		th := teams.Hits()[0]
		if err := json.Unmarshal(th.Body, &m); err != nil || m.Type != "message" || len(m.Attachments) != 1 ||
			m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || m.Attachments[0].Content["type"] != "AdaptiveCard" {
			t.Errorf("Teams got %s (%v): want a message with an Adaptive Card", th.Body, err)
		}
	})
}

func TestSendDue_EmailEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		srv := startSMTP(t, smtpOptions{mode: smtpPlain})
		n := b.notifier(t, Config{SMTPURL: "smtp://" + srv.Addr, From: "geoetl@example.com"})
		ds := b.plan(t, n, geoetl.NotificationConfig{EmailAddresses: []string{"ops@example.com", "gis@example.com"}})
		if sent := sendDue(t, n); sent != 2 {
			t.Fatalf("sent %d, want 2", sent)
		}
		mails := srv.Mails()
		if len(mails) != 2 {
			t.Fatalf("server got %d mails, want 2", len(mails))
		}
		rcpts := map[string]bool{}
		for _, m := range mails {
			rcpts[strings.Join(m.To, ",")] = true
			if p := parseMail(t, m.Data); p.Subject != "[GeoETL] Daily parcels: failed" || !strings.Contains(p.Text, "/geoetl/executions/"+b.exec.ID) {
				t.Errorf("mail subject %q text %q", p.Subject, p.Text)
			}
		}
		if !rcpts["ops@example.com"] || !rcpts["gis@example.com"] {
			t.Errorf("recipients %v: want one mail to each address", rcpts)
		}
		for _, d := range ds {
			if r := b.deliveries(t)[d.ID]; r.Status != geoetl.DeliverySent || r.MaskedTarget != d.Target {
				t.Errorf("record %+v: want sent, target shown as is", r)
			}
		}
	})
}

func TestSendDue_EmailWithoutSMTPIsRecordedAsFailed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		n := b.notifier(t, Config{})
		ds := b.plan(t, n, geoetl.NotificationConfig{EmailAddresses: []string{"ops@example.com"}})
		if sent := sendDue(t, n); sent != 0 {
			t.Fatalf("sent %d, want 0", sent)
		}
		d := b.deliveries(t)[ds[0].ID]
		if d.Status != geoetl.DeliveryFailed || d.LastError == nil || *d.LastError != "SMTP not configured" {
			t.Fatalf("record %+v: want failed with %q", d, "SMTP not configured")
		}
	})
}

func TestRestart_PendingDeliveriesAreSentByANewNotifier(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		rcv := newReceiver(t, 503, 200)
		before := b.notifier(t, Config{InstanceID: "before-restart"})
		ds := b.plan(t, before, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL}})
		sendDue(t, before) // one failed attempt; the delivery stays pending
		if d := b.deliveries(t)[ds[0].ID]; d.Status != geoetl.DeliveryPending || d.Attempts != 1 {
			t.Fatalf("record %+v: want pending after one attempt", d)
		}
		// The process is gone; a new one starts on the same database.
		after := newNotifier(t, reopen(t, b.url), Config{InstanceID: "after-restart", Network: netguard.Policy{AllowPrivate: true},
			Backoff: func(int) time.Duration { return 0 }})
		if sent := sendDue(t, after); sent != 1 {
			t.Fatalf("the new notifier sent %d, want 1", sent)
		}
		if d := b.deliveries(t)[ds[0].ID]; d.Status != geoetl.DeliverySent || d.Attempts != 2 {
			t.Fatalf("record %+v: want sent on the second attempt", d)
		}
	})
}

func TestSendDue_ShutdownDuringAnAttemptHandsTheDeliveryBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		arrived := make(chan struct{}, 1)
		finished := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The server notices a client hanging up only once the body is read.
			io.ReadAll(r.Body)
			arrived <- struct{}{}
			select { // never answers while the test runs
			case <-r.Context().Done():
			case <-finished:
			}
		}))
		defer srv.Close()
		defer close(finished)
		n := b.notifier(t, Config{})
		ds := b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{srv.URL}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); n.SendDue(ctx) }()
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the attempt never reached the receiver")
		}
		cancel()
		<-done
		d := b.deliveries(t)[ds[0].ID]
		if d.Status != geoetl.DeliveryPending || d.Attempts != 0 {
			t.Fatalf("record %+v: want pending with the cut attempt not counted", d)
		}
		// Handed back, not leased: another instance can take it at once.
		batch, err := b.store.ClaimDeliveries(ctxTimeout(t), "other", 10, time.Now().Add(time.Minute))
		if err != nil || len(batch) != 1 {
			t.Fatalf("claim after hand-back: %d deliveries, %v; want 1", len(batch), err)
		}
	})
}

func TestTwoInstances_EachDeliverySentExactlyOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		rcv := newReceiver(t)
		var urls []string
		for i := range 24 {
			urls = append(urls, rcv.URL+"/hook/"+strconv.Itoa(i))
		}
		a := b.notifier(t, Config{InstanceID: "instance-a", Concurrency: 4})
		c := newNotifier(t, reopen(t, b.url), Config{InstanceID: "instance-b", Concurrency: 4, Network: netguard.Policy{AllowPrivate: true}})
		ds := b.plan(t, a, geoetl.NotificationConfig{WebhookURLs: urls})
		var wg sync.WaitGroup
		var sentA, sentB int
		var errA, errB error
		start := make(chan struct{})
		ctx := ctxTimeout(t)
		wg.Go(func() { <-start; sentA, errA = a.SendDue(ctx) })
		wg.Go(func() { <-start; sentB, errB = c.SendDue(ctx) })
		close(start)
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("SendDue: %v, %v", errA, errB)
		}
		// Whatever one pass left (a claim that came back short while the
		// other instance held the rest), a second pass picks up.
		sentA += sendDue(t, a)
		if sentA+sentB != len(ds) {
			t.Fatalf("sent %d+%d, want %d", sentA, sentB, len(ds))
		}
		per := map[string]int{}
		for _, h := range rcv.Hits() {
			per[h.Header.Get(HeaderDelivery)]++
		}
		for _, d := range ds {
			if per[d.ID] != 1 {
				t.Errorf("delivery %s reached the receiver %d times, want once", d.ID, per[d.ID])
			}
		}
	})
}

func TestRun_KickSendsWithoutWaitingForThePoll(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *bundle) {
		rcv := newReceiver(t)
		// The fake clock never moves, so only a kick can start a pass after
		// the first.
		fake := clock.NewFake(time.Now())
		n := b.notifier(t, Config{Clock: fake, PollInterval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		idle := fake.TimerCreated()
		done := make(chan struct{})
		go func() { defer close(done); n.Run(ctx) }()
		defer func() { cancel(); <-done }()
		<-idle // the first pass found nothing and Run went to sleep
		b.plan(t, n, geoetl.NotificationConfig{WebhookURLs: []string{rcv.URL}})
		n.Kick()
		select {
		case <-rcv.got:
		case <-time.After(10 * time.Second):
			t.Fatal("Kick did not wake Run")
		}
	})
}
