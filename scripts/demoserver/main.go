// Command demoserver serves the local target website (testutil/target) for
// `make demo`: /ok, /status/{code}, /slow, /redirect/{n}, /loop, /big and
// /drip, on a loopback address only.
//
// Usage:
//
//	go run ./scripts/demoserver -addr 127.0.0.1:8089
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sitestat/sitestat/testutil/target"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "address to listen on (a loopback address)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "demoserver")
	if err := run(ctx, *addr, log); err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}

// run serves the target on addr until ctx is cancelled.
func run(ctx context.Context, addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("parse -addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: the demo server listens on a loopback IP only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: target.Handler(), ReadHeaderTimeout: 5 * time.Second}
	log.Info("serving", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
