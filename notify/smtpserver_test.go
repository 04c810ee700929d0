package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpMode is how the test SMTP server secures its connections.
type smtpMode int

const (
	smtpPlain    smtpMode = iota // no TLS at all
	smtpSTARTTLS                 // offers STARTTLS
	smtpImplicit                 // TLS from the first byte (smtps)
)

// received is one mail the test server accepted.
type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // the mail came over an encrypted connection
	User string // who authenticated, "" when no one did
}

// smtpOptions shape a test SMTP server.
type smtpOptions struct {
	mode       smtpMode
	user, pass string          // when set, AUTH PLAIN is required
	rcptErr    *smtp.SMTPError // every RCPT TO is answered with this, when set
}

// testSMTP is a real SMTP server on loopback that records what it gets.
type testSMTP struct {
	Addr  string
	Roots *x509.CertPool // trusts the server's certificate

	mu    sync.Mutex
	mails []received
	auths []string // passwords offered, to check none travels in clear
}

func startSMTP(t *testing.T, opts smtpOptions) *testSMTP {
	t.Helper()
	ts := &testSMTP{}
	cert, roots := selfSigned(t)
	ts.Roots = roots
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: ts, conn: c, opts: opts}, nil
	})
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	// Advertise AUTH on plain connections too, so a test can show that the
	// client still keeps the password to itself there.
	s.AllowInsecureAuth = true
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	var l net.Listener
	var err error
	switch opts.mode {
	case smtpImplicit:
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsConfig)
	default:
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if opts.mode == smtpSTARTTLS {
			s.TLSConfig = tlsConfig
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.Addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return ts
}

// Mails returns what the server has accepted so far.
func (ts *testSMTP) Mails() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.mails...)
}

// Passwords returns every password a client offered.
func (ts *testSMTP) Passwords() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.auths...)
}

type smtpSession struct {
	srv  *testSMTP
	conn *smtp.Conn
	opts smtpOptions
	user string
	cur  received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.srv.mu.Lock()
		s.srv.auths = append(s.srv.auths, pass)
		s.srv.mu.Unlock()
		if user != s.opts.user || pass != s.opts.pass {
			return errors.New("invalid credentials")
		}
		s.user = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.opts.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.opts.rcptErr != nil {
		return s.opts.rcptErr
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	_, s.cur.TLS = s.conn.TLSConnectionState()
	s.cur.User = s.user
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, s.cur)
	s.srv.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.cur = received{} }
func (s *smtpSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "geoetl test SMTP"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
