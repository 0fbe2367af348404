package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/heartbeat"
	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/sitefeed"
	"github.com/sitestat/sitestat/store"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check every website on its interval and produce the results to Kafka",
		Description: `Reads the websites table (reloaded every SITESTAT_CHECK_REFRESH), GETs each
site every check_interval seconds with a fresh connection, optionally matches
up_regex in the first SITESTAT_CHECK_MAX_BODY bytes of the body, and produces
one result per check to SITESTAT_KAFKA_TOPIC. A site that is down is a result,
never an error. Checking starts once the site list is loaded from PostgreSQL,
whether or not Kafka answers: while Kafka is unreachable (at start or later),
up to SITESTAT_CHECK_BUFFER results are kept and sent once it answers, and the
log says Kafka is unreachable once per retry.

With SITESTAT_CHECK_SOURCE=kafka, check needs no database: it reads its sites
from SITESTAT_KAFKA_SITES_TOPIC (published by sync once it hears this
checker's heartbeat, see SITESTAT_SYNC_PUBLISH_SITES) as a member of the consumer group
sitestat-check-<probe>, checking the sites of the partitions it is assigned;
the check processes of one probe share the sites. It keeps them in
SITESTAT_CHECK_STATE_DIR, so a restart while Kafka is unreachable still checks
them. On SIGINT/SIGTERM it first leaves the group and goes on checking for
SITESTAT_CHECK_GROUP_HEARTBEAT + 2s, until the others took its sites over.
When the whole topic has held no site for SITESTAT_CHECK_NO_SITES_WARN, it
logs one warning.

SIGINT/SIGTERM: stop scheduling, let checks in flight finish, flush, exit 0.

With --once: check every site once, flush, and exit 0 when the broker
acknowledged every result (down sites included), 1 when producing failed.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "once", Usage: "check every site once, flush, exit (for cron and tests)"},
		},
		Action: func(c *cli.Context) error {
			e, err := setup(c)
			if err != nil {
				return err
			}
			return runCheck(c.Context, e, c.Bool("once"))
		},
	}
}

//nolint:funlen // the check role's start-up in one place, so its deferred clean-up reads in reverse order.
func runCheck(ctx context.Context, e *env, once bool) error {
	log := e.log.With("component", "check")
	kopts, err := kafkaOptions(e.cfg)
	if err != nil {
		return err
	}
	var src checker.SiteSource
	var feed *sitefeed.Feed
	if e.cfg.CheckSource == "kafka" {
		if once {
			return usagef("--once needs SITESTAT_CHECK_SOURCE=db: a checker reading the sites topic checks only its share of the sites")
		}
		feed = startSiteFeed(ctx, e, kopts, log)
		src = feed.Set()
	} else {
		db, err := openDBWait(ctx, e, log, once, store.Options{})
		if err != nil {
			return err
		}
		defer db.Close()
		src = db
	}
	popts := kafka.ProducerOptions{Topic: e.cfg.KafkaTopic, Buffer: e.cfg.CheckBuffer}
	var prod *kafka.Producer
	if once {
		// One pass: fail at once when the broker cannot be reached.
		prod, err = kafka.NewProducer(ctx, kopts, popts, log)
	} else {
		// Check from the start: while Kafka is unreachable the results wait
		// in the bounded buffer and the producer keeps trying to connect.
		prod, err = kafka.StartProducer(kopts, popts, log)
	}
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		log.Warn("no host name for the results", "err", err)
	}
	runner := checker.NewRunner(src, prod, checker.RunnerOptions{
		Probe: checker.ProbeOptions{
			Timeout:      e.cfg.CheckTimeout,
			MaxRedirects: e.cfg.CheckMaxRedirects,
			MaxBody:      e.cfg.CheckMaxBody,
			UserAgent:    e.userAgent,
			Probe:        e.cfg.Probe,
			DenyPrivate:  e.cfg.CheckDenyPrivate,
			Host:         host,
		},
		Concurrency: e.cfg.CheckConcurrency,
		Refresh:     e.cfg.CheckRefresh,
		SkipStatus:  e.cfg.CheckSkipStatus,
		Jitter:      !once,
		Slots:       !once,
		Logger:      log,
	})
	metrics := checkMetrics(runner, prod)
	if feed != nil {
		metrics = append(metrics, feedMetrics(feed)...)
	}
	stopMetrics := serveMetrics(ctx, e, log, metrics)
	defer stopMetrics()
	hb := heartbeat.New(heartbeat.Options{Kafka: kopts, Topic: e.cfg.KafkaHeartbeatTopic, Every: e.cfg.CheckHeartbeat,
		Probe: e.cfg.Probe, Host: host, Source: e.cfg.CheckSource, Logger: log, Stats: func() heartbeat.Counts {
			st := runner.Stats()
			return heartbeat.Counts{Sites: st.Sites, Checks: st.Checks}
		}})
	defer hb.Close()

	var runErr error
	if once {
		runErr = runner.Once(ctx)
		hb.Beat(ctx) // a cron checker says it is alive once per pass
	} else {
		log.Info("checking", "topic", e.cfg.KafkaTopic, "concurrency", e.cfg.CheckConcurrency, "source", e.cfg.CheckSource)
		runCtx := ctx
		var wg sync.WaitGroup
		if feed != nil {
			// On a signal, leave the group first and go on checking until
			// the other processes of the probe took the sites over.
			var stopRun context.CancelFunc
			runCtx, stopRun = context.WithCancel(context.WithoutCancel(ctx))
			defer stopRun()
			wg.Go(func() {
				select {
				case <-ctx.Done():
				case <-runCtx.Done():
				}
				if d := feed.Leave(); d > 0 && ctx.Err() != nil {
					retry.Sleep(runCtx, d)
				}
				stopRun()
			})
		}
		beats, stopBeats := context.WithCancel(runCtx)
		wg.Go(func() { _ = hb.Run(beats) })
		runErr = runner.Run(runCtx)
		stopBeats()
		wg.Wait()
	}
	// Flush even when ctx is cancelled: the results already made are kept.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.ShutdownTimeout)
	defer cancel()
	flushErr := prod.Close(flushCtx)
	st := prod.Stats()
	log.Info("stopped", "published", st.Published, "acked", st.Acked, "dropped", st.Dropped, "pending", st.Pending)
	if runErr != nil {
		return runErr
	}
	if flushErr != nil {
		return fmt.Errorf("produce results: %w", flushErr)
	}
	if n := runner.Stats().Unencodable; n > 0 { // dropped by the checker, which encodes
		return fmt.Errorf("produce results: %d results could not be encoded and were dropped", n)
	}
	return nil
}

// startSiteFeed starts check's site list with SITESTAT_CHECK_SOURCE=kafka:
// the consumer keeps trying to connect while Kafka is unreachable (the
// sites of the state file are checked meanwhile), and runs, whatever
// happens to ctx, until Leave is called.
func startSiteFeed(ctx context.Context, e *env, kopts kafka.Options, log *slog.Logger) *sitefeed.Feed {
	f := sitefeed.New(siteFeedOptions(e.cfg, kopts, log))
	go func() { _ = f.Run(context.WithoutCancel(ctx)) }()
	return f
}

// siteFeedOptions turns the configuration into the site feed's options.
func siteFeedOptions(cfg config.Config, kopts kafka.Options, log *slog.Logger) sitefeed.Options {
	return sitefeed.Options{
		Kafka:             kopts,
		Topic:             cfg.KafkaSitesTopic,
		Probe:             cfg.Probe,
		StateDir:          cfg.CheckStateDir,
		Cooperative:       cfg.CheckCooperative,
		SessionTimeout:    cfg.CheckSessionTimeout,
		HeartbeatInterval: cfg.CheckGroupHeartbeat,
		NoSitesWarn:       cfg.CheckNoSitesWarn,
		Logger:            log,
	}
}
