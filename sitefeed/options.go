package sitefeed

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/siteset"
)

// Options are a Feed's settings.
type Options struct {
	Kafka             kafka.Options
	Topic             string        // SITESTAT_KAFKA_SITES_TOPIC
	Probe             string        // SITESTAT_PROBE: the group is sitestat-check-<probe>
	StateDir          string        // SITESTAT_CHECK_STATE_DIR; "" keeps no state file
	Cooperative       bool          // SITESTAT_CHECK_COOPERATIVE
	SessionTimeout    time.Duration // SITESTAT_CHECK_SESSION_TIMEOUT
	HeartbeatInterval time.Duration // SITESTAT_CHECK_GROUP_HEARTBEAT
	NoSitesWarn       time.Duration // SITESTAT_CHECK_NO_SITES_WARN; 0: no warning
	Logger            *slog.Logger
}

// New loads the state file and returns the feed; Run starts the consumer.
func New(o Options) *Feed {
	log := o.Logger.With("task", "sites")
	var stateFile string
	if o.StateDir != "" {
		stateFile = filepath.Join(o.StateDir, "sites-"+o.Probe+".json")
	}
	handover := o.HeartbeatInterval + handoverSlack
	set := siteset.New(siteset.Options{StateFile: stateFile, RevokeGrace: handover, Logger: log})
	n, err := set.Load()
	if err != nil {
		log.Warn("the last known sites cannot be read; starting without them", "err", err)
	} else if stateFile != "" {
		log.Info("last known sites loaded", "sites", n, "path", stateFile)
	}
	return &Feed{set: set, kopts: o.Kafka, handover: handover, noSites: o.NoSitesWarn, log: log,
		leaving: make(chan struct{}), ran: make(chan struct{}),
		copts: kafka.ConsumerOptions{
			Group:             Group(o.Probe),
			Topics:            []string{o.Topic},
			Flush:             100 * time.Millisecond,
			Reread:            true,
			Cooperative:       o.Cooperative,
			SessionTimeout:    o.SessionTimeout,
			HeartbeatInterval: o.HeartbeatInterval,
			ReleaseTimeout:    time.Second,
			Logger:            log,
		}}
}

// Run connects the consumer, trying again while Kafka is unreachable (the
// sites of the state file are checked meanwhile), and reads until ctx ends
// or Leave is called; it returns nil. Call it once.
func (f *Feed) Run(ctx context.Context) error {
	defer close(f.ran)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-f.leaving:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	if f.noSites > 0 {
		wg.Go(func() { f.watchEmpty(ctx) })
	}
	f.consume(ctx)
	return nil
}

// Stats counts the feed's work.
type Stats struct {
	Partitions int   // partitions of the sites topic assigned to this process
	Bad        int64 // records skipped as unreadable
}

// Stats returns the feed's state.
func (f *Feed) Stats() Stats {
	return Stats{Partitions: len(f.set.Partitions()), Bad: f.set.Bad()}
}

// connect makes the consumer, trying again with capped exponential backoff
// and one log line per attempt until it succeeds or ctx ends.
func (f *Feed) connect(ctx context.Context) (*kafka.Consumer, error) {
	backoff := retry.Backoff{Min: time.Second, Max: 30 * time.Second}
	for attempt := 0; ; attempt++ {
		c, err := kafka.NewConsumer(f.kopts, f.copts)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, errors.Join(err, ctx.Err())
		}
		wait := backoff.Delay(attempt)
		f.log.Warn("cannot start, retrying", "what", "kafka", "err", err, "retry_in", wait)
		if !retry.Sleep(ctx, wait) {
			return nil, errors.Join(err, ctx.Err())
		}
	}
}
