package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/store"
)

// errStopped is returned when a signal stops a role before it started: it
// exits 0, as any graceful stop does.
var errStopped = errors.New("stopped before start")

// Backoff bounds of startWith.
const (
	startRetryMin = time.Second
	startRetryMax = 30 * time.Second
)

// startWith calls open until it succeeds, for the long-running roles (check,
// sync): a database or broker that is down, or a password being rotated, at
// start is waited for with capped exponential backoff and one log line per
// attempt, instead of exiting and crash-looping under a supervisor. With
// once, or when ctx ends, the last error is returned. Configuration errors
// are never retried.
func startWith[T any](ctx context.Context, log *slog.Logger, what string, once bool, open func(context.Context) (T, error)) (T, error) {
	wait := startRetryMin
	for {
		v, err := open(ctx)
		var ce *config.Error
		if err == nil || once || errors.As(err, &ce) {
			return v, err
		}
		log.Warn("cannot start, retrying", "what", what, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return v, errStopped
		case <-time.After(wait):
		}
		wait = min(2*wait, startRetryMax)
	}
}

// openDBWait opens the database, waiting for it unless once.
func openDBWait(ctx context.Context, e *env, log *slog.Logger, once bool) (*store.DB, error) {
	if err := e.cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	return startWith(ctx, log, "postgresql", once, func(ctx context.Context) (*store.DB, error) {
		return store.Open(ctx, e.cfg.DatabaseURL, store.Options{})
	})
}
