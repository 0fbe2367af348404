// Package sitespub is sync's sites publisher: it keeps the compacted sites
// topic, which check reads with SITESTAT_CHECK_SOURCE=kafka, in step with
// the websites table.
package sitespub

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/store"
)

// Publisher keeps the compacted sites topic in step with the websites
// table (issue 14). It runs in sync (SITESTAT_SYNC_PUBLISH_SITES: true, or
// auto once a check process reading the topic was heard from): sync
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
type Publisher struct {
	db        *store.DB
	open      func(context.Context) (*store.DB, error)
	wait      <-chan string
	kopts     kafka.Options
	topic     string
	reconcile time.Duration
	lockRetry time.Duration
	log       *slog.Logger

	holding                                     atomic.Bool
	attempts, reconciles, published, tombstones atomic.Int64
	stale, failures                             atomic.Int64
}

// Options are a Publisher's settings.
type Options struct {
	// DB is the publisher's own pool (one connection holds the lock for as
	// long as it publishes); the caller closes it. When nil, Open (then
	// required) opens one when publishing starts, which Run closes.
	DB   *store.DB
	Open func(context.Context) (*store.DB, error)
	// Wait, when not nil, makes Run wait for the probe of a check process
	// that reads its sites from Kafka before it publishes anything
	// (SITESTAT_SYNC_PUBLISH_SITES=auto).
	Wait      <-chan string
	Kafka     kafka.Options
	Topic     string        // SITESTAT_KAFKA_SITES_TOPIC
	Reconcile time.Duration // SITESTAT_SITES_RECONCILE: a full comparison this often
	LockRetry time.Duration // SITESTAT_SITES_LOCK_RETRY
	Logger    *slog.Logger
}

// New returns the publisher of o.
func New(o Options) *Publisher {
	return &Publisher{db: o.DB, open: o.Open, wait: o.Wait, kopts: o.Kafka, topic: o.Topic,
		reconcile: o.Reconcile, lockRetry: o.LockRetry, log: o.Logger}
}

// Run publishes until ctx ends, and returns nil: with Options.Wait, once a
// Kafka-sourced checker was seen; with no Options.DB, once Open succeeded
// (trying again every lockRetry).
func (p *Publisher) Run(ctx context.Context) error {
	if p.wait != nil || p.db == nil {
		p.runWhenNeeded(ctx)
		return nil
	}
	p.run(ctx)
	return nil
}

// Stats counts the publisher's work.
type Stats struct {
	Holding    bool  // this process holds the lock and publishes
	Attempts   int64 // tries of the lock
	Reconciles int64 // full comparisons of the table with the topic
	Published  int64 // site records published
	Tombstones int64 // tombstones published
	Stale      int64 // stale copies removed from other partitions
	Failures   int64 // times it stopped on an error (it tries again)
}

// Stats returns the publisher's counters.
func (p *Publisher) Stats() Stats {
	return Stats{Holding: p.holding.Load(), Attempts: p.attempts.Load(), Reconciles: p.reconciles.Load(),
		Published: p.published.Load(), Tombstones: p.tombstones.Load(), Stale: p.stale.Load(), Failures: p.failures.Load()}
}

// run tries to take the lock every lockRetry and publishes while it holds
// it, until ctx ends.
func (p *Publisher) run(ctx context.Context) {
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
func (p *Publisher) lead(ctx context.Context, lock *store.SitesLock) error {
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

// copies is what the sites topic holds of one site: its live record in
// each partition that has one. A site has one copy, in the partition of
// its key's hash when it was first published; a second one appears when
// the topic's partition count grew and something wrote the key by its new
// hash (an earlier release did, for every update and tombstone).
type copies map[int32][]byte

// topicState is the sites topic as the publisher knows it: each site's
// copies, by id.
type topicState map[int64]copies

// publishOne publishes the current row of website id (a tombstone when
// there is none) unless the topic already holds it.
func (p *Publisher) publishOne(ctx context.Context, w *kafka.RecordWriter, last topicState, id int64) error {
	site, ok, err := p.db.LookupSite(ctx, id)
	if err != nil {
		return err
	}
	var value []byte
	if ok && site.ID > 0 {
		value = contract.EncodeSite(site)
	}
	return p.converge(ctx, w, last, id, value)
}

// converge makes the topic hold value (nil: nothing) as the one copy of
// site id. An update goes to the partition the site's record is in, not to
// the key's hash, which moves when partitions are added: checkers that
// have not seen the new partitions yet keep the site, and no stale copy is
// left behind. Every other copy gets a tombstone in its own partition.
func (p *Publisher) converge(ctx context.Context, w *kafka.RecordWriter, last topicState, id int64, value []byte) error {
	have := last[id]
	keep := kafka.AnyPartition
	if value != nil {
		keep = have.pick(value)
		if cur, ok := have[keep]; !ok || !bytes.Equal(cur, value) {
			at, err := w.WriteAt(ctx, keep, contract.SiteKey(id), value)
			if err != nil {
				return fmt.Errorf("publish site %d: %w", id, err)
			}
			keep = at
			p.published.Add(1)
			p.log.Debug("site published", "site_id", id, "partition", at)
		}
	}
	var stale []int32
	for part := range have {
		if part == keep {
			continue
		}
		if _, err := w.WriteAt(ctx, part, contract.SiteKey(id), nil); err != nil {
			return fmt.Errorf("remove site %d from partition %d: %w", id, part, err)
		}
		p.tombstones.Add(1)
		if value != nil {
			stale = append(stale, part)
		}
	}
	switch {
	case value == nil:
		delete(last, id)
		if len(have) > 0 {
			p.log.Info("site removed from the topic", "site_id", id)
		}
	default:
		last[id] = copies{keep: value}
	}
	if len(stale) > 0 {
		p.stale.Add(int64(len(stale)))
		slices.Sort(stale)
		p.log.Warn("stale copies of a site removed from the sites topic (its partition count changed)",
			"site_id", id, "partition", keep, "stale_partitions", stale)
	}
	return nil
}

// pick returns the partition to keep value in: that of a copy equal to
// value, else the lowest partition holding a copy, else AnyPartition.
func (c copies) pick(value []byte) int32 {
	keep := kafka.AnyPartition
	for part, v := range c {
		if bytes.Equal(v, value) {
			return part
		}
		if keep < 0 || part < keep {
			keep = part
		}
	}
	return keep
}

// reconcileAll makes the topic hold the table, one copy per site: it
// returns what the topic now holds.
func (p *Publisher) reconcileAll(ctx context.Context, w *kafka.RecordWriter) (topicState, error) {
	last := topicState{}
	err := kafka.Scan(ctx, p.kopts, p.topic, func(r kafka.Record) bool {
		id, err := contract.ParseSiteKey(r.Key)
		if err != nil {
			return true // not a site record; checkers skip it too
		}
		if r.Value == nil {
			delete(last[id], r.Partition)
			if len(last[id]) == 0 {
				delete(last, id)
			}
			return true
		}
		if last[id] == nil {
			last[id] = copies{}
		}
		last[id][r.Partition] = r.Value
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile sites: %w", err)
	}
	sites, err := p.db.Sites(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile sites: %w", err)
	}
	inTable := make(map[int64][]byte, len(sites))
	for _, s := range sites {
		if s.ID > 0 {
			inTable[s.ID] = contract.EncodeSite(s)
		}
	}
	before := p.published.Load() + p.tombstones.Load()
	for _, id := range slices.Sorted(maps.Keys(inTable)) {
		if err := p.converge(ctx, w, last, id, inTable[id]); err != nil {
			return nil, fmt.Errorf("reconcile sites: %w", err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(last)) {
		if _, ok := inTable[id]; !ok {
			if err := p.converge(ctx, w, last, id, nil); err != nil {
				return nil, fmt.Errorf("reconcile sites: %w", err)
			}
		}
	}
	p.reconciles.Add(1)
	p.log.Info("sites reconciled", "sites", len(inTable), "published", p.published.Load()+p.tombstones.Load()-before)
	return last, nil
}

// runWhenNeeded is the publisher of SITESTAT_SYNC_PUBLISH_SITES=auto: it
// waits for the first heartbeat of a check process that reads its sites
// from Kafka (wait receives its probe), opens its pool with open (trying
// again every lockRetry while that fails) and runs until ctx ends. Until
// then no site URL goes to Kafka.
func (p *Publisher) runWhenNeeded(ctx context.Context) {
	if p.wait != nil {
		select {
		case <-ctx.Done():
			return
		case probe := <-p.wait:
			p.log.Info("a check process reads its sites from Kafka: publishing the websites table (SITESTAT_SYNC_PUBLISH_SITES=auto)",
				"probe", probe, "topic", p.topic)
		}
	}
	for p.db == nil {
		db, err := p.open(ctx)
		if err == nil {
			p.db = db
			defer db.Close()
			break
		}
		if ctx.Err() != nil {
			return
		}
		p.failures.Add(1)
		p.log.Error("sites publisher cannot start; will try again", "err", err, "retry_in", p.lockRetry)
		if !retry.Sleep(ctx, p.lockRetry) {
			return
		}
	}
	p.run(ctx)
}
