package handlers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
)

// TestBodyLimit_ClientsWithoutExpectContinueGetThe413 posts 2 MiB the way
// Go's (and Python's) clients do, without Expect: 100-continue, so the
// body is still on its way when the server answers. Each client must read
// the problem+json 413, never "connection reset by peer"; declared length
// and chunked bodies both, several times since the reset is a race.
func TestBodyLimit_ClientsWithoutExpectContinueGetThe413(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	_, token, err := env.svc.CreateToken(context.Background(), env.admin, "big bodies", geoetl.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 2<<20)
	for i := 0; i < 10; i++ {
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(body)
			if chunked {
				r = io.MultiReader(r) // hides the length: chunked encoding
			}
			req, err := http.NewRequest(http.MethodPost, env.http.URL+APIPrefix+"/schedules", r)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			// A fresh transport each time: a new connection, as a
			// one-off client would have.
			client := &http.Client{Transport: &http.Transport{}}
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("try %d (chunked %v): %v", i, chunked, err)
			}
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var p Problem
			if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") || json.Unmarshal(data, &p) != nil || p.Status != 413 {
				t.Fatalf("try %d (chunked %v): %d %s %q", i, chunked, res.StatusCode, res.Header.Get("Content-Type"), data)
			}
		}
	}
}

// smallBufferListener gives accepted connections a small receive buffer,
// so a client's body stays on its way (as on a slow uplink) instead of
// fitting into loopback's large buffers at once.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(64 << 10)
	}
	return c, err
}

// TestBodyLimit_RawClientWritingTheWholeBodyReadsThe413 is a client that
// writes its whole request before reading anything, as Python's
// http.client and many SDKs do, on a connection with small buffers: before
// lingering, the server answered, closed with the body unread, and the
// client's writes failed with a reset, so it never saw the answer.
func TestBodyLimit_RawClientWritingTheWholeBodyReadsThe413(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	_, token, err := env.svc.CreateToken(context.Background(), env.admin, "raw", geoetl.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: env.srv}
	go hs.Serve(smallBufferListener{ln})
	t.Cleanup(func() { hs.Close() })
	u := &url.URL{Host: ln.Addr().String()}
	body := bytes.Repeat([]byte("x"), 2<<20)
	for _, chunked := range []bool{false, true} {
		for i := 0; i < 3; i++ {
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			_ = conn.(*net.TCPConn).SetWriteBuffer(64 << 10)
			var req bytes.Buffer
			fmt.Fprintf(&req, "POST %s/schedules HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n", APIPrefix, u.Host, token)
			if chunked {
				req.WriteString("Transfer-Encoding: chunked\r\n\r\n")
				for off := 0; off < len(body); off += 64 << 10 {
					fmt.Fprintf(&req, "%x\r\n", 64<<10)
					req.Write(body[off : off+64<<10])
					req.WriteString("\r\n")
				}
				req.WriteString("0\r\n\r\n")
			} else {
				fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n", len(body))
				req.Write(body)
			}
			if _, err := conn.Write(req.Bytes()); err != nil {
				t.Fatalf("chunked %v, try %d: writing the request: %v", chunked, i, err)
			}
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("chunked %v, try %d: reading the answer: %v", chunked, i, err)
			}
			data, _ := io.ReadAll(res.Body)
			conn.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(data), `"status":413`) {
				t.Fatalf("chunked %v, try %d: %d %q", chunked, i, res.StatusCode, data)
			}
		}
	}
}
