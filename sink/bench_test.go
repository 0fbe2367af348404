package sink_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/internal/testenv"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/sink"
)

// BenchmarkSyncThroughput measures rows per second from Kafka into
// PostgreSQL through Sync (sync_rows_per_s) against storing the same results
// with the Writer directly in batches of the same size (copy_rows_per_s),
// and reports their ratio. Each iteration is a fresh topic and database.
func BenchmarkSyncThroughput(b *testing.B) {
	const n = 100000
	rng := rand.New(rand.NewPCG(3, 4))
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, 3)
		sites := e.addSites(10)
		rs := make([]checker.Result, n)
		for i := range rs {
			rs[i] = randomResult(rng, sites[i%len(sites)])
		}
		e.produceResults(rs)

		// The baseline: the same results, COPYed in batches of the default size.
		ctx := context.Background()
		copyDB := e.otherDatabase(sites)
		start := time.Now()
		for i := 0; i < n; i += sink.DefaultBatch {
			if _, err := copyDB.InsertResults(ctx, rs[i:min(i+sink.DefaultBatch, n)]); err != nil {
				b.Fatal(err)
			}
		}
		copyRate := float64(n) / time.Since(start).Seconds()

		// Sync, timed from its first row to its last, so the group join
		// does not count.
		b.StartTimer()
		g := benchGroup(b, e.brokers, testenv.Name("group"))
		run := e.run(sink.New(e.db, g, e.producer, sink.Options{
			Topic: e.topic, DLQTopic: e.dlqTopic, Logger: benchLogger()}), g)
		var first int64
		for {
			if first = run.s.Stats().Consumed; first > 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		start = time.Now()
		for run.s.Stats().Consumed < n {
			time.Sleep(time.Millisecond)
		}
		syncRate := float64(n-first) / time.Since(start).Seconds()
		b.StopTimer()
		if err := run.stop(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(syncRate, "sync_rows/s")
		b.ReportMetric(copyRate, "copy_rows/s")
		b.ReportMetric(syncRate/copyRate, "ratio")
		b.StartTimer()
	}
}

func benchLogger() *slog.Logger {
	if os.Getenv("SINK_BENCH_DEBUG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// benchGroup is kafka.NewConsumerGroup's group, or with
// SINK_BENCH_BUFFER=n the same configuration with ChannelBufferSize n, to
// measure how much prefetching while a batch is written matters.
func benchGroup(b *testing.B, brokers []string, group string) sarama.ConsumerGroup {
	v := os.Getenv("SINK_BENCH_BUFFER")
	if v == "" {
		g := newGroup(b, brokers, group)
		b.Cleanup(func() { g.Close() })
		return g
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := kafka.NewConfig(kafka.Options{Brokers: brokers})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Fetch.Default = 1 << 20
	cfg.Consumer.MaxWaitTime = 250 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cfg.ChannelBufferSize = n
	g, err := sarama.NewConsumerGroup(brokers, group, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g
}
