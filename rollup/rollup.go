// Package rollup is sync's rollup task: soon after an hour's grace hour has
// passed it merges the hourly rollups into days, and when a new UTC day
// begins it fills the long windows' cache of `status` (the window warm-up).
package rollup

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/store"
)

// DB is what the task needs of the database (store.DB is one).
type DB interface {
	FoldRollups(ctx context.Context, now time.Time) (store.FoldReport, error)
	WarmWindows(ctx context.Context, now time.Time) error
}

// Options are a Merger's settings.
type Options struct {
	DB     DB
	Every  time.Duration // how often it looks: min(SITESTAT_PRUNE_INTERVAL, 5m) in sync
	Logger *slog.Logger
}

// Merger runs the merges and the warm-ups; its counters are safe to read
// at any time.
type Merger struct {
	db    DB
	every time.Duration
	log   *slog.Logger

	warmed time.Time // the UTC day the window cache was last filled for, or Run started (Run's goroutine only)

	mergedRows, failures atomic.Int64
}

// New returns the task of o.
func New(o Options) *Merger {
	return &Merger{db: o.DB, every: o.Every, log: o.Logger}
}

// Run merges at once and then every interval, and fills the window cache
// at the first look of each new UTC day (a start adds no work), until ctx
// ends; it returns nil. A failure is logged and counted, and tried again at
// the next look.
func (m *Merger) Run(ctx context.Context) error {
	t := time.NewTicker(m.every)
	defer t.Stop()
	m.warmed = time.Now().UTC().Truncate(24 * time.Hour)
	for {
		m.fold(ctx)
		m.warm(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// fold merges the hours past their grace hour into days.
func (m *Merger) fold(ctx context.Context) {
	rep, err := m.db.FoldRollups(ctx, time.Now())
	if err != nil {
		if ctx.Err() == nil {
			m.failures.Add(1)
			m.log.Warn("merge hours into days failed; will try again", "err", err)
		}
		return
	}
	if rep.To.After(rep.From) {
		m.mergedRows.Add(rep.DailyRows)
		m.log.Info("merged hourly rollups into days", "from", rep.From, "to", rep.To, "daily_rows", rep.DailyRows)
	}
}

// warm fills the long windows' cache of `status` when a new UTC day has
// begun since the last fill (or since the start), so that nobody's first
// `status --window 30d` of the day waits for it.
func (m *Merger) warm(ctx context.Context) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if !today.After(m.warmed) {
		return
	}
	start := time.Now()
	if err := m.db.WarmWindows(ctx, start); err != nil {
		if ctx.Err() == nil {
			m.failures.Add(1)
			m.log.Warn("fill the status window cache failed; will try again", "err", err)
		}
		return
	}
	m.warmed = today
	m.log.Info("filled the status window cache", "took", time.Since(start).Round(time.Millisecond))
}

// Stats counts the task's work.
type Stats struct {
	MergedRows int64 // daily rollup rows written by merges
	Failures   int64 // merges or fills that failed
}

// Stats returns the task's counters.
func (m *Merger) Stats() Stats {
	return Stats{MergedRows: m.mergedRows.Load(), Failures: m.failures.Load()}
}
