// Package netserve runs the local servers the non-HTTP checks are tested and
// benchmarked against, on the loopback only: TCP servers (banner, echo,
// silent, a closed port), an authoritative DNS server built with
// github.com/miekg/dns, and TLS listeners with a chain made on the spot.
// Every server stops when the test ends.
package netserve

import (
	"bufio"
	"io"
	"net"
	"sync"
	"testing"
)

// listen returns a TCP listener on 127.0.0.1 closed when the test ends,
// serving each connection with handle in its own goroutine.
func listen(tb testing.TB, handle func(net.Conn)) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("netserve: listen: %v", err)
	}
	var wg sync.WaitGroup
	conns := make(map[net.Conn]struct{})
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				handle(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln
}

// TCPBanner serves banner on every connection, then closes it. It returns
// the server's address, "127.0.0.1:PORT".
func TCPBanner(tb testing.TB, banner string) string {
	tb.Helper()
	return listen(tb, func(c net.Conn) { io.WriteString(c, banner) }).Addr().String()
}

// TCPEcho writes back every line it reads, until the client closes.
func TCPEcho(tb testing.TB) string {
	tb.Helper()
	return listen(tb, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				if _, werr := c.Write(line); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}).Addr().String()
}

// TCPSilent accepts connections and neither reads nor writes until the
// client closes (or the test ends).
func TCPSilent(tb testing.TB) string {
	tb.Helper()
	return listen(tb, func(c net.Conn) { io.Copy(io.Discard, c) }).Addr().String()
}

// ClosedPort returns an address on 127.0.0.1 where nothing listens (a port
// just released).
func ClosedPort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("netserve: listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
