package main

// Heartbeats (issue 12): check produces one to SITESTAT_KAFKA_HEARTBEAT_TOPIC
// every SITESTAT_CHECK_HEARTBEAT; sync stores them in probes and opens a
// probe_silent incident for a probe silent for SITESTAT_ALERT_SILENCE,
// unless it is itself behind on that topic.

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/store"
)

// heartbeater produces check's heartbeats.
type heartbeater struct {
	kopts kafka.Options
	topic string
	every time.Duration
	probe string
	host  string
	stats func() checker.RunnerStats
	log   *slog.Logger

	w    *kafka.RecordWriter
	sent atomic.Int64
}

// run produces a heartbeat at once and then every interval until ctx ends.
// A failure is logged and the next beat tries again (reconnecting).
func (h *heartbeater) run(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		h.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// beat produces one heartbeat, within one interval.
func (h *heartbeater) beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, h.every)
	defer cancel()
	if h.w == nil {
		w, err := kafka.NewRecordWriter(h.kopts, h.topic)
		if err != nil {
			h.log.Warn("heartbeat: cannot connect", "topic", h.topic, "err", err)
			return
		}
		h.w = w
	}
	st := h.stats()
	hb := checker.Heartbeat{V: checker.HeartbeatVersion, Probe: h.probe, Host: h.host, At: time.Now().UTC(),
		Sites: st.Sites, Checks: st.Checks}
	b, err := json.Marshal(hb)
	if err != nil {
		h.log.Error("heartbeat: encode", "err", err)
		return
	}
	if err := h.w.Write(ctx, []byte(h.probe), b); err != nil {
		h.log.Warn("heartbeat: produce failed", "topic", h.topic, "err", err)
		h.w.Close()
		h.w = nil
		return
	}
	h.sent.Add(1)
}

// close closes the producer.
func (h *heartbeater) close() {
	if h.w != nil {
		h.w.Close()
	}
}

// silenceWatch is sync's probe_silent task: every tick, unless sync's
// heartbeat consumer group is behind, it opens the incidents of the probes
// silent for longer than silence.
type silenceWatch struct {
	db      *store.DB
	kopts   kafka.Options
	group   string
	topic   string
	silence time.Duration
	every   time.Duration
	log     *slog.Logger
}

func (s *silenceWatch) run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.pass(ctx)
	}
}

// pass checks the lag on the heartbeats topic, then opens the incidents.
func (s *silenceWatch) pass(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(s.every, 10*time.Second))
	defer cancel()
	lag, err := kafka.GroupLag(ctx, s.kopts, s.group, s.topic)
	if err != nil {
		s.log.Warn("probe silence: cannot read the heartbeat lag; not judging", "err", err)
		return
	}
	var behind int64
	for _, n := range lag {
		behind += n
	}
	if behind > 0 {
		s.log.Debug("probe silence: behind on heartbeats; not judging", "lag", behind)
		return
	}
	ids, err := s.db.OpenSilentProbes(ctx, s.silence)
	if err != nil {
		s.log.Warn("probe silence: open incidents", "err", err)
		return
	}
	for _, id := range ids {
		s.log.Warn("probe silent", "incident_id", id, "silence", s.silence)
	}
}
