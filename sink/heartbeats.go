package sink

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/kafka"
)

// HeartbeatWriter stores the heartbeats of the check processes;
// store.DB is one.
type HeartbeatWriter interface {
	// RecordHeartbeats stores the latest heartbeat of each probe in hbs.
	RecordHeartbeats(ctx context.Context, hbs []contract.Heartbeat) error
}

// Heartbeats is the kafka.Handler of sync's heartbeat consumer: it stores
// each batch's heartbeats and returns nil (the offsets are committed) once
// they are stored. A heartbeat that does not decode is logged and skipped:
// the next one of its probe replaces it within seconds, so none goes to the
// dead-letter topic. Database errors are retried with capped backoff until
// the partition is released.
type Heartbeats struct {
	w       HeartbeatWriter
	backoff retry.Backoff
	timeout time.Duration
	log     *slog.Logger

	stored, bad atomic.Int64
}

// NewHeartbeats returns the handler over w, with opts's retry bounds,
// database timeout and logger.
func NewHeartbeats(w HeartbeatWriter, opts Options) *Heartbeats {
	opts = opts.withDefaults()
	return &Heartbeats{w: w, backoff: retry.Backoff{Min: opts.RetryMin, Max: opts.RetryMax},
		timeout: opts.DBTimeout, log: opts.Logger}
}

// Stored and Bad count the heartbeats stored and skipped.
func (h *Heartbeats) Stored() int64 { return h.stored.Load() }

// Bad counts the heartbeats that did not decode.
func (h *Heartbeats) Bad() int64 { return h.bad.Load() }

// Assigned does nothing.
func (h *Heartbeats) Assigned(string, int32) {}

// Revoked does nothing.
func (h *Heartbeats) Revoked(string, int32) {}

// HandleBatch stores the batch's heartbeats.
func (h *Heartbeats) HandleBatch(ctx context.Context, b *kafka.Batch) error {
	hbs := make([]contract.Heartbeat, 0, len(b.Records))
	for i := range b.Records {
		hb, err := contract.DecodeHeartbeat(b.Records[i].Value)
		if err != nil {
			h.bad.Add(1)
			h.log.Warn("heartbeat skipped", "partition", b.Partition, "offset", b.Records[i].Offset, "err", err)
			continue
		}
		hbs = append(hbs, hb)
	}
	for attempt := 0; ; attempt++ {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
		err := h.w.RecordHeartbeats(dctx, hbs)
		cancel()
		if err == nil {
			h.stored.Add(int64(len(hbs)))
			return nil
		}
		h.log.Warn("store heartbeats failed; retrying", "attempt", attempt+1, "err", err)
		if !h.backoff.Wait(ctx, attempt) {
			return ctx.Err()
		}
	}
}
