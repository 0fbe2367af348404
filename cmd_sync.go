package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/sink"
	"github.com/sitestat/sitestat/store"
)

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "store the results from Kafka in PostgreSQL, effectively once",
		Description: `Consumes SITESTAT_KAFKA_TOPIC in consumer group SITESTAT_SYNC_GROUP (a new group
starts from the earliest offset) and writes each result as one row of
website_status, in COPY batches of up to SITESTAT_SYNC_BATCH rows or every
SITESTAT_SYNC_FLUSH. Offsets are committed only after the PostgreSQL commit, and
the unique check_id drops anything seen twice: no loss, no duplicates.

Messages that cannot be stored (bad JSON, unknown website, too large, rejected
by a constraint) go to SITESTAT_KAFKA_DLQ_TOPIC with the reason in their
headers; see sitestat dlq. While PostgreSQL is down, sync retries and commits
nothing. Run several sync processes with the same group to share partitions.

Sync also publishes the websites table to the compacted
SITESTAT_KAFKA_SITES_TOPIC, which check reads with SITESTAT_CHECK_SOURCE=kafka,
as soon as a heartbeat says such a checker runs (SITESTAT_SYNC_PUBLISH_SITES=auto;
true: from the start; false: never): one sync at a time (an advisory lock),
each change within a second (a trigger's NOTIFY), the whole table every
SITESTAT_SITES_RECONCILE.

Exits 78 when website_status lacks a column or has one of the wrong type:
run sitestat migrate. SIGINT/SIGTERM: store the batch in hand, commit, exit 0.`,
		Action: func(c *cli.Context) error {
			e, err := setup(c)
			if err != nil {
				return err
			}
			return runSync(c.Context, e)
		},
	}
}

func runSync(ctx context.Context, e *env) error {
	log := e.log.With("component", "sync")
	db, err := openDBWait(ctx, e, log, false, store.Options{Alerts: alertOptions(e.cfg)})
	if err != nil {
		return err
	}
	defer db.Close()
	// The outbox has connections of its own, so a delivery's mark never
	// waits behind the batches' COPY for a connection (closed after the
	// tasks have stopped).
	outbox, err := openOutbox(ctx, e, log)
	if err != nil {
		return err
	}
	defer outbox.Close()
	kopts, err := kafkaOptions(e.cfg)
	if err != nil {
		return err
	}
	dlq, err := startWith(ctx, log, "kafka", false, func(context.Context) (*deadletter.Writer, error) {
		return deadletter.NewWriter(kopts, e.cfg.KafkaDLQTopic, log)
	})
	if err != nil {
		return err
	}
	defer dlq.Close()
	consumer, err := startWith(ctx, log, "kafka", false, func(context.Context) (*kafka.Consumer, error) {
		return kafka.NewConsumer(kopts, kafka.ConsumerOptions{
			Group:          e.cfg.SyncGroup,
			Topics:         []string{e.cfg.KafkaTopic},
			Batch:          e.cfg.SyncBatch,
			MaxPending:     e.cfg.SyncMaxPending,
			Flush:          e.cfg.SyncFlush,
			ReleaseTimeout: e.cfg.ShutdownTimeout,
			Logger:         log,
		})
	})
	if err != nil {
		return err
	}
	s := sink.New(db, dlq, sink.Options{
		MaxMessage:   e.cfg.SyncMaxMessage,
		DBTimeout:    e.cfg.SyncDBTimeout,
		MaxFuture:    e.cfg.SyncMaxFuture,
		RetentionRaw: e.cfg.RetentionRaw.Duration(),
		Logger:       log,
	})
	// Tasks run beside the batches, and stop with them (on a signal, or when
	// Run returns an error): the notification loop delivers the outbox the
	// incidents fill and beats the dead man's switch while sync is healthy;
	// the pruner applies the retention; the heartbeat consumer and the
	// silence watch notice a probe that went quiet; the sites publisher
	// (SITESTAT_SYNC_PUBLISH_SITES) keeps the sites topic in step with the
	// websites table.
	tasks, stopTasks := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopTasks()
	loop := newNotifyLoop(e.cfg, outbox, log)
	wg.Go(func() {
		if err := loop.Run(tasks); err != nil {
			log.Error("notification loop stopped", "err", err)
		}
	})
	pr := &pruner{db: db, ret: retention(e.cfg), every: e.cfg.PruneInterval, log: log.With("task", "prune")}
	wg.Go(func() { pr.run(tasks) })
	// The heartbeats of the check processes: a consumer of their topic in a
	// group of its own, and the probe_silent watch.
	hbGroup := e.cfg.SyncGroup + ".heartbeats"
	hbConsumer, err := kafka.NewConsumer(kopts, kafka.ConsumerOptions{Group: hbGroup,
		Topics: []string{e.cfg.KafkaHeartbeatTopic}, Flush: e.cfg.SyncFlush, ReleaseTimeout: e.cfg.ShutdownTimeout, Logger: log})
	if err != nil {
		return err
	}
	checkers := newKafkaCheckers(db)
	hbs := sink.NewHeartbeats(checkers, sink.Options{DBTimeout: e.cfg.SyncDBTimeout, Logger: log})
	wg.Go(func() {
		if err := hbConsumer.Run(tasks, hbs); err != nil && tasks.Err() == nil {
			log.Error("heartbeat consumer stopped", "err", err)
		}
		if err := hbConsumer.Close(); err != nil {
			log.Warn("leave heartbeat consumer group", "err", err)
		}
	})
	sw := &silenceWatch{db: db, kopts: kopts, group: hbGroup, topic: e.cfg.KafkaHeartbeatTopic, silence: e.cfg.AlertSilence,
		every: min(e.cfg.AlertSilence/4, 10*time.Second), log: log.With("task", "probe_silence")}
	wg.Go(func() { sw.run(tasks) })
	pubMetrics, err := startPublishing(ctx, tasks, &wg, e, log, checkers.seen)
	if err != nil {
		return err
	}
	stopMetrics := serveMetrics(ctx, e, log, slices.Concat(syncMetrics(s), notifyMetrics(loop), pr.metrics(),
		incidentMetrics(db, hbs, sw), pubMetrics))
	defer stopMetrics()
	log.Info("syncing", "topic", e.cfg.KafkaTopic, "group", e.cfg.SyncGroup, "dlq_topic", e.cfg.KafkaDLQTopic,
		"batch", e.cfg.SyncBatch, "flush", e.cfg.SyncFlush)
	runErr := s.Run(ctx, consumer)
	// Closing the consumer leaves the group, so its partitions move at once.
	if err := consumer.Close(); err != nil {
		log.Warn("leave consumer group", "err", err)
	}
	st := s.Stats()
	log.Info("stopped", "consumed", st.Consumed, "stored", st.Stored, "duplicates", st.Duplicates, "dlq", st.DLQ, "retries", st.Retries)
	return runErr
}

// startPublishing starts the sites publisher as SITESTAT_SYNC_PUBLISH_SITES
// says, in wg until tasks ends: true opens its pool at once (an error stops
// sync: exit 78 when the trigger is missing), auto when seen names a
// Kafka-sourced checker's probe; false only says so when one is heard from.
func startPublishing(ctx, tasks context.Context, wg *sync.WaitGroup, e *env, log *slog.Logger, seen <-chan string) ([]prometheus.Collector, error) {
	if e.cfg.SyncPublishSites == config.PublishSitesFalse {
		wg.Go(func() {
			select {
			case <-tasks.Done():
			case probe := <-seen:
				log.Info("a check process reads its sites from Kafka; this sync does not publish them (SITESTAT_SYNC_PUBLISH_SITES=false)", "probe", probe)
			}
		})
		return nil, nil
	}
	pub, err := newSitesPublisher(e, log)
	if err != nil {
		return nil, err
	}
	if e.cfg.SyncPublishSites == config.PublishSitesAuto {
		wg.Go(func() {
			pub.runWhenNeeded(tasks, seen, func(ctx context.Context) (*store.DB, error) { return openSitesDB(ctx, e) })
		})
		return pub.metrics(), nil
	}
	if pub.db, err = openSitesDB(ctx, e); err != nil {
		return nil, err
	}
	wg.Go(func() {
		defer pub.db.Close()
		pub.run(tasks)
	})
	return pub.metrics(), nil
}

// pruner is sync's retention task: every interval it makes the coming days'
// partitions and prunes history past its retention (store.DB.Prune runs one
// pass at a time across sync processes).
type pruner struct {
	db    *store.DB
	ret   store.Retention
	every time.Duration
	log   *slog.Logger

	warmed time.Time // the UTC day the window cache was last filled for, or sync started (run's goroutine only)

	runs, partitions, rawRows, rollupRows, mergedRows, failures atomic.Int64
	lastOK                                                      atomic.Int64 // unix seconds
}

func (p *pruner) run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	// Hours are merged into days soon after their grace hour has passed.
	fold := time.NewTicker(min(p.every, 5*time.Minute))
	defer fold.Stop()
	p.pass(ctx)
	p.warmed = time.Now().UTC().Truncate(24 * time.Hour)
	for {
		p.fold(ctx)
		p.warm(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.pass(ctx)
		case <-fold.C:
		}
	}
}

// fold merges the hours past their grace hour into days; a failure is
// logged and counted, and tried again at the next tick.
func (p *pruner) fold(ctx context.Context) {
	rep, err := p.db.FoldRollups(ctx, time.Now())
	if err != nil {
		if ctx.Err() == nil {
			p.failures.Add(1)
			p.log.Warn("merge hours into days failed; will try again", "err", err)
		}
		return
	}
	if rep.To.After(rep.From) {
		p.mergedRows.Add(rep.DailyRows)
		p.log.Info("merged hourly rollups into days", "from", rep.From, "to", rep.To, "daily_rows", rep.DailyRows)
	}
}

// warm fills the long windows' cache of `status` when a new UTC day has
// begun since the last fill (or since the start: a start adds no work), so
// that nobody's first `status --window 30d` of the day waits for it.
func (p *pruner) warm(ctx context.Context) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if !today.After(p.warmed) {
		return
	}
	start := time.Now()
	if err := p.db.WarmWindows(ctx, start); err != nil {
		if ctx.Err() == nil {
			p.failures.Add(1)
			p.log.Warn("fill the status window cache failed; will try again", "err", err)
		}
		return
	}
	p.warmed = today
	p.log.Info("filled the status window cache", "took", time.Since(start).Round(time.Millisecond))
}

// partitionsAhead is how far ahead the pruner makes website_status's day
// partitions (a batch makes any other day's it needs itself).
const partitionsAhead = 48 * time.Hour

// pass runs one pass; a failure is logged and counted, and tried again at
// the next interval.
func (p *pruner) pass(ctx context.Context) {
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
	for _, l := range pruneLines(rep) {
		p.log.Info(l)
	}
}

// metrics exposes the pruner's counters.
func (p *pruner) metrics() []prometheus.Collector {
	load := func(v *atomic.Int64) func() float64 { return func() float64 { return float64(v.Load()) } }
	return []prometheus.Collector{
		counter("sitestat_prune_runs_total", "Pruning passes completed (including those skipped because another sync was pruning).", load(&p.runs)),
		counter("sitestat_prune_failures_total", "Pruning passes, partition creations, merges of hours into days or fills of the status window cache that failed.", load(&p.failures)),
		counter("sitestat_rollup_merge_daily_rows_total", "Daily rollup rows written by merges of hours into days.", load(&p.mergedRows)),
		counter("sitestat_prune_partitions_dropped_total", "Raw day partitions dropped past SITESTAT_RETENTION_RAW.", load(&p.partitions)),
		counter("sitestat_prune_raw_rows_total", "Raw rows dropped with their partitions (PostgreSQL's estimate).", load(&p.rawRows)),
		counter("sitestat_prune_rollup_rows_total", "Hourly and daily rollup rows deleted past their retention.", load(&p.rollupRows)),
		gauge("sitestat_prune_last_success_timestamp_seconds", "When the last pruning pass completed, as a Unix time.", load(&p.lastOK)),
	}
}
