package sitefeed

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// TestSiteFeedWarnsWhenNoSites (issue 18 item 11): a checker reading its
// sites from Kafka that finds the whole sites topic without a site for
// SITESTAT_CHECK_NO_SITES_WARN logs one warning naming
// SITESTAT_SYNC_PUBLISH_SITES; one that has sites does not.
func TestSiteFeedWarnsWhenNoSites(t *testing.T) {
	opts := fixture.Options(t)
	start := func(t *testing.T, sitesTopic string) (*Feed, *fixture.LogBuffer) {
		t.Helper()
		log := &fixture.LogBuffer{}
		f := New(Options{Kafka: opts, Topic: sitesTopic, Probe: testenv.Name("probe"),
			Cooperative: true, SessionTimeout: 10 * time.Second, HeartbeatInterval: 3 * time.Second, // SITESTAT_CHECK_*'s defaults
			NoSitesWarn: time.Second, Logger: slog.New(slog.NewTextHandler(log, nil))})
		go func() { _ = f.Run(context.Background()) }()
		t.Cleanup(func() { f.Leave() })
		return f, log
	}
	t.Run("empty topic", func(t *testing.T) {
		_, log := start(t, fixture.Topic(t, opts, 3, kafka.CompactedConfigs()))
		testenv.Eventually(t, 20*time.Second, func() bool {
			return strings.Contains(log.String(), "SITESTAT_SYNC_PUBLISH_SITES")
		}, "a warning naming SITESTAT_SYNC_PUBLISH_SITES")
		if n := strings.Count(log.String(), "level=WARN msg=\"no site to check"); n != 1 {
			t.Errorf("%d warnings, want 1:\n%s", n, log.String())
		}
	})
	t.Run("a site on another partition", func(t *testing.T) {
		topic := fixture.Topic(t, opts, 3, kafka.CompactedConfigs())
		ctx := context.Background()
		if err := kafka.Produce(ctx, opts, []kafka.Record{{Topic: topic, Key: contract.SiteKey(1),
			Value: contract.EncodeSite(contract.Site{ID: 1, URL: "http://127.0.0.1:1/", Interval: time.Second})}}); err != nil {
			t.Fatal(err)
		}
		f, log := start(t, topic)
		testenv.Eventually(t, 20*time.Second, func() bool {
			sites, _ := f.set.Sites(ctx)
			return len(sites) == 1
		}, "the feed reads the site")
		passes := f.watchPasses.Load()
		testenv.Eventually(t, 10*time.Second, func() bool { return f.watchPasses.Load() >= passes+3 }, "the watch keeps looking")
		if strings.Contains(log.String(), "SITESTAT_SYNC_PUBLISH_SITES") {
			t.Errorf("a warning with a site on the topic:\n%s", log.String())
		}
	})
}
