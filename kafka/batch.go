package kafka

import (
	"context"
	"errors"
	"sort"

	"github.com/IBM/sarama"
)

// BatchWriter produces batches of records, headers and timestamps included,
// to one topic with an idempotent, synchronous producer (NewSyncProducer):
// Send returns once the broker acknowledged every record of the batch or
// said which it refused. It knows nothing of what the records hold; sync's
// dead-letter writer is built on it. Safe for concurrent use.
type BatchWriter struct {
	opts  Options
	topic string
	p     sarama.SyncProducer
}

// NewBatchWriter connects a producer for topic.
func NewBatchWriter(opts Options, topic string) (*BatchWriter, error) {
	if topic == "" {
		return nil, errors.New("kafka: batch writer: no topic given")
	}
	p, err := NewSyncProducer(opts)
	if err != nil {
		return nil, err
	}
	return &BatchWriter{opts: opts, topic: topic, p: p}, nil
}

// Topic returns the topic the writer produces to.
func (w *BatchWriter) Topic() string { return w.topic }

// Failed is a record of a batch the broker did not take.
type Failed struct {
	// Index is the record's place in the batch given to Send.
	Index int
	// Err is why; Permanent(Err) says whether sending it again can help.
	Err error
}

// Send produces recs to the writer's topic in one call, bounded by ctx
// (each record's Topic, Partition and Offset are ignored; the key's hash
// chooses the partition; a nil key or value is sent as none). It returns nil
// when the broker acknowledged them all; otherwise the error and the
// records that failed, ordered by index (all of them when the error names
// none). When ctx ends first it returns ctx's error and no list: the send
// goes on in the background, and its outcome is unknown.
func (w *BatchWriter) Send(ctx context.Context, recs []Record) ([]Failed, error) {
	msgs := make([]*sarama.ProducerMessage, len(recs))
	index := make(map[*sarama.ProducerMessage]int, len(recs))
	for i := range recs {
		msgs[i] = message(w.topic, &recs[i])
		index[msgs[i]] = i
	}
	done := make(chan error, 1)
	go func() { done <- w.p.SendMessages(msgs) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err == nil {
		return nil, nil
	}
	var pe sarama.ProducerErrors
	if !errors.As(err, &pe) || len(pe) == 0 {
		out := make([]Failed, len(recs))
		for i := range recs {
			out[i] = Failed{i, err}
		}
		return out, err
	}
	out := make([]Failed, 0, len(pe))
	for _, e := range pe {
		if i, ok := index[e.Msg]; ok {
			out = append(out, Failed{i, e.Err})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out, err
}

// Explain is Options.Explain of the writer's options: err in one line for a
// log, with what to check.
func (w *BatchWriter) Explain(err error) string { return w.opts.Explain(err) }

// Close closes the producer.
func (w *BatchWriter) Close() error { return w.p.Close() }

// Permanent reports whether err, of a record Send could not produce, is one
// that sending the same record again cannot fix: too large for the
// producer or the topic, invalid, or a producer configuration error.
func Permanent(err error) bool { return permanent(err) }

// message is r as a sarama message for topic: key, value, headers and
// timestamp.
func message(topic string, r *Record) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: topic, Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		m.Headers = make([]sarama.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			m.Headers[i] = sarama.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	if r.Key != nil {
		m.Key = sarama.ByteEncoder(r.Key)
	}
	if r.Value != nil {
		m.Value = sarama.ByteEncoder(r.Value)
	}
	return m
}
