package kafka

import (
	"time"

	"github.com/IBM/sarama"
)

// NewSyncProducer returns an idempotent, zstd-compressed synchronous producer
// that waits for all in-sync replicas: for the dead-letter topic and for
// `sitestat dlq replay`, where each send must be known to be stored before
// going on. Messages are partitioned by key hash, like the Producer's.
func NewSyncProducer(opts Options) (sarama.SyncProducer, error) {
	return newSyncProducer(opts, sarama.NewHashPartitioner)
}

// newSyncProducer is NewSyncProducer with partitioner.
func newSyncProducer(opts Options, partitioner sarama.PartitionerConstructor) (sarama.SyncProducer, error) {
	cfg, err := newProducerConfig(opts, sarama.CompressionZSTD, 0)
	if err != nil {
		return nil, err
	}
	cfg.Producer.Partitioner = partitioner
	cfg.Producer.Return.Successes = true // required by the sync producer
	sp, err := sarama.NewSyncProducer(opts.brokers(), cfg)
	if err != nil {
		return nil, opts.wrap("connect producer", err)
	}
	opts.markSeeds()
	return sp, nil
}

// NewConsumerGroup returns a consumer group member of group, for
// `sitestat sync`.
//
// Offsets: a new group starts at the oldest offset, so nothing produced
// before the first sync is missed. Auto-commit is on (every second), which
// only ever commits offsets the handler marked; the sink marks a message only
// after its batch is committed to PostgreSQL and then calls session.Commit()
// itself, so a crash re-delivers at most the uncommitted batch (stored once by
// check_id) and never skips one.
//
// Rebalancing prefers the sticky strategy (partitions stay where they were
// across rebalances), with range as the fallback every member supports.
// Errors go to the group's Errors() channel, which the caller must read.
func NewConsumerGroup(opts Options, group string) (sarama.ConsumerGroup, error) {
	cfg, err := newConsumerConfig(opts)
	if err != nil {
		return nil, err
	}
	cg, err := sarama.NewConsumerGroup(opts.brokers(), group, cfg)
	if err != nil {
		return nil, opts.wrap("join consumer group "+group, err)
	}
	opts.markSeeds()
	return cg, nil
}

// newConsumerConfig is the configuration of consumers and consumer groups.
func newConsumerConfig(opts Options) (*sarama.Config, error) {
	cfg, err := NewConfig(opts)
	if err != nil {
		return nil, err
	}
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = time.Second
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{
		sarama.NewBalanceStrategySticky(),
		sarama.NewBalanceStrategyRange(),
	}
	cfg.Consumer.Fetch.Min = 1
	// 256 KiB per partition and request (a larger record batch still comes
	// whole). zstd batches of results inflate several times once read: with
	// 1 MiB, the read-ahead of sync catching up 6 partitions held about
	// 90 MB, and its peak RSS was 371-417 MB against 285-309 MB with
	// 256 KiB, at the same rows/s (scripts/bench sync, two runs each).
	cfg.Consumer.Fetch.Default = 256 << 10
	cfg.Consumer.MaxWaitTime = 250 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}
