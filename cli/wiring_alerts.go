package cli

// The wiring of the notification layer (issue 12): configuration → senders,
// the delivery loop and its metrics. `sitestat alerts test` uses the senders;
// sync runs the loop:
//
//	outbox, err := openOutbox(ctx, e, log) // connections of its own
//	loop := newNotifyLoop(e, outbox, log)
//	go loop.Run(ctx)                      // returns nil when ctx ends, after the deliveries in flight
//	…                                     // after a batch commit that enqueued notifications: loop.Wake()
//	serveMetrics(ctx, e, log, append(syncMetrics(s), notifyMetrics(loop)...))
//
// and the incident change in store calls store.EnqueueTx(ctx, tx, incidentID,
// event, alertChannels(e.cfg)) in its own transaction.

import (
	"context"
	"log/slog"
	"time"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/notify"
	"github.com/sitestat/sitestat/store"
)

// The store is the outbox the loop works on.
var _ notify.Outbox = (*store.DB)(nil)

// alertSenders returns a sender for every configured channel, in a fixed
// order: webhook, Slack, PagerDuty, sending as userAgent.
func alertSenders(cfg config.Config, userAgent string) []notify.Sender {
	opts := notify.Options{UserAgent: userAgent}
	var out []notify.Sender
	if cfg.AlertWebhookURL != "" {
		out = append(out, notify.NewWebhook(cfg.AlertWebhookURL, cfg.AlertWebhookSecret, opts))
	}
	if cfg.AlertSlackURL != "" {
		out = append(out, notify.NewSlack(cfg.AlertSlackURL, opts))
	}
	if cfg.AlertPagerDutyKey != "" {
		out = append(out, notify.NewPagerDuty(cfg.AlertPagerDutyURL, cfg.AlertPagerDutyKey, opts))
	}
	return out
}

// alertChannels names the configured channels: where a "down" is enqueued.
func alertChannels(cfg config.Config) []alert.Channel {
	var out []alert.Channel
	for _, s := range alertSenders(cfg, "") {
		out = append(out, s.Channel())
	}
	return out
}

// alertOptions turns the configuration into the store's alerting settings:
// what InsertResults applies in each batch's transaction.
func alertOptions(cfg config.Config) store.AlertOptions {
	certDays := cfg.AlertCertDays
	if certDays == 0 {
		certDays = -1 // off; the store's zero value is its default
	}
	return store.AlertOptions{
		FailureThreshold: cfg.AlertAfter,
		SuccessThreshold: cfg.AlertRecoverAfter,
		Quorum:           cfg.AlertQuorum,
		Channels:         alertChannels(cfg),
		CertDays:         certDays,
	}
}

// notifyLoopOptions turns the configuration into the loop's options.
func notifyLoopOptions(cfg config.Config, userAgent string, log *slog.Logger) notify.LoopOptions {
	return notify.LoopOptions{
		Backoff:           retry.Backoff{Min: cfg.AlertBackoffMin, Max: cfg.AlertBackoffMax},
		GiveUp:            cfg.AlertGiveUp,
		Timeout:           cfg.AlertTimeout,
		Poll:              cfg.AlertPoll,
		DBTimeout:         min(cfg.SyncDBTimeout, outboxDBTimeout),
		HeartbeatURL:      cfg.AlertHeartbeatURL,
		HeartbeatInterval: cfg.AlertHeartbeatInterval,
		HTTP:              notify.Options{UserAgent: userAgent},
		Logger:            log.With("component", "notify"),
	}
}

// outboxDBTimeout bounds one call of the delivery loop to the outbox (a claim,
// a mark) when SITESTAT_SYNC_DB_TIMEOUT is longer: the calls are small and
// have their own connections, and the lease covers the send timeout plus this
// (notify.LoopOptions.Lease), so a shorter bound keeps the lease short.
const outboxDBTimeout = 30 * time.Second

// outboxConns is the size of the outbox's own pool: the claims and the marks
// of the deliveries in flight take turns on it.
const outboxConns = 3

// openOutbox opens the delivery loop's own connections to the database.
func openOutbox(ctx context.Context, e *env, log *slog.Logger) (*store.DB, error) {
	return openDBWait(ctx, e, log, false, store.Options{MaxOpenConns: outboxConns})
}

// newNotifyLoop returns the delivery loop of sync over db.
func newNotifyLoop(e *env, db *store.DB, log *slog.Logger) *notify.Loop {
	return notify.NewLoop(db, alertSenders(e.cfg, e.userAgent), notifyLoopOptions(e.cfg, e.userAgent, log))
}
