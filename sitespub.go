package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/store"
)

// sitesPublisher keeps the compacted sites topic in step with the websites
// table (issue 14). It runs in sync (SITESTAT_SYNC_PUBLISH_SITES): sync
// already holds both a database and a Kafka connection and runs wherever the
// database may be reached, so no new process has to be deployed. Of several
// sync processes only the holder of an advisory lock publishes; the others
// try to take it over every lockRetry.
//
// While it holds the lock it reconciles (reads the topic to its end and the
// table, publishes every site whose latest record differs and a tombstone
// for every site no longer in the table), then publishes each change the
// websites trigger announces (LISTEN/NOTIFY), reading the row again so that
// what it publishes is always the table's current state; a full reconcile
// runs every reconcile, and after the listening connection was lost. Should
// two publishers briefly overlap (a lock lost with its connection), both
// publish what the table holds: they agree.
type sitesPublisher struct {
	db        *store.DB
	kopts     kafka.Options
	topic     string
	reconcile time.Duration
	lockRetry time.Duration
	log       *slog.Logger

	holding                                     atomic.Bool
	attempts, reconciles, published, tombstones atomic.Int64
	failures                                    atomic.Int64
}

// run tries to take the lock every lockRetry and publishes while it holds
// it, until ctx ends.
func (p *sitesPublisher) run(ctx context.Context) {
	for {
		p.attempts.Add(1)
		lock, err := p.db.TryLockSites(ctx)
		if err == nil && lock != nil {
			p.holding.Store(true)
			p.log.Info("publishing the websites table", "topic", p.topic)
			err = p.lead(ctx, lock)
			p.holding.Store(false)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			lock.Release(rctx)
			cancel()
		}
		if err != nil && ctx.Err() == nil {
			p.failures.Add(1)
			p.log.Warn("sites publisher failed; will try again", "err", err, "retry_in", p.lockRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.lockRetry):
		}
	}
}

// lead publishes while lock is held; it returns nil when ctx ends, an error
// when the lock, the table or the topic fails.
func (p *sitesPublisher) lead(ctx context.Context, lock *store.SitesLock) error {
	changes, err := p.db.ListenSites(ctx)
	if err != nil {
		return err
	}
	defer changes.Close()
	w, err := kafka.NewRecordWriter(p.kopts, p.topic)
	if err != nil {
		return err
	}
	defer w.Close()
	last, err := p.reconcileAll(ctx, w)
	if err != nil {
		return err
	}

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ids := make(chan int64)
	errc := make(chan error, 1)
	go func() {
		for {
			id, err := changes.Next(lctx)
			if err != nil {
				errc <- err
				return
			}
			select {
			case ids <- id:
			case <-lctx.Done():
				return
			}
		}
	}()
	full := time.NewTicker(p.reconcile)
	defer full.Stop()
	held := time.NewTicker(p.lockRetry)
	defer held.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-held.C:
			if err := lock.Held(ctx); err != nil {
				return err
			}
		case <-full.C:
			if last, err = p.reconcileAll(ctx, w); err != nil {
				return err
			}
		case id := <-ids:
			if id == 0 { // the listener reconnected: changes may be lost
				if last, err = p.reconcileAll(ctx, w); err != nil {
					return err
				}
				continue
			}
			if err := p.publishOne(ctx, w, last, id); err != nil {
				return err
			}
		}
	}
}

// publishOne publishes the current row of website id (a tombstone when
// there is none) unless the topic already holds it.
func (p *sitesPublisher) publishOne(ctx context.Context, w *kafka.RecordWriter, last map[int64][]byte, id int64) error {
	site, ok, err := p.db.LookupSite(ctx, id)
	if err != nil {
		return err
	}
	var value []byte
	if ok && site.ID > 0 {
		value = checker.EncodeSite(site)
	}
	if prev, known := last[id]; (known && bytes.Equal(prev, value)) || (!known && value == nil) {
		return nil // the topic holds it already (or never had it)
	}
	return p.write(ctx, w, last, id, value)
}

func (p *sitesPublisher) write(ctx context.Context, w *kafka.RecordWriter, last map[int64][]byte, id int64, value []byte) error {
	if err := w.Write(ctx, checker.SiteKey(id), value); err != nil {
		return fmt.Errorf("publish site %d: %w", id, err)
	}
	if value == nil {
		delete(last, id)
		p.tombstones.Add(1)
		p.log.Info("site removed from the topic", "site_id", id)
	} else {
		last[id] = value
		p.published.Add(1)
		p.log.Debug("site published", "site_id", id)
	}
	return nil
}

// reconcileAll makes the topic hold the table: it returns the latest value
// of each site the topic now holds.
func (p *sitesPublisher) reconcileAll(ctx context.Context, w *kafka.RecordWriter) (map[int64][]byte, error) {
	last := map[int64][]byte{}
	err := kafka.Scan(ctx, p.kopts, p.topic, func(r kafka.Record) bool {
		id, err := checker.ParseSiteKey(r.Key)
		if err != nil {
			return true // not a site record; checkers skip it too
		}
		if r.Value == nil {
			delete(last, id)
		} else {
			last[id] = r.Value
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile sites: %w", err)
	}
	sites, err := p.db.Sites(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile sites: %w", err)
	}
	inTable := make(map[int64]bool, len(sites))
	changed := 0
	for _, s := range sites {
		if s.ID <= 0 {
			continue
		}
		inTable[s.ID] = true
		v := checker.EncodeSite(s)
		if bytes.Equal(last[s.ID], v) {
			continue
		}
		if err := p.write(ctx, w, last, s.ID, v); err != nil {
			return nil, fmt.Errorf("reconcile sites: %w", err)
		}
		changed++
	}
	for id := range last {
		if !inTable[id] {
			if err := p.write(ctx, w, last, id, nil); err != nil {
				return nil, fmt.Errorf("reconcile sites: %w", err)
			}
			changed++
		}
	}
	p.reconciles.Add(1)
	p.log.Info("sites reconciled", "sites", len(inTable), "published", changed)
	return last, nil
}

// metrics exposes the publisher's counters.
func (p *sitesPublisher) metrics() []prometheus.Collector {
	load := func(v *atomic.Int64) func() float64 { return func() float64 { return float64(v.Load()) } }
	return []prometheus.Collector{
		gauge("sitestat_sites_publisher_holding", "1 while this sync holds the lock and publishes the websites table to the sites topic.", func() float64 {
			if p.holding.Load() {
				return 1
			}
			return 0
		}),
		counter("sitestat_sites_published_total", "Site records published to the sites topic.", load(&p.published)),
		counter("sitestat_sites_tombstones_total", "Tombstones published to the sites topic for removed websites.", load(&p.tombstones)),
		counter("sitestat_sites_reconciles_total", "Full comparisons of the websites table with the sites topic.", load(&p.reconciles)),
		counter("sitestat_sites_publisher_failures_total", "Times the sites publisher stopped on an error (it tries again).", load(&p.failures)),
	}
}

// startSitesPublisher opens the publisher's own small pool (one connection
// holds the lock for as long as it publishes, so it must not take one of
// sync's) and checks the websites trigger: without it changes would wait for
// the next full reconcile, so sync refuses to start (exit 78, run migrate).
func startSitesPublisher(ctx context.Context, e *env, log *slog.Logger) (*sitesPublisher, error) {
	kopts, err := kafkaOptions(e.cfg)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, e.cfg.DatabaseURL, store.Options{MaxOpenConns: 3})
	if err != nil {
		return nil, err
	}
	if err := db.CheckSitesTrigger(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &sitesPublisher{db: db, kopts: kopts, topic: e.cfg.KafkaSitesTopic, reconcile: e.cfg.SitesReconcile,
		lockRetry: e.cfg.SitesLockRetry, log: log.With("task", "sites_publisher")}, nil
}
