// Package heartbeat holds the jobs of the check processes' heartbeats
// (issue 12): check's Beater produces one to SITESTAT_KAFKA_HEARTBEAT_TOPIC
// every SITESTAT_CHECK_HEARTBEAT; sync stores them in probes (sink), notes
// the checkers that read their sites from Kafka (KafkaCheckers), and its
// SilenceWatch opens a probe_silent incident for a probe silent for
// SITESTAT_ALERT_SILENCE, unless sync is itself behind on that topic.
package heartbeat

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/sink"
)

// Beater produces check's heartbeats.
type Beater struct {
	kopts  kafka.Options
	topic  string
	every  time.Duration
	probe  string
	host   string
	source string // SITESTAT_CHECK_SOURCE
	stats  func() Counts
	log    *slog.Logger

	w    *kafka.RecordWriter
	sent atomic.Int64
}

// Run produces a heartbeat at once and then every interval until ctx ends,
// and returns nil. A failure is logged and the next beat tries again
// (reconnecting).
func (h *Beater) Run(ctx context.Context) error {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		h.Beat(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Beat produces one heartbeat, within one interval.
func (h *Beater) Beat(ctx context.Context) {
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

// Close closes the producer.
func (h *Beater) Close() {
	if h.w != nil {
		h.w.Close()
	}
}

// KafkaCheckers is the HeartbeatWriter of sync's heartbeat consumer: it
// stores the heartbeats and, at the first one made in the last recent by a
// check process that reads its sites from Kafka, sends that process's probe
// on Seen (once; Seen has room for it). An older heartbeat, read by a new
// consumer group catching up on the topic, does not count: that checker may
// be long gone.
type KafkaCheckers struct {
	sink.HeartbeatWriter
	recent time.Duration
	seen   chan string
	once   sync.Once
}

// kafkaCheckersRecent is KafkaCheckers.recent.
const kafkaCheckersRecent = 10 * time.Minute

// NewKafkaCheckers returns the KafkaCheckers storing heartbeats with w.
func NewKafkaCheckers(w sink.HeartbeatWriter) *KafkaCheckers {
	return &KafkaCheckers{HeartbeatWriter: w, recent: kafkaCheckersRecent, seen: make(chan string, 1)}
}

// Seen receives the probe of the first recent Kafka-sourced heartbeat.
func (k *KafkaCheckers) Seen() <-chan string { return k.seen }

// RecordHeartbeats notes the first recent Kafka-sourced heartbeat and
// stores hbs.
func (k *KafkaCheckers) RecordHeartbeats(ctx context.Context, hbs []contract.Heartbeat) error {
	since := time.Now().Add(-k.recent)
	for _, hb := range hbs {
		if hb.Source == contract.SourceKafka && hb.At.After(since) {
			k.once.Do(func() { k.seen <- hb.Probe })
			break
		}
	}
	return k.HeartbeatWriter.RecordHeartbeats(ctx, hbs)
}

// SilenceWatch is sync's probe_silent task: every tick, unless sync's
// heartbeat consumer group is behind, it opens the incidents of the probes
// silent for longer than silence.
type SilenceWatch struct {
	db      Probes
	kopts   kafka.Options
	group   string
	topic   string
	silence time.Duration
	every   time.Duration
	log     *slog.Logger

	passes, behind, failures atomic.Int64
}

// Run judges every interval until ctx ends, and returns nil; a failed pass
// is logged and counted.
func (s *SilenceWatch) Run(ctx context.Context) error {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.pass(ctx)
	}
}

// pass checks the lag on the heartbeats topic, then opens the incidents.
func (s *SilenceWatch) pass(ctx context.Context) {
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
