package cli

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/notify"
)

// notifyMetrics exposes the notification loop's counters, by channel for
// every channel (configured or not, so the series exist from the start).
func notifyMetrics(l *notify.Loop) []prometheus.Collector {
	st := func(f func(notify.Stats) float64) func() float64 { return func() float64 { return f(l.Stats()) } }
	var cs []prometheus.Collector
	for _, ch := range []alert.Channel{alert.ChannelWebhook, alert.ChannelSlack, alert.ChannelPagerDuty} {
		labels := prometheus.Labels{"channel": string(ch)}
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sitestat_notifications_delivered_total",
				Help: "Notifications delivered, by channel.", ConstLabels: labels},
				st(func(s notify.Stats) float64 { return float64(s.Delivered[ch]) })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sitestat_notifications_retried_total",
				Help: "Delivery attempts that failed and were rescheduled, by channel.", ConstLabels: labels},
				st(func(s notify.Stats) float64 { return float64(s.Retried[ch]) })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sitestat_notifications_failed_total",
				Help: "Notifications given up on after SITESTAT_ALERT_GIVE_UP, by channel.", ConstLabels: labels},
				st(func(s notify.Stats) float64 { return float64(s.Failed[ch]) })),
		)
	}
	return append(cs,
		counter("sitestat_notifications_outbox_errors_total", "Failed reads of the notification outbox.",
			st(func(s notify.Stats) float64 { return float64(s.ClaimErrors) })),
		counter("sitestat_notifications_unrecorded_total",
			"Deliveries not recorded within their lease (the database failing or too slow): they will be sent again.",
			st(func(s notify.Stats) float64 { return float64(s.Unrecorded) })),
		counter("sitestat_notifications_mark_retries_total",
			"Repeated tries of recording a delivery within its lease (the database was slow or failing).",
			st(func(s notify.Stats) float64 { return float64(s.MarkRetries) })),
		counter("sitestat_notifications_unreadable_total",
			"Notifications marked failed, never sent, because their stored payload did not decode.",
			st(func(s notify.Stats) float64 { return float64(s.Unreadable) })),
		counter("sitestat_notifications_heartbeats_total", "Heartbeat requests that succeeded.",
			st(func(s notify.Stats) float64 { return float64(s.Heartbeats) })),
		counter("sitestat_notifications_heartbeat_errors_total", "Heartbeat requests that failed.",
			st(func(s notify.Stats) float64 { return float64(s.HeartbeatErrors) })),
		counter("sitestat_notifications_heartbeats_withheld_total", "Heartbeats not sent because the loop was unhealthy.",
			st(func(s notify.Stats) float64 { return float64(s.HeartbeatsSkipped) })),
	)
}
