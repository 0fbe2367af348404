package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/heartbeat"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/prune"
	"github.com/sitestat/sitestat/rollup"
	"github.com/sitestat/sitestat/sink"
	"github.com/sitestat/sitestat/sitefeed"
	"github.com/sitestat/sitestat/sitespub"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/web"
)

// serveMetrics serves the collectors, plus Go and process metrics, at
// http://SITESTAT_METRICS_ADDR/metrics until the returned stop is called. It
// does nothing when the address is empty. A port already in use is logged,
// not fatal: metrics never stop checks or syncs.
func serveMetrics(ctx context.Context, e *env, log *slog.Logger, cs []prometheus.Collector) (stop func()) {
	if e.cfg.MetricsAddr == "" {
		return func() {}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := web.NewHTTPServer(web.WithTimeout(mux, web.DefaultRequestTimeout)) // the timeouts of serve
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", e.cfg.MetricsAddr)
	if err != nil {
		log.Warn("metrics not served", "addr", e.cfg.MetricsAddr, "err", err)
		return func() {}
	}
	log.Info("serving metrics", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}

// counter and gauge make a metric whose value is read from f at each scrape.
func counter(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
}

func gauge(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
}

// checkMetrics exposes the scheduler's and the producer's counters.
func checkMetrics(r *checker.Runner, p *kafka.Producer) []prometheus.Collector {
	rs := func(f func(checker.RunnerStats) float64) func() float64 {
		return func() float64 { return f(r.Stats()) }
	}
	ps := func(f func(kafka.ProducerStats) float64) func() float64 {
		return func() float64 { return f(p.Stats()) }
	}
	return []prometheus.Collector{
		gauge("sitestat_check_sites", "Websites scheduled.", rs(func(s checker.RunnerStats) float64 { return float64(s.Sites) })),
		gauge("sitestat_check_in_flight", "Checks running now.", rs(func(s checker.RunnerStats) float64 { return float64(s.InFlight) })),
		counter("sitestat_checks_total", "Checks completed.", rs(func(s checker.RunnerStats) float64 { return float64(s.Checks) })),
		counter("sitestat_checks_skipped_total", "Due checks not run because the previous one was still in flight.", rs(func(s checker.RunnerStats) float64 { return float64(s.Skipped) })),
		counter("sitestat_checks_filtered_total", "Results not produced because of SITESTAT_CHECK_SKIP_STATUS.", rs(func(s checker.RunnerStats) float64 { return float64(s.Filtered) })),
		gauge("sitestat_check_lag_p99_seconds", "99th percentile of how late checks start against their schedule.", rs(func(s checker.RunnerStats) float64 { return s.LagP99.Seconds() })),
		newLagCollector(r),
		counter("sitestat_results_acked_total", "Results acknowledged by Kafka.", ps(func(s kafka.ProducerStats) float64 { return float64(s.Acked) })),
		counter("sitestat_results_resent_total", "Produce attempts that failed and were retried.", ps(func(s kafka.ProducerStats) float64 { return float64(s.Failed) })),
		counter("sitestat_results_dropped_total", "Results given up on: SITESTAT_CHECK_BUFFER full, rejected by the broker, or not acknowledged by the end of a stop.", func() float64 { return float64(p.Stats().Dropped + r.Stats().Unencodable) }), // the checker encodes now
		gauge("sitestat_results_pending", "Results not yet acknowledged by Kafka.", ps(func(s kafka.ProducerStats) float64 { return float64(s.Pending) })),
	}
}

// lagCollector exposes the Runner's lag histogram as a Prometheus
// histogram, so that a rate over any window can be taken from it.
type lagCollector struct {
	r      *checker.Runner
	desc   *prometheus.Desc
	bounds []time.Duration
}

func newLagCollector(r *checker.Runner) lagCollector {
	return lagCollector{
		r:    r,
		desc: prometheus.NewDesc("sitestat_check_lag_seconds", "How late checks start against their schedule.", nil, nil),
		// Edges of the Runner's own buckets, finer around the 100 ms … 1 s that matter.
		bounds: []time.Duration{
			time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
			50 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond, 200 * time.Millisecond,
			250 * time.Millisecond, 300 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond,
			750 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
		},
	}
}

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	cum, count, sum := c.r.LagHistogram(c.bounds)
	buckets := make(map[float64]uint64, len(c.bounds))
	for i, b := range c.bounds {
		buckets[b.Seconds()] = cum[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.desc, count, sum.Seconds(), buckets)
}

// syncMetrics exposes sync's counters.
func syncMetrics(s *sink.Sync) []prometheus.Collector {
	st := func(f func(sink.Stats) float64) func() float64 { return func() float64 { return f(s.Stats()) } }
	cs := []prometheus.Collector{
		counter("sitestat_sync_consumed_total", "Messages whose batch was committed.", st(func(s sink.Stats) float64 { return float64(s.Consumed) })),
		counter("sitestat_sync_stored_total", "Rows added to website_status.", st(func(s sink.Stats) float64 { return float64(s.Stored) })),
		counter("sitestat_sync_duplicates_total", "Results not stored because their check_id was stored already.", st(func(s sink.Stats) float64 { return float64(s.Duplicates) })),
		counter("sitestat_sync_retries_total", "Attempts repeated after PostgreSQL or the dead-letter topic failed.", st(func(s sink.Stats) float64 { return float64(s.Retries) })),
	}
	for _, c := range deadletter.Classes {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sitestat_sync_dead_letters_total", Help: "Messages sent to the dead-letter topic, by class.",
			ConstLabels: prometheus.Labels{"class": string(c.Class)},
		}, st(func(s sink.Stats) float64 { return float64(s.DLQ[c.Class]) })))
	}
	return cs
}

// pruneMetrics exposes the counters of the pruner and of the rollup task
// (a failure of either counts in sitestat_prune_failures_total).
func pruneMetrics(p *prune.Pruner, m *rollup.Merger) []prometheus.Collector {
	ps := func(f func(prune.Stats) float64) func() float64 { return func() float64 { return f(p.Stats()) } }
	return []prometheus.Collector{
		counter("sitestat_prune_runs_total", "Pruning passes completed (including those skipped because another sync was pruning).",
			ps(func(s prune.Stats) float64 { return float64(s.Runs) })),
		counter("sitestat_prune_failures_total", "Pruning passes, partition creations, merges of hours into days or fills of the status window cache that failed.",
			func() float64 { return float64(p.Stats().Failures + m.Stats().Failures) }),
		counter("sitestat_rollup_merge_daily_rows_total", "Daily rollup rows written by merges of hours into days.",
			func() float64 { return float64(m.Stats().MergedRows) }),
		counter("sitestat_prune_partitions_dropped_total", "Raw day partitions dropped past SITESTAT_RETENTION_RAW.",
			ps(func(s prune.Stats) float64 { return float64(s.Partitions) })),
		counter("sitestat_prune_raw_rows_total", "Raw rows dropped with their partitions (PostgreSQL's estimate).",
			ps(func(s prune.Stats) float64 { return float64(s.RawRows) })),
		counter("sitestat_prune_rollup_rows_total", "Hourly and daily rollup rows deleted past their retention.",
			ps(func(s prune.Stats) float64 { return float64(s.RollupRows) })),
		gauge("sitestat_prune_last_success_timestamp_seconds", "When the last pruning pass completed, as a Unix time.",
			ps(func(s prune.Stats) float64 {
				if s.LastOK.IsZero() {
					return 0
				}
				return float64(s.LastOK.Unix())
			})),
	}
}

// publisherMetrics exposes the sites publisher's counters.
func publisherMetrics(p *sitespub.Publisher) []prometheus.Collector {
	ps := func(f func(sitespub.Stats) float64) func() float64 { return func() float64 { return f(p.Stats()) } }
	return []prometheus.Collector{
		gauge("sitestat_sites_publisher_holding", "1 while this sync holds the lock and publishes the websites table to the sites topic.",
			ps(func(s sitespub.Stats) float64 {
				if s.Holding {
					return 1
				}
				return 0
			})),
		counter("sitestat_sites_published_total", "Site records published to the sites topic.", ps(func(s sitespub.Stats) float64 { return float64(s.Published) })),
		counter("sitestat_sites_tombstones_total", "Tombstones published to the sites topic for removed websites.", ps(func(s sitespub.Stats) float64 { return float64(s.Tombstones) })),
		counter("sitestat_sites_stale_copies_total", "Stale copies of a site removed from a partition of the sites topic other than the one its record is kept in (left when the partition count grew).", ps(func(s sitespub.Stats) float64 { return float64(s.Stale) })),
		counter("sitestat_sites_reconciles_total", "Full comparisons of the websites table with the sites topic.", ps(func(s sitespub.Stats) float64 { return float64(s.Reconciles) })),
		counter("sitestat_sites_publisher_failures_total", "Times the sites publisher stopped on an error (it tries again).", ps(func(s sitespub.Stats) float64 { return float64(s.Failures) })),
	}
}

// feedMetrics exposes the site feed's state.
func feedMetrics(f *sitefeed.Feed) []prometheus.Collector {
	return []prometheus.Collector{
		gauge("sitestat_check_sites_partitions", "Partitions of the sites topic whose sites this check process checks (SITESTAT_CHECK_SOURCE=kafka).",
			func() float64 { return float64(f.Stats().Partitions) }),
		counter("sitestat_check_sites_bad_total", "Records of the sites topic skipped as unreadable.",
			func() float64 { return float64(f.Stats().Bad) }),
	}
}

// incidentMetrics exposes the incidents sync opened and resolved, the
// heartbeats it stored, and the probe-silence watch's passes.
func incidentMetrics(db *store.DB, hbs *sink.Heartbeats, sw *heartbeat.SilenceWatch) []prometheus.Collector {
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
			func() float64 { return float64(sw.Stats().Passes) }),
		counter("sitestat_probe_silence_behind_total", "Passes skipped because sync was behind on the heartbeats topic.",
			func() float64 { return float64(sw.Stats().Behind) }),
		counter("sitestat_probe_silence_errors_total", "Passes that failed (lag or database).",
			func() float64 { return float64(sw.Stats().Failures) }),
	}
}
