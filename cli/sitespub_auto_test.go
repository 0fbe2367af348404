package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// testEnv reads the configuration from a clean SITESTAT_* environment plus
// vars, as setup does, with a logger writing to log.
func testEnv(t *testing.T, vars map[string]string, log io.Writer) *env {
	t.Helper()
	for _, v := range config.Variables() {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return &env{cfg: cfg, log: newLogger(cfg, log), stdout: io.Discard, stderr: log}
}

// kafkaEnv creates the results, dead-letter, heartbeats and sites topics
// and returns the variables naming them.
func kafkaEnv(t *testing.T, opts kafka.Options) map[string]string {
	t.Helper()
	return map[string]string{
		"SITESTAT_KAFKA_BROKERS":         strings.Join(opts.Brokers, ","),
		"SITESTAT_KAFKA_TOPIC":           fixture.Topic(t, opts, 1, nil),
		"SITESTAT_KAFKA_DLQ_TOPIC":       fixture.Topic(t, opts, 1, nil),
		"SITESTAT_KAFKA_HEARTBEAT_TOPIC": fixture.Topic(t, opts, 1, nil),
		"SITESTAT_KAFKA_SITES_TOPIC":     fixture.Topic(t, opts, 3, kafka.CompactedConfigs()),
	}
}

// startSync runs sync's role over e until the test ends.
func startSync(t *testing.T, e *env) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := runSync(ctx, e); err != nil {
			t.Errorf("sync: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// produceHeartbeat produces a heartbeat of probe as raw JSON; source ""
// leaves the field out, as check did before heartbeats carried it.
func produceHeartbeat(t *testing.T, opts kafka.Options, topic, probe, source string) {
	t.Helper()
	extra := ""
	if source != "" {
		extra = fmt.Sprintf(`,"source":%q`, source)
	}
	v := fmt.Sprintf(`{"v":1,"probe":%q,"host":"h","at":%q,"sites":0,"checks":0%s}`, probe, time.Now().UTC().Format(time.RFC3339Nano), extra)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafka.Produce(ctx, opts, []kafka.Record{{Topic: topic, Key: []byte(probe), Value: []byte(v)}}); err != nil {
		t.Fatalf("produce heartbeat: %v", err)
	}
}

// TestSyncPublishesSitesForKafkaCheckers (issue 18 item 11): with
// SITESTAT_SYNC_PUBLISH_SITES unset (auto), sync puts no site on Kafka
// while its heartbeats come from checkers reading the database (an older
// checker's heartbeat, without a source, counts as one), and starts
// publishing at the first heartbeat of a checker that reads its sites from
// Kafka.
func TestSyncPublishesSitesForKafkaCheckers(t *testing.T) {
	ctx := context.Background()
	db, url := fixture.MigratedDB(t)
	opts := fixture.Options(t)
	vars := kafkaEnv(t, opts)
	vars["SITESTAT_DATABASE_URL"] = url
	vars["SITESTAT_SITES_LOCK_RETRY"] = "200ms"
	id, err := db.AddSite(ctx, store.SiteInput{URL: "http://127.0.0.1:1/auto", Interval: 5})
	if err != nil {
		t.Fatal(err)
	}
	var log fixture.LogBuffer
	startSync(t, testEnv(t, vars, &log))

	hbTopic, sitesTopic := vars["SITESTAT_KAFKA_HEARTBEAT_TOPIC"], vars["SITESTAT_KAFKA_SITES_TOPIC"]
	produceHeartbeat(t, opts, hbTopic, "older", "")
	produceHeartbeat(t, opts, hbTopic, "central", "db")
	testenv.Eventually(t, 30*time.Second, func() bool {
		var n int
		err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM probes WHERE name IN ('older', 'central')").Scan(&n)
		return err == nil && n == 2
	}, "sync stores the heartbeats of the database-sourced checkers")
	produceHeartbeat(t, opts, hbTopic, "edge", "kafka")
	testenv.Eventually(t, 20*time.Second, func() bool {
		_, ok := fixture.SitesTopic(t, opts, sitesTopic)[id]
		return ok
	}, "the site is on the sites topic after a Kafka-sourced checker's heartbeat")
	// Heartbeats are handled in order: had an earlier one started the
	// publisher, the line would name its probe.
	var started string
	for l := range strings.Lines(log.String()) {
		if strings.Contains(l, "SITESTAT_SYNC_PUBLISH_SITES=auto") {
			started = l
			break
		}
	}
	if !strings.Contains(started, "probe=edge") {
		t.Errorf("the line starting the publisher is %q, want one naming probe=edge", started)
	}
	if strings.Contains(log.String(), "/auto") {
		t.Error("the log shows a site URL")
	}
}
