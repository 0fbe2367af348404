package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/siteset"
)

// handoverSlack is added to the group heartbeat interval to make the time a
// stopping checker goes on checking after it left its group: the others
// learn of the rebalance at their next heartbeat, and take a moment to read
// the partitions they got.
const handoverSlack = 2 * time.Second

// siteFeed is check's site list with SITESTAT_CHECK_SOURCE=kafka: a
// siteset.Set filled by a consumer of the sites topic in the group
// sitestat-check-<probe> (Reread: it never commits and reads each assigned
// partition from its start).
type siteFeed struct {
	set      *siteset.Set
	kopts    kafka.Options
	copts    kafka.ConsumerOptions
	handover time.Duration
	log      *slog.Logger

	stop     context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	consumer *kafka.Consumer // nil until it connected
}

// checkGroup is the consumer group of a probe's check processes.
func checkGroup(probe string) string { return "sitestat-check-" + probe }

// startSiteFeed loads the state file and starts the consumer, which keeps
// trying to connect while Kafka is unreachable (the sites of the state file
// are checked meanwhile).
func startSiteFeed(e *env, kopts kafka.Options, log *slog.Logger) (*siteFeed, error) {
	log = log.With("task", "sites")
	var stateFile string
	if e.cfg.CheckStateDir != "" {
		stateFile = filepath.Join(e.cfg.CheckStateDir, "sites-"+e.cfg.Probe+".json")
	}
	handover := e.cfg.CheckGroupHeartbeat + handoverSlack
	set := siteset.New(siteset.Options{StateFile: stateFile, RevokeGrace: handover, Logger: log})
	n, err := set.Load()
	if err != nil {
		log.Warn("the last known sites cannot be read; starting without them", "err", err)
	} else if stateFile != "" {
		log.Info("last known sites loaded", "sites", n, "path", stateFile)
	}
	f := &siteFeed{set: set, kopts: kopts, handover: handover, log: log,
		copts: kafka.ConsumerOptions{
			Group:             checkGroup(e.cfg.Probe),
			Topics:            []string{e.cfg.KafkaSitesTopic},
			Flush:             100 * time.Millisecond,
			Reread:            true,
			Cooperative:       e.cfg.CheckCooperative,
			SessionTimeout:    e.cfg.CheckSessionTimeout,
			HeartbeatInterval: e.cfg.CheckGroupHeartbeat,
			ReleaseTimeout:    time.Second,
			Logger:            log,
		}}
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	f.wg.Go(func() { f.run(ctx) })
	return f, nil
}

// run connects the consumer (retrying) and reads until ctx ends.
func (f *siteFeed) run(ctx context.Context) {
	c, err := startWith(ctx, f.log, "kafka", false, func(context.Context) (*kafka.Consumer, error) {
		return kafka.NewConsumer(f.kopts, f.copts)
	})
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

// leave freezes the set (its sites go on being checked), stops reading,
// leaves the group so that its partitions go to the other processes at
// once, and returns how long to go on checking until they have taken them
// over (0 when it never joined).
func (f *siteFeed) leave() time.Duration {
	f.set.Freeze()
	f.stop()
	f.wg.Wait()
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

// metrics exposes the site feed's state.
func (f *siteFeed) metrics() []prometheus.Collector {
	return []prometheus.Collector{
		gauge("sitestat_check_sites_partitions", "Partitions of the sites topic whose sites this check process checks (SITESTAT_CHECK_SOURCE=kafka).",
			func() float64 { return float64(len(f.set.Partitions())) }),
		counter("sitestat_check_sites_bad_total", "Records of the sites topic skipped as unreadable.",
			func() float64 { return float64(f.set.Bad()) }),
	}
}
