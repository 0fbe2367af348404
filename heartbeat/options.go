package heartbeat

import (
	"context"
	"log/slog"
	"time"

	"github.com/sitestat/sitestat/kafka"
)

// Options are a Beater's settings.
type Options struct {
	Kafka  kafka.Options
	Topic  string        // SITESTAT_KAFKA_HEARTBEAT_TOPIC
	Every  time.Duration // SITESTAT_CHECK_HEARTBEAT
	Probe  string        // SITESTAT_PROBE
	Host   string        // the host name
	Source string        // SITESTAT_CHECK_SOURCE
	Stats  func() Counts // what the check process has done so far
	Logger *slog.Logger
}

// Counts is what a heartbeat reports of its check process.
type Counts struct {
	Sites  int    // sites scheduled
	Checks uint64 // checks completed since the process started
}

// New returns the Beater of o; it connects at its first beat.
func New(o Options) *Beater {
	return &Beater{kopts: o.Kafka, topic: o.Topic, every: o.Every, probe: o.Probe, host: o.Host,
		source: o.Source, stats: o.Stats, log: o.Logger}
}

// Probes is what the silence watch needs of the database: it opens the
// probe_silent incidents of the probes silent for longer than silence, and
// returns their ids (store.DB is one).
type Probes interface {
	OpenSilentProbes(ctx context.Context, silence time.Duration) ([]int64, error)
}

// SilenceOptions are a SilenceWatch's settings.
type SilenceOptions struct {
	DB      Probes
	Kafka   kafka.Options
	Group   string        // sync's consumer group of the heartbeats topic
	Topic   string        // SITESTAT_KAFKA_HEARTBEAT_TOPIC
	Silence time.Duration // SITESTAT_ALERT_SILENCE
	Every   time.Duration // how often it judges
	Logger  *slog.Logger
}

// NewSilenceWatch returns the watch of o.
func NewSilenceWatch(o SilenceOptions) *SilenceWatch {
	return &SilenceWatch{db: o.DB, kopts: o.Kafka, group: o.Group, topic: o.Topic, silence: o.Silence,
		every: o.Every, log: o.Logger}
}

// SilenceStats counts the watch's passes.
type SilenceStats struct {
	Passes   int64 // passes run
	Behind   int64 // passes skipped: sync was behind on the heartbeats topic
	Failures int64 // passes that failed (lag or database)
}

// Stats returns the watch's counters.
func (s *SilenceWatch) Stats() SilenceStats {
	return SilenceStats{Passes: s.passes.Load(), Behind: s.behind.Load(), Failures: s.failures.Load()}
}
