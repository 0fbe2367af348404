package main

// Heartbeats (issue 12): check produces one to SITESTAT_KAFKA_HEARTBEAT_TOPIC
// every SITESTAT_CHECK_HEARTBEAT; sync stores them in probes and opens a
// probe_silent incident for a probe silent for SITESTAT_ALERT_SILENCE,
// unless it is itself behind on that topic.

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/sink"
	"github.com/sitestat/sitestat/store"
)

// heartbeater produces check's heartbeats.
type heartbeater struct {
	kopts  kafka.Options
	topic  string
	every  time.Duration
	probe  string
	host   string
	source string // SITESTAT_CHECK_SOURCE
	stats  func() checker.RunnerStats
	log    *slog.Logger

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
	hb := contract.Heartbeat{V: contract.HeartbeatVersion, Probe: h.probe, Host: h.host, At: time.Now().UTC(),
		Sites: st.Sites, Checks: st.Checks, Source: h.source}
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

// kafkaCheckers is the HeartbeatWriter of sync's heartbeat consumer: it
// stores the heartbeats and, at the first one made in the last recent by a
// check process that reads its sites from Kafka, sends that process's probe
// on seen (once; seen has room for it). An older heartbeat, read by a new
// consumer group catching up on the topic, does not count: that checker may
// be long gone.
type kafkaCheckers struct {
	sink.HeartbeatWriter
	recent time.Duration
	seen   chan string
	once   sync.Once
}

// kafkaCheckersRecent is kafkaCheckers.recent.
const kafkaCheckersRecent = 10 * time.Minute

func newKafkaCheckers(w sink.HeartbeatWriter) *kafkaCheckers {
	return &kafkaCheckers{HeartbeatWriter: w, recent: kafkaCheckersRecent, seen: make(chan string, 1)}
}

// RecordHeartbeats notes the first recent Kafka-sourced heartbeat and
// stores hbs.
func (k *kafkaCheckers) RecordHeartbeats(ctx context.Context, hbs []contract.Heartbeat) error {
	since := time.Now().Add(-k.recent)
	for _, hb := range hbs {
		if hb.Source == contract.SourceKafka && hb.At.After(since) {
			k.once.Do(func() { k.seen <- hb.Probe })
			break
		}
	}
	return k.HeartbeatWriter.RecordHeartbeats(ctx, hbs)
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

	passes, behind, failures atomic.Int64
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
	s.passes.Add(1)
	lag, err := kafka.GroupLag(ctx, s.kopts, s.group, s.topic)
	if err != nil {
		s.failures.Add(1)
		s.log.Warn("probe silence: cannot read the heartbeat lag; not judging", "err", err)
		return
	}
	var behind int64
	for _, n := range lag {
		behind += n
	}
	if behind > 0 {
		s.behind.Add(1)
		s.log.Debug("probe silence: behind on heartbeats; not judging", "lag", behind)
		return
	}
	ids, err := s.db.OpenSilentProbes(ctx, s.silence)
	if err != nil {
		s.failures.Add(1)
		s.log.Warn("probe silence: open incidents", "err", err)
		return
	}
	for _, id := range ids {
		s.log.Warn("probe silent", "incident_id", id, "silence", s.silence)
	}
}

// incidentMetrics exposes the incidents sync opened and resolved, the
// heartbeats it stored, and the probe-silence watch's passes.
func incidentMetrics(db *store.DB, hbs *sink.Heartbeats, sw *silenceWatch) []prometheus.Collector {
	return []prometheus.Collector{
		counter("sitestat_incidents_opened_total", "Incidents opened (down, cert_expiry, probe_silent).",
			func() float64 { return float64(db.IncidentStats().Opened) }),
		counter("sitestat_incidents_resolved_total", "Incidents resolved.",
			func() float64 { return float64(db.IncidentStats().Resolved) }),
		counter("sitestat_heartbeats_stored_total", "Heartbeats of check processes stored in probes.",
			func() float64 { return float64(hbs.Stored()) }),
		counter("sitestat_heartbeats_bad_total", "Heartbeat messages that did not decode (skipped).",
			func() float64 { return float64(hbs.Bad()) }),
		counter("sitestat_probe_silence_passes_total", "Passes of the probe-silence watch.",
			func() float64 { return float64(sw.passes.Load()) }),
		counter("sitestat_probe_silence_behind_total", "Passes skipped because sync was behind on the heartbeats topic.",
			func() float64 { return float64(sw.behind.Load()) }),
		counter("sitestat_probe_silence_errors_total", "Passes that failed (lag or database).",
			func() float64 { return float64(sw.failures.Load()) }),
	}
}
