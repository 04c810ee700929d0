package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/geoetl/geoetl"
)

// parsedMail is a received message taken apart.
type parsedMail struct {
	Header     mail.Header
	Subject    string
	Text, HTML string
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading the mail: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	p := parsedMail{Header: msg.Header, Subject: subject}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		t.Fatalf("content type %q (%v): want multipart with text and HTML", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// multipart.Reader decodes quoted-printable parts by itself.
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
		case "text/plain":
			p.Text = string(b)
		case "text/html":
			p.HTML = string(b)
		}
	}
	return p
}

// emailDelivery plans a failed execution for one address and returns the
// notifier and the delivery.
func emailDelivery(t *testing.T, cfg Config) (*Notifier, *geoetl.Delivery, *geoetl.Execution) {
	t.Helper()
	n := planNotifier(t, cfg)
	s := testSchedule(geoetl.NotificationConfig{NotifyOnFailure: true, EmailAddresses: []string{"ops@example.com"}})
	e := testExecution(s, geoetl.ExecFailed)
	ds := n.PlanExecution(ExecutionEvent{Schedule: s, WorkflowName: "Parcels to GeoPackage", Execution: e})
	if len(ds) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(ds))
	}
	return n, ds[0], e
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEmail_STARTTLSWithAuthDeliversSubjectBodiesAndLink(t *testing.T) {
	srv := startSMTP(t, smtpOptions{mode: smtpSTARTTLS, user: "geoetl", pass: "s3cret"})
	n, d, e := emailDelivery(t, Config{
		SMTPURL: "smtp://geoetl:s3cret@" + srv.Addr, From: "GeoETL <geoetl@example.com>",
		SMTPTLSConfig: &tls.Config{RootCAs: srv.Roots},
	})
	if o := n.attempt(ctxTimeout(t), d); o.err != nil {
		t.Fatalf("attempt: %v", o.err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("server got %d mails, want 1", len(mails))
	}
	got := mails[0]
	if !got.TLS || got.User != "geoetl" {
		t.Errorf("mail came with TLS=%v user=%q, want STARTTLS and AUTH as geoetl", got.TLS, got.User)
	}
	if got.From != "geoetl@example.com" || len(got.To) != 1 || got.To[0] != "ops@example.com" {
		t.Errorf("envelope from %q to %v", got.From, got.To)
	}
	p := parseMail(t, got.Data)
	if p.Subject != "[GeoETL] Daily parcels: failed" {
		t.Errorf("subject %q", p.Subject)
	}
	if to := p.Header.Get("To"); !strings.Contains(to, "ops@example.com") {
		t.Errorf("To header %q", to)
	}
	if id := p.Header.Get("Message-Id"); id != "<"+d.ID+"@example.com>" {
		t.Errorf("Message-ID %q, want the delivery id", id)
	}
	link := "https://geoetl.example.com/geoetl/executions/" + e.ID
	for _, want := range []string{"Parcels to GeoPackage", "2027-03-14T07:00:00Z", "1.834s", "disk full <sda1> & more", link} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("text body lacks %q:\n%s", want, p.Text)
		}
	}
	for _, want := range []string{"Parcels to GeoPackage", "disk full &lt;sda1&gt; &amp; more", `href="` + link + `"`} {
		if !strings.Contains(p.HTML, want) {
			t.Errorf("HTML body lacks %q:\n%s", want, p.HTML)
		}
	}
}

func TestEmail_SMTPSUsesImplicitTLS(t *testing.T) {
	srv := startSMTP(t, smtpOptions{mode: smtpImplicit, user: "geoetl", pass: "s3cret"})
	n, d, _ := emailDelivery(t, Config{
		SMTPURL: "smtps://geoetl:s3cret@" + srv.Addr, From: "geoetl@example.com",
		SMTPTLSConfig: &tls.Config{RootCAs: srv.Roots},
	})
	if o := n.attempt(ctxTimeout(t), d); o.err != nil {
		t.Fatalf("attempt: %v", o.err)
	}
	if m := srv.Mails(); len(m) != 1 || !m[0].TLS || m[0].User != "geoetl" {
		t.Fatalf("mails %+v: want one over TLS, authenticated", m)
	}
}

func TestEmail_RelayWithoutTLSOrAuthStillDelivers(t *testing.T) {
	srv := startSMTP(t, smtpOptions{mode: smtpPlain})
	n, d, _ := emailDelivery(t, Config{SMTPURL: "smtp://" + srv.Addr, From: "geoetl@example.com"})
	if o := n.attempt(ctxTimeout(t), d); o.err != nil {
		t.Fatalf("attempt: %v", o.err)
	}
	if m := srv.Mails(); len(m) != 1 || m[0].TLS {
		t.Fatalf("mails %+v: want one, in plain text", m)
	}
}

func TestEmail_NeverSendsThePasswordInClear(t *testing.T) {
	srv := startSMTP(t, smtpOptions{mode: smtpPlain, user: "geoetl", pass: "s3cret"})
	n, d, _ := emailDelivery(t, Config{SMTPURL: "smtp://geoetl:s3cret@" + srv.Addr, From: "geoetl@example.com"})
	o := n.attempt(ctxTimeout(t), d)
	if o.err == nil {
		t.Fatal("attempt succeeded over a plain connection with a password")
	}
	if p := srv.Passwords(); len(p) != 0 {
		t.Fatalf("server saw passwords %q over a plain connection", p)
	}
	if o.retry {
		t.Error("a server that cannot take the password safely is retried")
	}
	n.record(d, o, planNow)
	if strings.Contains(*d.LastError, "s3cret") || !strings.Contains(*d.LastError, "STARTTLS") {
		t.Fatalf("recorded error %q: want advice about STARTTLS and no password", *d.LastError)
	}
}

func TestEmail_UntrustedCertificateFailsInsteadOfFallingBack(t *testing.T) {
	srv := startSMTP(t, smtpOptions{mode: smtpSTARTTLS})
	// No SMTPTLSConfig: the system roots do not know the test certificate.
	n, d, _ := emailDelivery(t, Config{SMTPURL: "smtp://" + srv.Addr, From: "geoetl@example.com"})
	o := n.attempt(ctxTimeout(t), d)
	if o.err == nil || !o.retry {
		t.Fatalf("outcome %+v: want a failed attempt worth retrying", o)
	}
	if m := srv.Mails(); len(m) != 0 {
		t.Fatalf("server got %d mails after a failed TLS handshake", len(m))
	}
}

func TestEmail_PermanentRejectionIsNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  int
		retry bool
	}{
		{"Mailbox unknown (550)", 550, false},
		{"Try later (451)", 451, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMTP(t, smtpOptions{mode: smtpPlain, rcptErr: &smtp.SMTPError{Code: tc.code, Message: "no"}})
			n, d, _ := emailDelivery(t, Config{SMTPURL: "smtp://" + srv.Addr, From: "geoetl@example.com"})
			o := n.attempt(ctxTimeout(t), d)
			if o.err == nil || o.retry != tc.retry {
				t.Fatalf("outcome err=%v retry=%v, want an error with retry=%v", o.err, o.retry, tc.retry)
			}
		})
	}
}

func TestEmail_NotConfiguredFailsWithoutRetry(t *testing.T) {
	n := planNotifier(t, Config{})
	d := &geoetl.Delivery{ID: geoetl.NewID(), Channel: geoetl.ChannelEmail, Target: "ops@example.com", Payload: []byte(`{}`)}
	o := n.attempt(ctxTimeout(t), d)
	if o.err == nil || o.err.Error() != "SMTP not configured" || o.retry {
		t.Fatalf("outcome %+v: want %q, not retried", o, "SMTP not configured")
	}
}
