package main

import (
	"context"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/sink"
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
	db, err := openDBWait(ctx, e, log, false)
	if err != nil {
		return err
	}
	defer db.Close()
	kopts, err := kafkaOptions(e.cfg)
	if err != nil {
		return err
	}
	dlq, err := startWith(ctx, log, "kafka", false, func(context.Context) (*kafka.DeadLetterWriter, error) {
		return kafka.NewDeadLetterWriter(kopts, e.cfg.KafkaDLQTopic, log)
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
			Flush:          e.cfg.SyncFlush,
			ReleaseTimeout: e.cfg.ShutdownTimeout,
			Logger:         log,
		})
	})
	if err != nil {
		return err
	}
	s := sink.New(db, dlq, sink.Options{
		MaxMessage: e.cfg.SyncMaxMessage,
		DBTimeout:  e.cfg.SyncDBTimeout,
		Logger:     log,
	})
	// The notification loop delivers the outbox the incidents fill, and
	// beats the dead man's switch while sync is healthy.
	loop := newNotifyLoop(e.cfg, db, log)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := loop.Run(ctx); err != nil {
			log.Error("notification loop stopped", "err", err)
		}
	})
	defer wg.Wait()
	stopMetrics := serveMetrics(ctx, e, log, append(syncMetrics(s), notifyMetrics(loop)...))
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
