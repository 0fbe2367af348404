package cli

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/heartbeat"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/prune"
	"github.com/sitestat/sitestat/rollup"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/sink"
	"github.com/sitestat/sitestat/sitespub"
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
	s := sink.New(schema.SyncDB{DB: db}, dlq, sink.Options{
		MaxMessage:   e.cfg.SyncMaxMessage,
		DBTimeout:    e.cfg.SyncDBTimeout,
		MaxFuture:    e.cfg.SyncMaxFuture,
		RetentionRaw: e.cfg.RetentionRaw.Duration(),
		Logger:       log,
	})
	// Tasks run beside the batches, and stop with them (on a signal, or when
	// Run returns an error): the notification loop delivers the outbox the
	// incidents fill and beats the dead man's switch while sync is healthy;
	// the pruner applies the retention; the rollup task merges hours into
	// days and warms the status window cache; the heartbeat consumer and the
	// silence watch notice a probe that went quiet; the sites publisher
	// (SITESTAT_SYNC_PUBLISH_SITES) keeps the sites topic in step with the
	// websites table.
	tasks, stopTasks := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopTasks()
	loop := newNotifyLoop(e, outbox, log)
	wg.Go(func() {
		if err := loop.Run(tasks); err != nil {
			log.Error("notification loop stopped", "err", err)
		}
	})
	pr := prune.New(prune.Options{DB: db, Retention: retention(e.cfg), Every: e.cfg.PruneInterval, Logger: log.With("task", "prune")})
	wg.Go(func() { _ = pr.Run(tasks) })
	// Hours are merged into days soon after their grace hour has passed.
	rm := rollup.New(rollup.Options{DB: db, Every: min(e.cfg.PruneInterval, 5*time.Minute), Logger: log.With("task", "prune")})
	wg.Go(func() { _ = rm.Run(tasks) })
	// The heartbeats of the check processes: a consumer of their topic in a
	// group of its own, and the probe_silent watch.
	hbGroup := e.cfg.SyncGroup + ".heartbeats"
	hbConsumer, err := kafka.NewConsumer(kopts, kafka.ConsumerOptions{Group: hbGroup,
		Topics: []string{e.cfg.KafkaHeartbeatTopic}, Flush: e.cfg.SyncFlush, ReleaseTimeout: e.cfg.ShutdownTimeout, Logger: log})
	if err != nil {
		return err
	}
	checkers := heartbeat.NewKafkaCheckers(db)
	hbs := sink.NewHeartbeats(checkers, sink.Options{DBTimeout: e.cfg.SyncDBTimeout, Logger: log})
	wg.Go(func() {
		if err := hbConsumer.Run(tasks, hbs); err != nil && tasks.Err() == nil {
			log.Error("heartbeat consumer stopped", "err", err)
		}
		if err := hbConsumer.Close(); err != nil {
			log.Warn("leave heartbeat consumer group", "err", err)
		}
	})
	sw := heartbeat.NewSilenceWatch(heartbeat.SilenceOptions{DB: db, Kafka: kopts, Group: hbGroup, Topic: e.cfg.KafkaHeartbeatTopic,
		Silence: e.cfg.AlertSilence, Every: min(e.cfg.AlertSilence/4, 10*time.Second), Logger: log.With("task", "probe_silence")})
	wg.Go(func() { _ = sw.Run(tasks) })
	pubMetrics, err := startPublishing(ctx, tasks, &wg, e, log, checkers.Seen())
	if err != nil {
		return err
	}
	stopMetrics := serveMetrics(ctx, e, log, slices.Concat(syncMetrics(s), notifyMetrics(loop), pruneMetrics(pr, rm),
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
	kopts, err := kafkaOptions(e.cfg)
	if err != nil {
		return nil, err
	}
	opts := sitespub.Options{Kafka: kopts, Topic: e.cfg.KafkaSitesTopic, Reconcile: e.cfg.SitesReconcile,
		LockRetry: e.cfg.SitesLockRetry, Logger: log.With("task", "sites_publisher")}
	if e.cfg.SyncPublishSites == config.PublishSitesAuto {
		opts.Wait = seen
		opts.Open = func(ctx context.Context) (*store.DB, error) { return openSitesDB(ctx, e) }
		pub := sitespub.New(opts)
		wg.Go(func() { _ = pub.Run(tasks) })
		return publisherMetrics(pub), nil
	}
	if opts.DB, err = openSitesDB(ctx, e); err != nil {
		return nil, err
	}
	pub := sitespub.New(opts)
	wg.Go(func() {
		defer opts.DB.Close()
		_ = pub.Run(tasks)
	})
	return publisherMetrics(pub), nil
}

// openSitesDB opens the publisher's own small pool (one connection holds
// the lock for as long as it publishes, so it must not take one of sync's)
// and checks the websites trigger: without it changes would wait for the
// next full reconcile, so publishing refuses to start (with
// SITESTAT_SYNC_PUBLISH_SITES=true sync exits 78: run migrate).
func openSitesDB(ctx context.Context, e *env) (*store.DB, error) {
	db, err := store.Open(ctx, e.cfg.DatabaseURL, store.Options{MaxOpenConns: 3})
	if err != nil {
		return nil, err
	}
	if err := schema.CheckSitesTrigger(ctx, db.SQL()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
