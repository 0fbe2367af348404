package kafka

import (
	"context"
	"errors"

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

// NewRecordWriter connects a producer for topic.
func NewRecordWriter(opts Options, topic string) (*RecordWriter, error) {
	if topic == "" {
		return nil, errors.New("kafka: record writer: no topic given")
	}
	p, err := NewSyncProducer(opts)
	if err != nil {
		return nil, err
	}
	return &RecordWriter{opts: opts, topic: topic, p: p}, nil
}

// Write produces one record and waits for its acknowledgement or ctx. A nil
// value is a tombstone (a record with no value), which removes the key from
// a compacted topic.
func (w *RecordWriter) Write(ctx context.Context, key, value []byte) error {
	m := &sarama.ProducerMessage{Topic: w.topic, Key: sarama.ByteEncoder(key)}
	if value != nil {
		m.Value = sarama.ByteEncoder(value)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := w.p.SendMessage(m)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return w.opts.wrap("produce to "+w.topic, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes the producer.
func (w *RecordWriter) Close() error { return w.p.Close() }
