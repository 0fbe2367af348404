package kafka

import (
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitestat/sitestat/testutil/testenv"
)

// flakyProxy is a TCP proxy in front of a real broker that can be told to
// close every new connection at once, as a broker that is going down does.
type flakyProxy struct {
	ln      net.Listener
	target  string
	closing atomic.Bool
	wg      sync.WaitGroup
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &flakyProxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *flakyProxy) addr() string { return p.ln.Addr().String() }

func (p *flakyProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.closing.Load() {
			_ = c.Close()
			continue
		}
		p.wg.Go(func() { p.pipe(c) })
	}
}

func (p *flakyProxy) pipe(c net.Conn) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// TestExplainAfterConnectionWorked: against the real broker, a connection
// closed during setup at an address that worked before in this process is
// explained as the broker going away; at an address that never worked, with
// the protocol hint.
func TestExplainAfterConnectionWorked(t *testing.T) {
	p := newFlakyProxy(t, testenv.Brokers(t)[0])
	opts := Options{Brokers: []string{p.addr()}, Reached: NewReached()}
	if _, err := ListTopics(testCtx(t, 30*time.Second), opts); err != nil {
		t.Fatalf("ListTopics through the proxy: %v", err)
	}
	p.closing.Store(true) // the broker goes away

	_, err := ListTopics(testCtx(t, 30*time.Second), opts)
	if err == nil {
		t.Fatal("ListTopics succeeded with every connection closed")
	}
	msg := err.Error()
	t.Logf("after it worked: %s", msg)
	for _, w := range []string{p.addr(), "went away", "reconnecting"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message does not contain %q", w)
		}
	}
	if strings.Contains(msg, "protocol does not match") || strings.Contains(msg, "SITESTAT_KAFKA_CA_FILE") {
		t.Error("message gives the protocol hint for an address that worked")
	}

	fresh := Options{Brokers: []string{p.addr()}, Reached: NewReached()} // another process
	_, err = ListTopics(testCtx(t, 30*time.Second), fresh)
	if err == nil {
		t.Fatal("ListTopics succeeded with every connection closed")
	}
	t.Logf("never worked: %s", err)
	if !strings.Contains(err.Error(), "protocol does not match") {
		t.Error("message for an address that never worked lacks the protocol hint")
	}
}
