package checker

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/internal/redact"
)

// serve starts an httptest server for h, closed when the test ends.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// serveTLS starts an httptest TLS server (self-signed) for h.
func serveTLS(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are what the tests want
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// rawServer listens on a local port and runs handle for each connection;
// listener and connections are closed when the test ends. It returns the
// address.
func rawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequest reads one request's head from c.
func readRequest(c net.Conn) {
	_, _ = http.ReadRequest(bufio.NewReader(c))
}

// serveOn starts an httptest server for h listening on addr, e.g.
// "127.0.0.2:0", closed when the test ends.
func serveOn(t *testing.T, addr string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func boolp(b bool) *bool { return &b }

func TestProbe(t *testing.T) {
	t.Parallel()
	const short = 500 * time.Millisecond // timeout of the rows that time out

	type row struct {
		name  string
		setup func(t *testing.T) (contract.Site, ProbeOptions)
		// expectations
		reason    contract.Reason
		status    int   // 0: no response (nil)
		regex     *bool // nil: not evaluated
		redirects int
		finalURL  string // suffix of FinalURL; "" skips the check
		errHas    string // substring of Error when not ok
		check     func(t *testing.T, r contract.Result)
	}
	site := func(url, re string) contract.Site {
		return contract.Site{ID: 42, URL: url, Interval: time.Minute, Regex: re}
	}
	opts := ProbeOptions{Timeout: 5 * time.Second, Probe: "test-probe", UserAgent: "sitestat/test", MaxRedirects: DefaultMaxRedirects}
	shortOpts := opts
	shortOpts.Timeout = short

	hello := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello world") }

	rows := []row{{
		name: "ok with regex match",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if r.UserAgent() != "sitestat/test" {
					http.Error(w, "bad user agent "+r.UserAgent(), http.StatusBadRequest)
					return
				}
				hello(w, r)
			})
			return site(srv.URL+"/", `wor.d`), opts
		},
		reason: contract.ReasonOK, status: 200, regex: boolp(true), finalURL: "/",
		check: func(t *testing.T, r contract.Result) {
			if r.BodyBytes != int64(len("hello world")) {
				t.Errorf("body_bytes = %d, want %d", r.BodyBytes, len("hello world"))
			}
			if r.TLSVersion != "" || r.CertNotAfter != nil {
				t.Errorf("tls fields set for http: %q %v", r.TLSVersion, r.CertNotAfter)
			}
			if r.PhasesMs.TTFBMs <= 0 || r.PhasesMs.ConnectMs <= 0 {
				t.Errorf("phases = %+v, want connect and ttfb > 0", r.PhasesMs)
			}
			if r.PhasesMs.DNSMs != 0 {
				t.Errorf("dns phase = %v for an IP literal, want 0", r.PhasesMs.DNSMs)
			}
		},
	}, {
		name: "regex mismatch",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			return site(serve(t, hello).URL, `goodbye`), opts
		},
		reason: contract.ReasonRegexMismatch, status: 200, regex: boolp(false), errHas: "goodbye",
	}, {
		name: "ok without regex",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			return site(serve(t, hello).URL, ""), opts
		},
		reason: contract.ReasonOK, status: 200,
		check: func(t *testing.T, r contract.Result) {
			if r.BodyBytes != int64(len("hello world")) {
				t.Errorf("body_bytes = %d, want %d", r.BodyBytes, len("hello world"))
			}
		},
	}, {
		name: "404",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			return site(serve(t, http.NotFound).URL, `page`), opts
		},
		reason: contract.ReasonHTTPStatus, status: 404, errHas: "404",
	}, {
		name: "500 with a matching regex is http_status",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(500)
				io.WriteString(w, "hello world")
			})
			return site(srv.URL, `hello`), opts
		},
		reason: contract.ReasonHTTPStatus, status: 500, errHas: "500",
	}, {
		name: "redirects followed",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/a":
					http.Redirect(w, r, "/b", http.StatusFound)
				case "/b":
					http.Redirect(w, r, "/c", http.StatusMovedPermanently)
				default:
					hello(w, r)
				}
			})
			return site(srv.URL+"/a", `hello`), opts
		},
		reason: contract.ReasonOK, status: 200, regex: boolp(true), redirects: 2, finalURL: "/c",
	}, {
		name: "redirect loop",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/a" {
					http.Redirect(w, r, "/b", http.StatusFound)
				} else {
					http.Redirect(w, r, "/a", http.StatusFound)
				}
			})
			return site(srv.URL+"/a", ""), opts
		},
		reason: contract.ReasonRedirectError, status: 302, redirects: 1, finalURL: "/b", errHas: "loop",
	}, {
		name: "more redirects than allowed",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
				http.Redirect(w, r, fmt.Sprintf("/%d", n+1), http.StatusFound)
			})
			o := opts
			o.MaxRedirects = 3
			return site(srv.URL+"/0", ""), o
		},
		reason: contract.ReasonRedirectError, status: 302, redirects: 3, finalURL: "/3", errHas: "more than 3",
	}, {
		name: "redirects not followed with MaxRedirects 0",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/x" {
					t.Errorf("the redirect was followed with MaxRedirects 0")
				}
				http.Redirect(w, r, "/x", http.StatusFound)
			})
			o := opts
			o.MaxRedirects = 0
			return site(srv.URL+"/", ""), o
		},
		reason: contract.ReasonHTTPStatus, status: 302, redirects: 0, finalURL: "/",
	}, {
		name: "redirects not followed with MaxRedirects negative",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/x", http.StatusFound) })
			o := opts
			o.MaxRedirects = -1
			return site(srv.URL+"/", ""), o
		},
		reason: contract.ReasonHTTPStatus, status: 302, redirects: 0, finalURL: "/",
	}, {
		name: "credentials are sent but redacted in the result",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
					http.Error(w, "no credentials", http.StatusUnauthorized)
					return
				}
				if r.URL.Path == "/a" {
					http.Redirect(w, r, "/b", http.StatusFound)
					return
				}
				hello(w, r)
			})
			return site(strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)+"/a", "hello"), opts
		},
		reason: contract.ReasonOK, status: 200, regex: boolp(true), redirects: 1, finalURL: "/b",
		check: func(t *testing.T, r contract.Result) {
			b, _ := r.Encode()
			if strings.Contains(string(b), "s3cret") {
				t.Errorf("the password is in the result: %s", b)
			}
			for _, u := range []string{r.URL, r.FinalURL} {
				if strings.Contains(u, "alice") || !strings.HasPrefix(u, "http://127.0.0.1:") {
					t.Errorf("url %q, want no user info at all", u)
				}
			}
		},
	}, {
		name: "credentials redacted in a failed check",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			return site("http://bob:hunter2@"+closedPort(t)+"/", ""), opts
		},
		reason: contract.ReasonConnectionRefused,
		check: func(t *testing.T, r contract.Result) {
			if b, _ := r.Encode(); strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "bob") || r.URL == "" || r.FinalURL == "" {
				t.Errorf("result %s: want no user info in url and final_url", b)
			}
		},
	}, {
		name: "loopback target denied",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				t.Errorf("a denied address was reached: %s", r.URL)
			})
			o := opts
			o.DenyPrivate = true // the default list: 127.0.0.0/8 among others
			return site(srv.URL+"/", ""), o
		},
		reason: contract.ReasonBlocked, errHas: "127.0.0.1",
	}, {
		name: "name resolving to loopback denied",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				t.Errorf("a denied address was reached: %s", r.URL)
			})
			o := opts
			o.DenyPrivate = true
			return site(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/", ""), o
		},
		reason: contract.ReasonBlocked,
	}, {
		name: "redirect from an allowed host to a denied one",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			denied := serve(t, func(w http.ResponseWriter, r *http.Request) {
				t.Errorf("a denied address was reached through a redirect: %s", r.URL)
			})
			allowed := serveOn(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, denied.URL+"/secret", http.StatusFound)
			})
			o := opts
			o.DenyPrivate = true
			o.DenyPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			return site(allowed.URL+"/", ""), o
		},
		reason: contract.ReasonBlocked, redirects: 1, finalURL: "/secret", errHas: "127.0.0.1",
	}, {
		name: "allowed address with deny on",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			allowed := serveOn(t, "127.0.0.2:0", hello)
			o := opts
			o.DenyPrivate = true
			o.DenyPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			return site(allowed.URL+"/", "hello"), o
		},
		reason: contract.ReasonOK, status: 200, regex: boolp(true),
	}, {
		name: "redirect to ftp",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "ftp://example.invalid/", http.StatusFound)
			})
			return site(srv.URL, ""), opts
		},
		reason: contract.ReasonRedirectError, status: 302, errHas: "ftp",
	}, {
		name: "redirect to a closed port",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			to := "http://" + closedPort(t) + "/gone"
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
			return site(srv.URL, ""), opts
		},
		reason: contract.ReasonConnectionRefused, redirects: 1, finalURL: "/gone",
	}, {
		name: "slow headers time out during ttfb",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			})
			return site(srv.URL, ""), shortOpts
		},
		reason: contract.ReasonTimeout, errHas: "timeout after 500ms during ttfb",
		check: func(t *testing.T, r contract.Result) {
			if r.PhasesMs.TTFBMs < 400 {
				t.Errorf("ttfb = %vms, want about the timeout", r.PhasesMs.TTFBMs)
			}
		},
	}, {
		name: "interval shorter than the timeout bounds the check",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			})
			s := site(srv.URL, "")
			s.Interval = 300 * time.Millisecond
			return s, opts
		},
		reason: contract.ReasonTimeout, errHas: "timeout after 300ms during ttfb",
		check: func(t *testing.T, r contract.Result) {
			if r.ResponseTimeMs > 1000 {
				t.Errorf("response_time_ms = %v, want about 300", r.ResponseTimeMs)
			}
		},
	}, {
		name: "dripping body times out during transfer",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000")
				w.WriteHeader(200)
				for i := 0; i < 100; i++ {
					if _, err := w.Write([]byte("x")); err != nil {
						return
					}
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			})
			return site(srv.URL, `x`), shortOpts
		},
		reason: contract.ReasonTimeout, status: 200, errHas: "during transfer",
		check: func(t *testing.T, r contract.Result) {
			if r.BodyBytes == 0 || r.PhasesMs.TransferMs < 300 {
				t.Errorf("body_bytes = %d, transfer = %vms; want some bytes and most of the timeout", r.BodyBytes, r.PhasesMs.TransferMs)
			}
		},
	}, {
		name: "server that never answers times out during ttfb",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			addr := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
			return site("http://"+addr+"/", ""), shortOpts
		},
		reason: contract.ReasonTimeout, errHas: "during ttfb",
	}, {
		name: "TLS server that never answers times out during tls",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			addr := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
			return site("https://"+addr+"/", ""), shortOpts
		},
		reason: contract.ReasonTimeout, errHas: "during tls",
	}, {
		name: "self-signed certificate",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			return site(serveTLS(t, hello).URL, ""), opts
		},
		reason: contract.ReasonTLSError, errHas: "certificate",
		check: func(t *testing.T, r contract.Result) {
			if r.CertNotAfter == nil {
				t.Errorf("cert_not_after not set from the unverified certificate")
			}
		},
	}, {
		name: "https with a trusted certificate",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serveTLS(t, hello)
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			o := opts
			o.RootCAs = pool
			return site(srv.URL, "hello"), o
		},
		reason: contract.ReasonOK, status: 200, regex: boolp(true),
		check: func(t *testing.T, r contract.Result) {
			if r.TLSVersion != "TLS 1.3" {
				t.Errorf("tls_version = %q, want TLS 1.3", r.TLSVersion)
			}
			if r.CertNotAfter == nil || r.CertNotAfter.Before(time.Now()) {
				t.Errorf("cert_not_after = %v, want a future time", r.CertNotAfter)
			}
			if r.PhasesMs.TLSMs <= 0 {
				t.Errorf("tls phase = %v, want > 0", r.PhasesMs.TLSMs)
			}
		},
	}, {
		name: "plain http on a TLS url",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, hello)
			return site(strings.Replace(srv.URL, "http://", "https://", 1), ""), opts
		},
		reason: contract.ReasonTLSError,
	}, {
		name: "closed port",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			return site("http://"+closedPort(t)+"/", ""), opts
		},
		reason: contract.ReasonConnectionRefused, errHas: "refused",
	}, {
		name: "unknown host",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			return site("http://sitestat-test.invalid/", ""), opts
		},
		reason: contract.ReasonDNSError, errHas: "sitestat-test.invalid",
		check: func(t *testing.T, r contract.Result) {
			if r.ResponseTimeMs > 2000 {
				t.Errorf("resolving .invalid took %vms; the resolver is slow", r.ResponseTimeMs)
			}
		},
	}, {
		name: "gzip body is matched decompressed",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
					http.Error(w, "no gzip", http.StatusBadRequest)
					return
				}
				w.Header().Set("Content-Encoding", "gzip")
				zw := gzip.NewWriter(w)
				io.WriteString(zw, "hello compressed world")
				zw.Close()
			})
			return site(srv.URL, `compressed`), opts
		},
		reason: contract.ReasonOK, status: 200, regex: boolp(true),
		check: func(t *testing.T, r contract.Result) {
			if r.BodyBytes != int64(len("hello compressed world")) {
				t.Errorf("body_bytes = %d, want the decompressed %d", r.BodyBytes, len("hello compressed world"))
			}
		},
	}, {
		name: "connection reset",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			addr := rawServer(t, func(c net.Conn) {
				readRequest(c)
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			})
			return site("http://"+addr+"/", ""), opts
		},
		reason: contract.ReasonConnectionError,
	}, {
		name: "malformed response",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			addr := rawServer(t, func(c net.Conn) {
				readRequest(c)
				io.WriteString(c, "garbage\r\n\r\n")
				c.Close()
			})
			return site("http://"+addr+"/", ""), opts
		},
		reason: contract.ReasonConnectionError, errHas: "malformed",
	}, {
		name: "body shorter than its length",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			addr := rawServer(t, func(c net.Conn) {
				readRequest(c)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort")
				c.Close()
			})
			return site("http://"+addr+"/", "short"), opts
		},
		reason: contract.ReasonBodyReadError, status: 200, errHas: "EOF",
	}, {
		name:   "unparsable url",
		setup:  func(t *testing.T) (contract.Site, ProbeOptions) { return site("http://[::1", ""), opts },
		reason: contract.ReasonInvalidConfig, errHas: "invalid url",
	}, {
		name:   "ftp url",
		setup:  func(t *testing.T) (contract.Site, ProbeOptions) { return site("ftp://example.com/", ""), opts },
		reason: contract.ReasonInvalidConfig, errHas: "ftp",
	}, {
		name:   "url without host",
		setup:  func(t *testing.T) (contract.Site, ProbeOptions) { return site("http:///path", ""), opts },
		reason: contract.ReasonInvalidConfig, errHas: "no host",
	}, {
		name:   "url with a bad port",
		setup:  func(t *testing.T) (contract.Site, ProbeOptions) { return site("http://example.com:99999/", ""), opts },
		reason: contract.ReasonInvalidConfig, errHas: "port",
	}, {
		name: "invalid regex",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			return site("http://127.0.0.1:1/", "(unclosed"), opts
		},
		reason: contract.ReasonInvalidConfig, errHas: "up_regex",
	}, {
		name:   "regex with a Perl-only construct",
		setup:  func(t *testing.T) (contract.Site, ProbeOptions) { return site("http://127.0.0.1:1/", `(?=look)`), opts },
		reason: contract.ReasonInvalidConfig, errHas: "up_regex",
	}, {
		name: "regex whose program is too large",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			return site("http://127.0.0.1:1/", `\pL{1000}X`), opts
		},
		reason: contract.ReasonInvalidConfig, errHas: "instructions, more than 100",
	}, {
		name: "costly regex gives up at the deadline",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			// 93 instructions, under the limit, but about 1.7 s of CPU on
			// 1 MiB of letters; the check's timeout is 500 ms.
			body := bytes.Repeat([]byte("abcdefghij"), DefaultMaxBody/10)
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
			return site(srv.URL, `\pL{90}X`), shortOpts
		},
		reason: contract.ReasonTimeout, status: 200, errHas: "during regex match",
	}, {
		name: "zero interval",
		setup: func(t *testing.T) (contract.Site, ProbeOptions) {
			s := site("http://127.0.0.1:1/", "")
			s.Interval = 0
			return s, opts
		},
		reason: contract.ReasonInvalidConfig, errHas: "interval",
	}}

	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, o := tc.setup(t)
			before := time.Now()
			r := Probe(context.Background(), s, o)
			after := time.Now()
			if d, limit := after.Sub(before), o.withDefaults().Timeout+time.Second; d > limit {
				t.Errorf("the check took %s, longer than its timeout and a second", d)
			}

			if r.Reason != tc.reason {
				t.Fatalf("reason = %q (error %q), want %q", r.Reason, r.Error, tc.reason)
			}
			if r.Up != (tc.reason == contract.ReasonOK) {
				t.Errorf("up = %t with reason %q", r.Up, r.Reason)
			}
			if (r.Error == "") != (tc.reason == contract.ReasonOK) {
				t.Errorf("error = %q with reason %q: want empty exactly when ok", r.Error, r.Reason)
			}
			if tc.errHas != "" && !strings.Contains(r.Error, tc.errHas) {
				t.Errorf("error = %q, want it to contain %q", r.Error, tc.errHas)
			}
			switch {
			case tc.status == 0 && r.StatusCode != nil:
				t.Errorf("status_code = %d, want nil", *r.StatusCode)
			case tc.status != 0 && (r.StatusCode == nil || *r.StatusCode != tc.status):
				t.Errorf("status_code = %v, want %d", r.StatusCode, tc.status)
			}
			switch {
			case tc.regex == nil && r.RegexMatched != nil:
				t.Errorf("regex_matched = %t, want nil", *r.RegexMatched)
			case tc.regex != nil && (r.RegexMatched == nil || *r.RegexMatched != *tc.regex):
				t.Errorf("regex_matched = %v, want %t", r.RegexMatched, *tc.regex)
			}
			if r.Redirects != tc.redirects {
				t.Errorf("redirects = %d, want %d", r.Redirects, tc.redirects)
			}
			if tc.finalURL != "" && !strings.HasSuffix(r.FinalURL, tc.finalURL) {
				t.Errorf("final_url = %q, want it to end with %q", r.FinalURL, tc.finalURL)
			}
			limit := ms(o.withDefaults().Timeout + time.Second)
			if tc.reason == contract.ReasonInvalidConfig {
				if r.ResponseTimeMs != 0 {
					t.Errorf("response_time_ms = %v for invalid config, want 0", r.ResponseTimeMs)
				}
			} else if r.ResponseTimeMs <= 0 || r.ResponseTimeMs > limit {
				t.Errorf("response_time_ms = %v, want in (0, %v]", r.ResponseTimeMs, limit)
			}
			p := r.PhasesMs
			if sum := p.DNSMs + p.ConnectMs + p.TLSMs + p.TTFBMs + p.TransferMs; sum > r.ResponseTimeMs+1 {
				t.Errorf("phases %+v add up to %v > response_time_ms %v", p, sum, r.ResponseTimeMs)
			}
			if r.V != contract.Version || r.WebsiteID != 42 || r.URL != redact.URL(s.URL, redact.KeepQuery) || r.Probe != "test-probe" {
				t.Errorf("identity fields: v=%d website_id=%d url=%q probe=%q", r.V, r.WebsiteID, r.URL, r.Probe)
			}
			if r.CheckedAt.Location() != time.UTC || r.CheckedAt.Before(before.Add(-time.Millisecond)) || r.CheckedAt.After(after) {
				t.Errorf("checked_at = %v, want UTC within the call", r.CheckedAt)
			}
			// Every result honours the message contract.
			b, err := r.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := contract.Decode(r.Key(), b); err != nil {
				t.Errorf("Decode(Encode(result)): %v", err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestProbeHugeBody checks that a 50 MB response costs MaxBody, not 50 MB:
// the read stops at the limit and the connection is dropped undrained.
func TestProbeHugeBody(t *testing.T) {
	const total = 50 << 20
	chunk := []byte(strings.Repeat("0123456789abcdef", 4096)) // 64 KiB
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(total))
		for sent := 0; sent < total; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	for _, re := range []string{"", `never-there`} {
		t.Run("regex="+re, func(t *testing.T) {
			p := NewProber(ProbeOptions{Timeout: 10 * time.Second})
			defer p.Close()
			target := NewTarget(contract.Site{ID: 1, URL: srv.URL, Interval: time.Minute, Regex: re})
			p.Probe(context.Background(), target) // warm the pools

			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			r := p.Probe(context.Background(), target)
			runtime.ReadMemStats(&m1)

			want := contract.ReasonOK
			if re != "" {
				want = contract.ReasonRegexMismatch
			}
			if r.Reason != want {
				t.Fatalf("reason = %q (%s), want %q", r.Reason, r.Error, want)
			}
			if r.BodyBytes != DefaultMaxBody {
				t.Errorf("body_bytes = %d, want %d", r.BodyBytes, DefaultMaxBody)
			}
			if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 10<<20 {
				t.Errorf("a check of a 50 MB body allocated %d MB", grew>>20)
			}
		})
	}
}

func TestNewTarget(t *testing.T) {
	valid := NewTarget(contract.Site{ID: 1, URL: "https://example.com/x?y=1", Interval: time.Second, Regex: "a+"})
	if err := valid.Err(); err != nil {
		t.Fatalf("Err() = %v for a valid site", err)
	}
	if got := valid.Site().URL; got != "https://example.com/x?y=1" {
		t.Errorf("Site().URL = %q", got)
	}
	// Every problem is reported, not only the first.
	bad := NewTarget(contract.Site{ID: 1, URL: "ftp://x", Interval: 0, Regex: "("})
	for _, want := range []string{"ftp", "up_regex", "interval"} {
		if err := bad.Err(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %v, want it to mention %q", err, want)
		}
	}
}

// uuidText is the canonical text form of a UUID, as newUUID writes it.
var uuidText = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestNewUUID(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		u := newUUID()
		if !uuidText.MatchString(u) || u[14] != '4' || !strings.ContainsRune("89ab", rune(u[19])) {
			t.Fatalf("newUUID() = %q, not a version 4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("newUUID() repeated %q", u)
		}
		seen[u] = true
	}
}

func TestShorten(t *testing.T) {
	if s := strings.Repeat("é", contract.MaxErrorLen); shorten(s) != s {
		t.Errorf("shorten cut %d characters, the limit", contract.MaxErrorLen)
	}
	got := shorten(strings.Repeat("é", contract.MaxErrorLen+1))
	if n := utf8.RuneCountInString(got); n != contract.MaxErrorLen || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("shorten: %d characters, %q…", n, got[:10])
	}
	if s := shorten("short"); s != "short" {
		t.Errorf("shorten(short) = %q", s)
	}
}

// BenchmarkProbe measures a check against a local server, to compare with
// BenchmarkBareGet (a plain GET with a fresh connection).
func BenchmarkProbe(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello world") }))
	defer srv.Close()
	p := NewProber(ProbeOptions{})
	defer p.Close()
	target := NewTarget(contract.Site{ID: 1, URL: srv.URL, Interval: time.Minute, Regex: "world"})
	b.ReportAllocs()
	for b.Loop() {
		if r := p.Probe(context.Background(), target); !r.Up {
			b.Fatal(r.Error)
		}
	}
}

// BenchmarkBareGet is the baseline: http.Get with keep-alives off.
func BenchmarkBareGet(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello world") }))
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
