package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// RecordWriter produces records to one topic with a synchronous producer:
// Write returns once the broker acknowledged the record. It is for small,
// occasional messages (check's heartbeats). Safe for concurrent use.
type RecordWriter struct {
	opts  Options
	topic string
	p     sarama.SyncProducer
}

// AnyPartition makes WriteAt choose the partition by the key's hash, as
// Write does.
const AnyPartition int32 = -1

// NewRecordWriter connects a producer for topic.
func NewRecordWriter(opts Options, topic string) (*RecordWriter, error) {
	if topic == "" {
		return nil, errors.New("kafka: record writer: no topic given")
	}
	p, err := newSyncProducer(opts, newPinnedPartitioner)
	if err != nil {
		return nil, err
	}
	return &RecordWriter{opts: opts, topic: topic, p: p}, nil
}

// Write produces one record to the partition of its key's hash and waits
// for its acknowledgement or ctx. A nil value is a tombstone (a record with
// no value), which removes the key from a compacted topic.
func (w *RecordWriter) Write(ctx context.Context, key, value []byte) error {
	_, err := w.WriteAt(ctx, AnyPartition, key, value)
	return err
}

// WriteAt is Write to partition (AnyPartition: the key's hash, which moves
// when the topic's partition count changes) and returns the partition the
// record went to. A partition the topic does not have is an error.
func (w *RecordWriter) WriteAt(ctx context.Context, partition int32, key, value []byte) (int32, error) {
	m := &sarama.ProducerMessage{Topic: w.topic, Key: sarama.ByteEncoder(key)}
	if value != nil {
		m.Value = sarama.ByteEncoder(value)
	}
	if partition >= 0 {
		m.Metadata = pinned(partition)
	}
	type sent struct {
		partition int32
		err       error
	}
	done := make(chan sent, 1)
	go func() {
		p, _, err := w.p.SendMessage(m)
		done <- sent{p, err}
	}()
	select {
	case s := <-done:
		if s.err != nil {
			return -1, w.opts.wrap(fmt.Sprintf("produce to %s (partition %d)", w.topic, partition), s.err)
		}
		return s.partition, nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// pinned is the Metadata of a message WriteAt sends to a given partition.
type pinned int32

// pinnedPartitioner sends a message whose Metadata is pinned to that
// partition, and any other by its key's hash.
type pinnedPartitioner struct{ hash sarama.Partitioner }

func newPinnedPartitioner(topic string) sarama.Partitioner {
	return pinnedPartitioner{hash: sarama.NewHashPartitioner(topic)}
}

func (p pinnedPartitioner) Partition(m *sarama.ProducerMessage, n int32) (int32, error) {
	if pin, ok := m.Metadata.(pinned); ok {
		if int32(pin) >= n {
			return -1, fmt.Errorf("partition %d of %d: %w", pin, n, sarama.ErrInvalidPartition)
		}
		return int32(pin), nil
	}
	return p.hash.Partition(m, n)
}

// RequiresConsistency is true: the partitions are counted whether or not
// they have a leader, so that a partition number means the same partition.
func (pinnedPartitioner) RequiresConsistency() bool { return true }

// Close closes the producer.
func (w *RecordWriter) Close() error { return w.p.Close() }
