// Package prune is sync's retention task: every interval it makes the
// coming days' partitions of website_status and prunes history past its
// retention (store.DB.Prune runs one pass at a time across sync processes).
package prune

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/store"
)

// DB is what the pruner needs of the database (store.DB is one).
type DB interface {
	EnsurePartitions(ctx context.Context, from, to time.Time) ([]string, error)
	Prune(ctx context.Context, ret store.Retention, now time.Time, dryRun bool) (store.PruneReport, error)
}

// Options are a Pruner's settings.
type Options struct {
	DB        DB
	Retention store.Retention // SITESTAT_RETENTION_*
	Every     time.Duration   // SITESTAT_PRUNE_INTERVAL
	Logger    *slog.Logger
}

// Pruner runs the passes; its counters are safe to read at any time.
type Pruner struct {
	db    DB
	ret   store.Retention
	every time.Duration
	log   *slog.Logger

	runs, partitions, rawRows, rollupRows, failures atomic.Int64
	lastOK                                          atomic.Int64 // unix seconds
}

// New returns the pruner of o.
func New(o Options) *Pruner {
	return &Pruner{db: o.DB, ret: o.Retention, every: o.Every, log: o.Logger}
}

// partitionsAhead is how far ahead the pruner makes website_status's day
// partitions (a batch makes any other day's it needs itself).
const partitionsAhead = 48 * time.Hour

// Run runs a pass at once and then every interval until ctx ends, and
// returns nil; a failed pass is logged and counted, and tried again at the
// next interval.
func (p *Pruner) Run(ctx context.Context) error {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		p.pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pass runs one pass.
func (p *Pruner) pass(ctx context.Context) {
	now := time.Now()
	if _, err := p.db.EnsurePartitions(ctx, now, now.Add(partitionsAhead)); err != nil && ctx.Err() == nil {
		p.failures.Add(1)
		p.log.Warn("make the coming days' partitions", "err", err)
	}
	rep, err := p.db.Prune(ctx, p.ret, now, false)
	if err != nil {
		if ctx.Err() == nil {
			p.failures.Add(1)
			p.log.Warn("prune failed; will try again", "err", err, "retry_in", p.every)
		}
		return
	}
	p.runs.Add(1)
	p.lastOK.Store(now.Unix())
	if rep.Skipped {
		return
	}
	p.partitions.Add(int64(len(rep.Partitions)))
	p.rawRows.Add(rep.RawRows())
	p.rollupRows.Add(rep.HourlyRows + rep.DailyRows)
	for _, l := range Lines(rep) {
		p.log.Info(l)
	}
}

// Stats counts the pruner's work.
type Stats struct {
	Runs       int64     // passes completed (including those skipped for another pruner)
	Failures   int64     // passes or partition creations that failed
	Partitions int64     // raw day partitions dropped
	RawRows    int64     // raw rows dropped with them (PostgreSQL's estimate)
	RollupRows int64     // hourly and daily rollup rows deleted
	LastOK     time.Time // when the last pass completed; zero before
}

// Stats returns the pruner's counters.
func (p *Pruner) Stats() Stats {
	var last time.Time
	if s := p.lastOK.Load(); s != 0 {
		last = time.Unix(s, 0)
	}
	return Stats{Runs: p.runs.Load(), Failures: p.failures.Load(), Partitions: p.partitions.Load(),
		RawRows: p.rawRows.Load(), RollupRows: p.rollupRows.Load(), LastOK: last}
}

// Lines says what a pruning pass did, one line each (the log of sync and
// the output of `sitestat prune`).
func Lines(rep store.PruneReport) []string {
	if rep.Skipped {
		return []string{"another process is pruning; nothing done"}
	}
	verb, prefix := "dropped", ""
	if rep.DryRun {
		verb, prefix = "would drop", "would "
	}
	var lines []string
	for _, p := range rep.Partitions {
		rows := "rows unknown"
		if p.Rows >= 0 {
			rows = fmt.Sprintf("about %d rows", p.Rows)
		}
		span := ""
		if !p.From.IsZero() {
			span = fmt.Sprintf(" (%s to %s, %s, %.1f MB)", p.From.Format("2006-01-02"), p.To.Format("2006-01-02"), rows, float64(p.Bytes)/1e6)
		}
		lines = append(lines, fmt.Sprintf("%s partition %s%s", verb, p.Name, span))
	}
	cut := func(t time.Time) string {
		if t.IsZero() {
			return "kept forever"
		}
		return "before " + t.Format(time.RFC3339)
	}
	lines = append(lines,
		fmt.Sprintf("raw: %s %d partition(s), about %d rows (%s)", verb, len(rep.Partitions), rep.RawRows(), cut(rep.RawBefore)),
		fmt.Sprintf("hourly rollups: %sdelete %d rows (%s)", prefix, rep.HourlyRows, cut(rep.HourlyBefore)),
		fmt.Sprintf("daily rollups: %sdelete %d rows (%s)", prefix, rep.DailyRows, cut(rep.DailyBefore)))
	if rep.DryRun {
		lines = append(lines, "dry run: nothing was changed")
	}
	return lines
}
