package netprobe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// OpenICMPFunc opens an ICMP socket for IPv4 (v6 false) or IPv6. datagram
// says whether it is an unprivileged datagram socket (the kernel owns the
// echo identifier and WriteTo takes a *net.UDPAddr) rather than a raw one
// (WriteTo takes a *net.IPAddr; every ICMP packet of the host is read).
type OpenICMPFunc func(v6 bool) (conn net.PacketConn, datagram bool, err error)

// DefaultOpenICMP opens a datagram ICMP socket where the host's
// net.ipv4.ping_group_range holds the process's group, else a raw one
// (CAP_NET_RAW or root). When neither is allowed the error wraps both
// failures (syscall.EACCES, syscall.EPERM). A raw socket reads echo replies
// only (an ICMP filter) into a receive buffer of up to icmpReadBuffer bytes,
// so that a burst of replies is not dropped.
func DefaultOpenICMP(v6 bool) (net.PacketConn, bool, error) {
	dgram, raw, any := "udp4", "ip4:icmp", "0.0.0.0"
	if v6 {
		dgram, raw, any = "udp6", "ip6:ipv6-icmp", "::"
	}
	c, derr := icmp.ListenPacket(dgram, any)
	if derr == nil {
		return c, true, nil
	}
	rc, rerr := net.ListenPacket(raw, any)
	if rerr != nil {
		return nil, false, fmt.Errorf("datagram socket: %w; raw socket: %w", derr, rerr)
	}
	ipc := rc.(*net.IPConn)
	// Best effort: the kernel caps the size at net.core.rmem_max, and
	// without the filter the reader only works more.
	_ = ipc.SetReadBuffer(icmpReadBuffer)
	if v6 {
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeEchoReply)
		_ = ipv6.NewPacketConn(ipc).SetICMPFilter(&f)
	} else {
		var f ipv4.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv4.ICMPTypeEchoReply)
		_ = ipv4.NewPacketConn(ipc).SetICMPFilter(&f)
	}
	return ipc, false, nil
}

// icmpReadBuffer is the receive buffer asked for a raw ICMP socket: room for
// some thousands of replies arriving at once.
const icmpReadBuffer = 4 << 20

var (
	errICMPClosed   = errors.New("icmp socket closed: the checker is stopping")
	errProberClosed = errors.New("the checker is stopping")
)

// echoPayload is the data of every echo request.
const echoPayload = "sitestat netprobe"

// probeICMP sends one echo request to t's host on the shared socket of its
// address family and waits for the reply.
func (p *Prober) probeICMP(ck *check, t *Target) error {
	ip, err := p.resolve(ck, t.host)
	if err != nil {
		return err
	}
	ck.out.IP = ip
	ck.phase = "open"
	pg, err := p.pinger(ip.Is6())
	if err != nil {
		return err
	}
	ck.phase = "echo"
	rtt, err := pg.ping(ck.ctx, ip)
	if err != nil {
		if errors.Is(err, errICMPClosed) {
			return fail(ReasonProbeError, "%v", err)
		}
		return err
	}
	ck.out.Connected, ck.out.Duration = true, rtt
	return nil
}

// pinger returns the shared socket of the family, opening it on first use
// and again after its reader stopped on an error.
func (p *Prober) pinger(v6 bool) (*pinger, error) {
	i := 0
	if v6 {
		i = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fail(ReasonProbeError, "%v", errProberClosed)
	}
	if pg := p.icmp[i]; pg != nil && !pg.stopped() {
		return pg, nil
	}
	conn, datagram, err := p.opts.OpenICMP(v6)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fail(ReasonICMPNotPermitted, "ICMP not permitted: a datagram socket needs the process's group in "+
				"net.ipv4.ping_group_range, a raw one CAP_NET_RAW or root (%v)", err)
		}
		return nil, fail(ReasonProbeError, "open icmp socket: %v", err)
	}
	pg := newPinger(conn, datagram, v6)
	p.icmp[i] = pg
	return pg, nil
}

// waiting returns how many echo requests wait for their reply.
func (p *Prober) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pg := range p.icmp {
		if pg != nil {
			pg.mu.Lock()
			n += len(pg.waits)
			pg.mu.Unlock()
		}
	}
	return n
}

// pinger is one ICMP socket shared by every check of its address family. A
// reader goroutine hands each echo reply to the check waiting for its
// sequence number (and, on a raw socket, our identifier) from its address.
type pinger struct {
	conn     net.PacketConn
	datagram bool
	v6       bool
	id       uint16 // raw sockets: ours among the host's pingers

	mu    sync.Mutex
	next  uint16
	waits map[uint16]*echoWait
	err   error         // why the reader stopped
	done  chan struct{} // closed when the reader stopped
}

// echoWait is one check waiting for its reply.
type echoWait struct {
	dst   netip.Addr
	reply chan time.Time // when the reply was read; buffered, written once
}

func newPinger(conn net.PacketConn, datagram, v6 bool) *pinger {
	pg := &pinger{
		conn: conn, datagram: datagram, v6: v6,
		id:    uint16(rand.Uint32()),
		next:  uint16(rand.Uint32()),
		waits: make(map[uint16]*echoWait),
		done:  make(chan struct{}),
	}
	go pg.read()
	return pg
}

// ping sends one echo request to dst and returns the round trip.
func (pg *pinger) ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	w := &echoWait{dst: dst, reply: make(chan time.Time, 1)}
	seq, err := pg.register(w)
	if err != nil {
		return 0, err
	}
	defer pg.unregister(seq)
	typ := icmp.Type(ipv4.ICMPTypeEcho)
	if pg.v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	// The checksum of ICMPv6 is the kernel's (it covers the IPv6 header).
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(pg.id), Seq: int(seq), Data: []byte(echoPayload)}}).Marshal(nil)
	if err != nil {
		return 0, fmt.Errorf("marshal echo request: %w", err)
	}
	var to net.Addr = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if pg.datagram {
		to = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	sent := time.Now()
	if _, err := pg.conn.WriteTo(b, to); err != nil {
		return 0, err
	}
	select {
	case at := <-w.reply:
		return at.Sub(sent), nil
	case <-pg.done:
		return 0, pg.stopErr()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// register gives w a sequence number no other check waits on.
func (pg *pinger) register(w *echoWait) (uint16, error) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.err != nil {
		return 0, pg.err
	}
	if len(pg.waits) > 0xffff {
		return 0, errors.New("65536 echo requests in flight on one socket")
	}
	for {
		pg.next++
		if _, used := pg.waits[pg.next]; !used {
			pg.waits[pg.next] = w
			return pg.next, nil
		}
	}
}

func (pg *pinger) unregister(seq uint16) {
	pg.mu.Lock()
	delete(pg.waits, seq)
	pg.mu.Unlock()
}

// read hands replies to their checks until the socket fails or is closed.
func (pg *pinger) read() {
	proto := 1 // ICMP
	if pg.v6 {
		proto = 58 // ICMPv6
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := pg.conn.ReadFrom(buf)
		if err != nil {
			pg.stop(err)
			return
		}
		at := time.Now()
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || (!pg.datagram && echo.ID != int(pg.id)) {
			continue // another pinger's on this host: a raw socket reads them all
		}
		pg.deliver(uint16(echo.Seq), addrOf(from), at)
	}
}

// deliver hands a reply from src to the check waiting on seq, when it waits
// for src.
func (pg *pinger) deliver(seq uint16, src netip.Addr, at time.Time) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if w := pg.waits[seq]; w != nil && w.dst.WithZone("") == src {
		delete(pg.waits, seq)
		w.reply <- at
	}
}

// addrOf returns the IP of a reply's source address.
func addrOf(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.IPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}

// stop records why the reader stopped (the first reason wins) and wakes
// every waiting check.
func (pg *pinger) stop(err error) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.err == nil {
		pg.err = fmt.Errorf("icmp socket: %w", err)
	}
	select {
	case <-pg.done:
	default:
		close(pg.done)
	}
}

func (pg *pinger) stopped() bool {
	select {
	case <-pg.done:
		return true
	default:
		return false
	}
}

func (pg *pinger) stopErr() error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.err
}

// close closes the socket; checks waiting get errICMPClosed.
func (pg *pinger) close() error {
	pg.mu.Lock()
	if pg.err == nil {
		pg.err = errICMPClosed
	}
	pg.mu.Unlock()
	err := pg.conn.Close()
	<-pg.done
	if err != nil {
		return fmt.Errorf("close icmp socket: %w", err)
	}
	return nil
}
