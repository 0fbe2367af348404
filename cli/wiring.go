package cli

// The wiring every command shares: configuration → logger, PostgreSQL,
// Kafka options, and waiting for a service at start.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/store"
)

// env is what every command starts from: the configuration and a logger.
type env struct {
	cfg       config.Config
	log       *slog.Logger
	stdout    io.Writer
	stderr    io.Writer
	userAgent string // "sitestat/" and the version, for the checks and the notifications
}

// setup reads the configuration once and builds the logger.
func setup(c *cli.Context) (*env, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	w := c.App.ErrWriter
	return &env{cfg: cfg, log: newLogger(cfg, w), stdout: c.App.Writer, stderr: w, userAgent: "sitestat/" + c.App.Version}, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(cfg.LogLevel) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.ToLower(cfg.LogFormat) == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openDB opens PostgreSQL at SITESTAT_DATABASE_URL.
func openDB(ctx context.Context, e *env) (*store.DB, error) {
	if err := e.cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	// The thresholds: status shows a failing site's streak against them.
	return store.Open(ctx, e.cfg.DatabaseURL, store.Options{Alerts: alertOptions(e.cfg)})
}

// withDB wraps an action that needs the database: it reads the
// configuration, opens PostgreSQL, and closes it after the action.
func withDB(action func(c *cli.Context, e *env, db *store.DB) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		e, err := setup(c)
		if err != nil {
			return err
		}
		db, err := openDB(c.Context, e)
		if err != nil {
			return err
		}
		defer db.Close()
		return action(c, e, db)
	}
}

// kafkaOptions turns the configuration into the Kafka package's options,
// with a fresh record of the brokers reached (kafka.Reached): a role calls it
// once and hands the options to every client it makes, so a broker restart
// is not explained as a protocol mismatch.
func kafkaOptions(cfg config.Config) (kafka.Options, error) {
	tlsCfg, err := cfg.KafkaTLS()
	if err != nil {
		return kafka.Options{}, err
	}
	return kafka.Options{
		Brokers:       cfg.KafkaBrokers,
		ClientID:      "sitestat",
		TLS:           tlsCfg,
		SASLMechanism: cfg.KafkaSASLMechanism,
		SASLUsername:  cfg.KafkaSASLUsername,
		SASLPassword:  cfg.KafkaSASLPassword,
		Reached:       kafka.NewReached(),
	}, nil
}

// kafkaSetup reads the configuration and builds the Kafka options.
func kafkaSetup(c *cli.Context) (*env, kafka.Options, error) {
	e, err := setup(c)
	if err != nil {
		return nil, kafka.Options{}, err
	}
	opts, err := kafkaOptions(e.cfg)
	return e, opts, err
}

// errStopped is returned when a signal stops a role before it started: it
// exits 0, as any graceful stop does.
var errStopped = errors.New("stopped before start")

// startRetry is the backoff of startWith.
var startRetry = retry.Backoff{Min: time.Second, Max: 30 * time.Second}

// startWith calls open until it succeeds, for the long-running roles (check,
// sync): a database or broker that is down, or a password being rotated, at
// start is waited for with capped exponential backoff and one log line per
// attempt, instead of exiting and crash-looping under a supervisor. With
// once, or when ctx ends, the last error is returned. Configuration errors
// are never retried.
func startWith[T any](ctx context.Context, log *slog.Logger, what string, once bool, open func(context.Context) (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := open(ctx)
		var ce *config.Error
		if err == nil || once || errors.As(err, &ce) {
			return v, err
		}
		if ctx.Err() != nil {
			return v, errStopped
		}
		wait := startRetry.Delay(attempt)
		log.Warn("cannot start, retrying", "what", what, "err", err, "retry_in", wait)
		if !retry.Sleep(ctx, wait) {
			return v, errStopped
		}
	}
}

// openDBWait opens the database with opts, waiting for it unless once.
func openDBWait(ctx context.Context, e *env, log *slog.Logger, once bool, opts store.Options) (*store.DB, error) {
	if err := e.cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	return startWith(ctx, log, "postgresql", once, func(ctx context.Context) (*store.DB, error) {
		return store.Open(ctx, e.cfg.DatabaseURL, opts)
	})
}

// checkArgs turns an argument parser into a Before hook.
func checkArgs[T any](parse func(*cli.Context) (T, error)) cli.BeforeFunc {
	return func(c *cli.Context) error { _, err := parse(c); return err }
}

// retention turns the configuration into the store's retention.
func retention(cfg config.Config) store.Retention {
	return store.Retention{
		Raw:    cfg.RetentionRaw.Duration(),
		Hourly: cfg.RetentionHourly.Duration(),
		Daily:  cfg.RetentionDaily.Duration(),
	}
}
