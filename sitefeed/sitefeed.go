// Package sitefeed is check's site list with SITESTAT_CHECK_SOURCE=kafka:
// a consumer of the sites topic in the probe's consumer group filling a
// siteset.Set, and the watch that warns when the whole topic holds no site.
package sitefeed

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/siteset"
)

// handoverSlack is added to the group heartbeat interval to make the time a
// stopping checker goes on checking after it left its group: the others
// learn of the rebalance at their next heartbeat, and take a moment to read
// the partitions they got.
const handoverSlack = 2 * time.Second

// Feed is check's site list with SITESTAT_CHECK_SOURCE=kafka: a
// siteset.Set filled by a consumer of the sites topic in the group
// sitestat-check-<probe> (Reread: it never commits and reads each assigned
// partition from its start).
type Feed struct {
	set      *siteset.Set
	kopts    kafka.Options
	copts    kafka.ConsumerOptions
	handover time.Duration
	noSites  time.Duration // SITESTAT_CHECK_NO_SITES_WARN
	log      *slog.Logger

	watchPasses atomic.Int64

	leaving   chan struct{} // closed by Leave
	leaveOnce sync.Once
	ran       chan struct{} // closed when Run returns
	mu        sync.Mutex
	consumer  *kafka.Consumer // nil until it connected
}

// Group is the consumer group of a probe's check processes.
func Group(probe string) string { return "sitestat-check-" + probe }

// Set is the site list the feed fills (a checker.SiteSource).
func (f *Feed) Set() *siteset.Set { return f.set }

// watchEmpty logs one warning when this process has had no site to check
// and the whole sites topic (every partition, not only its own) has held
// none for noSites: the likeliest cause is that no sync publishes it. It
// reads the topic only while its own partitions hold no site, and after
// finding sites elsewhere (this process has none to check, legitimately)
// not again for a while.
func (f *Feed) watchEmpty(ctx context.Context) {
	every := min(max(f.noSites/4, 100*time.Millisecond), 5*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	emptySince, next := time.Now(), time.Time{}
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.watchPasses.Add(1)
		now := time.Now()
		if sites, _ := f.set.Sites(ctx); len(sites) > 0 {
			emptySince, warned = now, false
			continue
		}
		if warned || now.Before(next) {
			continue
		}
		n, err := f.topicSites(ctx)
		switch {
		case err != nil:
			f.log.Debug("no site to check; the sites topic cannot be read", "err", err)
		case n > 0:
			emptySince, next = now, now.Add(max(f.noSites, time.Minute))
		case now.Sub(emptySince) >= f.noSites:
			warned = true
			f.log.Warn("no site to check: the sites topic holds none", "topic", f.copts.Topics[0], "for", now.Sub(emptySince).Round(time.Second),
				"hint", "sync publishes the websites table there with SITESTAT_SYNC_PUBLISH_SITES=auto (the default: once it hears this checker's heartbeat) or true; check that sync runs, is not set to false, reads SITESTAT_KAFKA_HEARTBEAT_TOPIC and has websites to publish")
		}
	}
}

// topicSites reads the whole sites topic and returns how many sites it
// holds (records not undone by a tombstone).
func (f *Feed) topicSites(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	live := map[string]bool{}
	err := kafka.Scan(ctx, f.kopts, f.copts.Topics[0], func(r kafka.Record) bool {
		key := fmt.Sprintf("%d/%s", r.Partition, r.Key)
		if r.Value == nil {
			delete(live, key)
		} else {
			live[key] = true
		}
		return true
	})
	return len(live), err
}

// consume connects the consumer (retrying) and reads until ctx ends.
func (f *Feed) consume(ctx context.Context) {
	c, err := f.connect(ctx)
	if err != nil {
		return // stopped before Kafka answered
	}
	f.mu.Lock()
	f.consumer = c
	f.mu.Unlock()
	f.log.Info("reading sites", "topic", f.copts.Topics[0], "group", f.copts.Group, "cooperative", f.copts.Cooperative)
	if err := c.Run(ctx, f.set); err != nil && ctx.Err() == nil {
		f.log.Error("sites consumer stopped", "err", err)
	}
}

// Leave freezes the set (its sites go on being checked), stops reading,
// waits for Run to return, leaves the group so that its partitions go to
// the other processes at once, and returns how long to go on checking
// until they have taken them over (0 when it never joined). Run must have
// been started.
func (f *Feed) Leave() time.Duration {
	f.set.Freeze()
	f.leaveOnce.Do(func() { close(f.leaving) })
	<-f.ran
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.consumer == nil {
		return 0
	}
	if err := f.consumer.Close(); err != nil {
		f.log.Warn("leave the consumer group", "err", err)
	}
	f.log.Info("left the group; checking on until the others took the sites over", "for", f.handover)
	return f.handover
}
