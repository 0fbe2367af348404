package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/IBM/sarama"

	"github.com/sitestat/sitestat/internal/retry"
)

// Produce sends records to their topics with an idempotent, compressed,
// synchronous producer and returns once all are acknowledged; for `sitestat
// dlq replay` and tests. A record larger than the producer's usual 1 MB limit
// is sent too (it reached the dead-letter topic, compressed): the broker
// decides.
func Produce(ctx context.Context, opts Options, records []Record) error {
	largest := 0
	for _, r := range records {
		largest = max(largest, len(r.Key)+len(r.Value))
	}
	cfg, err := newProducerConfig(opts, sarama.CompressionZSTD, 0)
	if err != nil {
		return err
	}
	cfg.Producer.Return.Successes = true
	cfg.Producer.MaxMessageBytes = max(cfg.Producer.MaxMessageBytes, largest+64<<10)
	p, err := sarama.NewSyncProducer(opts.brokers(), cfg)
	if err != nil {
		return opts.wrap("connect producer", err)
	}
	opts.markSeeds()
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(records))
	for i, r := range records {
		m := &sarama.ProducerMessage{Topic: r.Topic}
		if r.Key != nil {
			m.Key = sarama.ByteEncoder(r.Key)
		}
		if r.Value != nil {
			m.Value = sarama.ByteEncoder(r.Value)
		}
		msgs[i] = m
	}
	done := make(chan error, 1)
	go func() { done <- p.SendMessages(msgs) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err != nil {
		return opts.wrap("produce", err)
	}
	return nil
}

// ReadAll reads topic from the oldest offset of each partition up to its
// high-water mark at the time of the call, with a plain consumer (no group,
// no commits), and returns the records ordered by partition, then offset.
// It stops after limit records when limit > 0. A topic that does not exist
// is an error.
func ReadAll(ctx context.Context, opts Options, topic string, limit int) ([]Record, error) {
	var out []Record
	err := Scan(ctx, opts, topic, func(r Record) bool {
		out = append(out, r)
		return limit <= 0 || len(out) < limit
	})
	return out, err
}

// Scan reads topic like ReadAll, calling fn for each record until it
// returns false.
func Scan(ctx context.Context, opts Options, topic string, fn func(Record) bool) error {
	cfg, err := newConsumerConfig(opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- scan(ctx, opts, cfg, topic, fn) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("kafka: read %s: %w", topic, ctx.Err())
	}
}

// leaderBackoff spaces the offset lookups retried while a partition has no
// leader the client knows: a topic just created, or a broker just restarted.
var leaderBackoff = retry.Backoff{Min: 100 * time.Millisecond, Max: time.Second}

// partitionOffset is client.GetOffset retried, with fresh metadata, for up to
// about 5 s while the partition's leadership is moving (sarama retries only
// once, which a topic created a moment ago can outlast).
func partitionOffset(ctx context.Context, client sarama.Client, topic string, partition int32, at int64) (int64, error) {
	for attempt := 0; ; attempt++ {
		off, err := client.GetOffset(topic, partition, at)
		if err == nil || attempt >= 7 || !leaderMoving(err) {
			return off, err
		}
		if !leaderBackoff.Wait(ctx, attempt) {
			return off, err
		}
		_ = client.RefreshMetadata(topic) // the next GetOffset reports what still fails
	}
}

// leaderMoving reports whether err says a partition's leader is not (yet)
// where the client looked.
func leaderMoving(err error) bool {
	return errors.Is(err, sarama.ErrNotLeaderForPartition) ||
		errors.Is(err, sarama.ErrLeaderNotAvailable) ||
		errors.Is(err, sarama.ErrUnknownTopicOrPartition) ||
		errors.Is(err, sarama.ErrOffsetNotAvailable)
}

func scan(ctx context.Context, opts Options, cfg *sarama.Config, topic string, fn func(Record) bool) error {
	client, err := sarama.NewClient(opts.brokers(), cfg)
	if err != nil {
		return opts.wrap("connect", err)
	}
	defer client.Close()
	opts.markClient(client)
	partitions, err := client.Partitions(topic)
	if err != nil {
		return opts.wrap("read "+topic, err)
	}
	sort.Slice(partitions, func(i, j int) bool { return partitions[i] < partitions[j] })
	type span struct {
		partition      int32
		oldest, newest int64
	}
	var spans []span
	for _, p := range partitions {
		oldest, err := partitionOffset(ctx, client, topic, p, sarama.OffsetOldest)
		if err != nil {
			return opts.wrap(fmt.Sprintf("read %s/%d", topic, p), err)
		}
		newest, err := partitionOffset(ctx, client, topic, p, sarama.OffsetNewest)
		if err != nil {
			return opts.wrap(fmt.Sprintf("read %s/%d", topic, p), err)
		}
		if newest > oldest {
			spans = append(spans, span{p, oldest, newest})
		}
	}
	if len(spans) == 0 {
		return nil
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return opts.wrap("read "+topic, err)
	}
	defer consumer.Close()

	for _, s := range spans {
		pc, err := consumer.ConsumePartition(topic, s.partition, s.oldest)
		if err != nil {
			return opts.wrap(fmt.Sprintf("read %s/%d", topic, s.partition), err)
		}
		more, err := func() (bool, error) {
			defer pc.Close()
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return false, errors.New("partition consumer closed")
					}
					if !fn(record(m)) {
						return false, nil
					}
					if m.Offset+1 >= s.newest {
						return true, nil
					}
				case cerr, ok := <-pc.Errors():
					if ok {
						return false, cerr
					}
				case <-ctx.Done():
					return false, ctx.Err()
				}
			}
		}()
		if err != nil {
			return opts.wrap(fmt.Sprintf("read %s/%d", topic, s.partition), err)
		}
		if !more {
			return nil
		}
	}
	return nil
}
