package netprobe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// TestProbeICMP: a row per outcome of an icmp check. The loopback rows use
// the real sockets (raw here, as root); the others inject an opener.
func TestProbeICMP(t *testing.T) {
	requireICMP(t)
	failing := func(err error) OpenICMPFunc {
		return func(bool) (net.PacketConn, bool, error) { return nil, false, err }
	}
	notPermitted := &os.SyscallError{Syscall: "socket", Err: syscall.EPERM}
	tests := []struct {
		name      string
		spec      Spec
		opts      Options
		reason    Reason
		errPart   string
		connected bool
	}{
		{"loopback", Spec{URL: "icmp://127.0.0.1"}, Options{}, ReasonOK, "", true},
		{"loopback by name", Spec{URL: "icmp://localhost"}, Options{}, ReasonOK, "", true},
		{"loopback v6", Spec{URL: "icmp://[::1]"}, Options{}, ReasonOK, "", true},
		{"not permitted", Spec{URL: "icmp://127.0.0.1"}, Options{OpenICMP: failing(notPermitted)}, ReasonICMPNotPermitted, "CAP_NET_RAW", false},
		{"not permitted v6", Spec{URL: "icmp://[::1]"}, Options{OpenICMP: failing(&os.SyscallError{Syscall: "socket", Err: syscall.EACCES})}, ReasonICMPNotPermitted, "ping_group_range", false},
		{"socket error", Spec{URL: "icmp://127.0.0.1"}, Options{OpenICMP: failing(&os.SyscallError{Syscall: "socket", Err: syscall.EMFILE})}, ReasonProbeError, "too many open files", false},
		{"no reply", Spec{URL: "icmp://127.0.0.1", Timeout: 150 * time.Millisecond}, Options{OpenICMP: fakeICMP(replyNone)}, ReasonTimeout, "timeout after 150ms during echo", false},
		{"reply with another id", Spec{URL: "icmp://127.0.0.1", Timeout: 150 * time.Millisecond}, Options{OpenICMP: fakeICMP(replyOtherID)}, ReasonTimeout, "during echo", false},
		{"reply from another address", Spec{URL: "icmp://127.0.0.1", Timeout: 150 * time.Millisecond}, Options{OpenICMP: fakeICMP(replyOtherSource)}, ReasonTimeout, "during echo", false},
		{"fake reply", Spec{URL: "icmp://127.0.0.1"}, Options{OpenICMP: fakeICMP(replyRight)}, ReasonOK, "", true},
		{"no such host", Spec{URL: "icmp://nowhere.invalid"}, Options{}, ReasonDNSError, "nowhere.invalid", false},
		{"blocked", Spec{URL: "icmp://127.0.0.1"}, Options{Deny: denyLoopback}, ReasonBlocked, "loopback", false},
		{"invalid", Spec{URL: "icmp://127.0.0.1:7"}, Options{}, ReasonInvalidConfig, "no port", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProber(tt.opts)
			defer p.Close()
			out := p.Probe(context.Background(), NewTarget(tt.spec))
			if out.Reason != tt.reason || !strings.Contains(out.Error, tt.errPart) {
				t.Fatalf("Probe = %s %q, want %s with %q", out.Reason, out.Error, tt.reason, tt.errPart)
			}
			if out.Kind != KindICMP || out.Connected != tt.connected {
				t.Errorf("Kind %q Connected %v, want icmp %v", out.Kind, out.Connected, tt.connected)
			}
			if tt.connected && (!out.IP.IsLoopback() || out.Duration <= 0) {
				t.Errorf("IP %v Duration %v", out.IP, out.Duration)
			}
		})
	}
}

// TestICMPConcurrent: many checks at once to many loopback addresses share
// one socket, and each gets the reply from its own address.
func TestICMPConcurrent(t *testing.T) {
	requireICMP(t)
	var opens atomic.Int32
	p := NewProber(Options{OpenICMP: func(v6 bool) (net.PacketConn, bool, error) {
		opens.Add(1)
		return DefaultOpenICMP(v6)
	}})
	defer p.Close()
	const checks, addrs = 400, 40
	targets := make([]*Target, addrs)
	for i := range targets {
		targets[i] = NewTarget(Spec{URL: "icmp://127.0.0." + strconv.Itoa(i+1), Timeout: 5 * time.Second})
	}
	var wg sync.WaitGroup
	errs := make(chan string, checks)
	for i := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg := targets[i%addrs]
			out := p.Probe(context.Background(), tg)
			want := netip.MustParseAddr("127.0.0." + strconv.Itoa(i%addrs+1))
			if out.Reason != ReasonOK || out.IP != want {
				errs <- fmt.Sprintf("check %d: %s %q ip %v, want ok from %v", i, out.Reason, out.Error, out.IP, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("opened %d ICMP sockets, want 1", n)
	}
}

// TestICMPClose: closing the prober ends a check waiting for a reply, and
// later checks fail the same way, without a crash.
func TestICMPClose(t *testing.T) {
	p := NewProber(Options{OpenICMP: fakeICMP(replyNone)})
	done := make(chan Outcome)
	go func() {
		done <- p.Probe(context.Background(), NewTarget(Spec{URL: "icmp://127.0.0.1", Timeout: 10 * time.Second}))
	}()
	// Wait until the check is waiting, then close.
	deadline := time.Now().Add(5 * time.Second)
	for p.waiting() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the check never sent its echo request")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case out := <-done:
		if out.Reason != ReasonProbeError || !strings.Contains(out.Error, "closed") {
			t.Errorf("in flight: %s %q, want probe_error with closed", out.Reason, out.Error)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the check did not end when the prober closed")
	}
	if out := p.Probe(context.Background(), NewTarget(Spec{URL: "icmp://127.0.0.1"})); out.Reason != ReasonProbeError {
		t.Errorf("after Close: %s %q, want probe_error", out.Reason, out.Error)
	}
}

// TestDefaultOpenICMP: a datagram socket exactly when ping_group_range
// holds our group, else a raw one (we run as root here).
func TestDefaultOpenICMP(t *testing.T) {
	requireICMP(t)
	c, datagram, err := DefaultOpenICMP(false)
	if err != nil {
		t.Fatalf("DefaultOpenICMP: %v", err)
	}
	defer c.Close()
	b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if err != nil {
		t.Skipf("no ping_group_range: %v", err)
	}
	var lo, hi int
	fmt.Sscan(string(b), &lo, &hi)
	gid := os.Getgid()
	if want := lo <= gid && gid <= hi; datagram != want {
		t.Errorf("datagram = %v with ping_group_range %d-%d and gid %d", datagram, lo, hi, gid)
	}
}

// requireICMP skips when this host allows no ICMP socket at all (outside
// CI only: under CI=true that is a failure).
func requireICMP(t *testing.T) {
	t.Helper()
	c, _, err := DefaultOpenICMP(false)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no ICMP socket: %v", err)
	}
	t.Skipf("no ICMP socket: %v", err)
}

// How a fake ICMP socket answers an echo request.
type replyMode int

const (
	replyNone        replyMode = iota // never
	replyRight                        // as the peer would
	replyOtherID                      // with another identifier
	replyOtherSource                  // from another address
)

// fakeICMP returns an opener of raw-like sockets that answer as mode says.
func fakeICMP(mode replyMode) OpenICMPFunc {
	return func(bool) (net.PacketConn, bool, error) {
		return &fakeConn{mode: mode, in: make(chan fakePacket, 16), done: make(chan struct{})}, false, nil
	}
}

type fakePacket struct {
	b    []byte
	from net.Addr
}

type fakeConn struct {
	mode replyMode
	in   chan fakePacket
	once sync.Once
	done chan struct{}
}

func (c *fakeConn) WriteTo(b []byte, dst net.Addr) (int, error) {
	m, err := icmp.ParseMessage(1, b)
	if err != nil {
		return 0, err
	}
	echo, ok := m.Body.(*icmp.Echo)
	if !ok || c.mode == replyNone {
		return len(b), nil
	}
	from := dst
	reply := *echo
	switch c.mode {
	case replyOtherID:
		reply.ID++
	case replyOtherSource:
		from = &net.IPAddr{IP: net.IPv4(127, 9, 9, 9)}
	}
	rb, err := (&icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: &reply}).Marshal(nil)
	if err != nil {
		return 0, err
	}
	select {
	case c.in <- fakePacket{rb, from}:
	case <-c.done:
	}
	return len(b), nil
}

func (c *fakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case p := <-c.in:
		return copy(b, p.b), p.from, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}

func (c *fakeConn) Close() error                     { c.once.Do(func() { close(c.done) }); return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.IPAddr{IP: net.IPv4zero} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
