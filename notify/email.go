package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// errSMTPNotConfigured is the recorded error of email deliveries when no
// --smtp-url was given.
const errSMTPNotConfigured = "SMTP not configured"

// smtpServer is a parsed --smtp-url.
type smtpServer struct {
	host        string
	port        int
	implicitTLS bool // smtps://
	user, pass  string
	auth        bool
}

// parseSMTPURL reads smtp://[user[:pass]@]host[:port] (STARTTLS when the
// server offers it, port 25 by default) or smtps://… (TLS from the first
// byte, port 465 by default). Error messages never repeat the URL, since it
// may hold a password.
func parseSMTPURL(raw string) (*smtpServer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("SMTP URL is not a valid URL: %v", err)
	}
	s := &smtpServer{host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.port = 25
	case "smtps":
		s.port, s.implicitTLS = 465, true
	default:
		return nil, fmt.Errorf("SMTP URL must start with smtp:// or smtps://")
	}
	if s.host == "" {
		return nil, fmt.Errorf("SMTP URL must have a host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("SMTP URL port must be between 1 and 65535")
		}
		s.port = n
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("SMTP URL takes no path or query: use smtp://user:pass@host:port")
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		s.auth = s.user != ""
	}
	return s, nil
}

// emailParts is the Payload of an email delivery: the message as rendered
// when the delivery was planned.
type emailParts struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

func renderEmail(m *message) ([]byte, error) {
	var text strings.Builder
	text.WriteString(m.summary() + "\n\n")
	for _, f := range m.facts() {
		fmt.Fprintf(&text, "%-11s %s\n", f.Label+":", f.Value)
	}
	errLabel := "Error"
	if m.Execution == nil {
		errLabel = "Reason"
	}
	if e := m.errorText(); e != "" {
		fmt.Fprintf(&text, "\n%s:\n%s\n", errLabel, e)
	}
	if m.Link != "" {
		fmt.Fprintf(&text, "\n%s: %s\n", m.linkLabel(), m.Link)
	}
	var html bytes.Buffer
	err := emailHTML.Execute(&html, map[string]any{
		"Title": m.title(), "Summary": m.summary(), "Facts": m.facts(), "Failed": m.failed(),
		"ErrorLabel": errLabel, "Error": m.errorText(), "Link": m.Link, "LinkLabel": m.linkLabel(),
	})
	if err != nil {
		return nil, fmt.Errorf("rendering the email: %w", err)
	}
	return marshal(emailParts{Subject: m.title(), Text: text.String(), HTML: html.String()})
}

// emailHTML is deliberately plain: inline styles only, since mail clients
// drop style sheets.
var emailHTML = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;font-size:14px;color:#222">
<h2 style="color:{{if .Failed}}#b00020{{else}}#1b5e20{{end}}">{{.Title}}</h2>
<p>{{.Summary}}</p>
<table style="border-collapse:collapse">
{{range .Facts}}<tr><th style="text-align:left;padding:2px 12px 2px 0">{{.Label}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{if .Error}}<h3>{{.ErrorLabel}}</h3>
<pre style="white-space:pre-wrap;background:#f5f5f5;padding:8px">{{.Error}}</pre>
{{end}}{{if .Link}}<p><a href="{{.Link}}">{{.LinkLabel}}</a></p>
{{end}}</body></html>
`))

// mailer sends email deliveries through one SMTP server.
type mailer struct {
	server    *smtpServer
	from      string
	timeout   time.Duration
	tlsConfig *tls.Config // nil: system roots
}

// send delivers one message to one recipient. messageID is fixed per
// delivery, so a mail sent again after a lost answer can be recognised.
func (ml *mailer) send(ctx context.Context, to, messageID string, payload []byte) error {
	var parts emailParts
	if err := json.Unmarshal(payload, &parts); err != nil {
		return permanent(fmt.Errorf("stored email is unreadable: %v", err))
	}
	msg := mail.NewMsg()
	if err := msg.From(ml.from); err != nil {
		return permanent(fmt.Errorf("sender address: %v", err))
	}
	if err := msg.To(to); err != nil {
		return permanent(fmt.Errorf("recipient address: %v", err))
	}
	msg.Subject(parts.Subject)
	msg.SetMessageIDWithValue(messageID)
	msg.SetDate()
	msg.SetUserAgent("GeoETL")
	msg.SetBodyString(mail.TypeTextPlain, parts.Text)
	msg.AddAlternativeString(mail.TypeTextHTML, parts.HTML)

	client, err := mail.NewClient(ml.server.host, ml.clientOptions()...)
	if err != nil {
		return permanent(fmt.Errorf("SMTP client: %v", err))
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if errors.Is(err, mail.ErrNoSupportedAuthDiscovered) {
		return permanent(errors.New("SMTP server offers no way to log in without sending the password in clear " +
			"(no STARTTLS): use smtps:// or a server that offers STARTTLS"))
	}
	if err != nil {
		return fmt.Errorf("connecting to the SMTP server: %w", err)
	}
	err = client.SendWithSMTPClient(conn, msg)
	// The message is handed over once DATA is accepted; a failing QUIT
	// afterwards must not make it count as unsent and go out twice.
	_ = client.CloseWithSMTPClient(conn)
	if err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return permanent(err)
		}
		return err
	}
	return nil
}

func (ml *mailer) clientOptions() []mail.Option {
	s := ml.server
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if ml.tlsConfig != nil {
		tlsConfig = ml.tlsConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = s.host
	}
	opts := []mail.Option{
		mail.WithPort(s.port),
		mail.WithTimeout(ml.timeout),
		mail.WithTLSConfig(tlsConfig),
		mail.WithHELO(heloName()),
	}
	if s.implicitTLS {
		opts = append(opts, mail.WithSSL())
	} else {
		// STARTTLS when the server offers it. A server that offers it but
		// fails the handshake is an error, never a silent fallback to plain
		// text.
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if s.auth {
		// Auto-discovery picks the strongest mechanism the server offers,
		// and only offers PLAIN or LOGIN over TLS, so a password never
		// crosses the network in clear.
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.user), mail.WithPassword(s.pass))
	}
	return opts
}

// heloName is this host's name for EHLO, "localhost" when it has none that
// a server would accept.
func heloName() string {
	h := hostname()
	if h == "" || net.ParseIP(h) != nil || strings.ContainsAny(h, " _") {
		return "localhost"
	}
	return h
}
