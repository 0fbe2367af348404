package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/IBM/sarama"
)

// The headers of a dead-letter message: why sync could not store the
// original message and where it came from. The key and value are the
// original's, unchanged.
const (
	HeaderError           = "sitestat-error"            // the error, one line
	HeaderErrorClass      = "sitestat-error-class"      // a short stable class, e.g. "bad_message"
	HeaderSourceTopic     = "sitestat-source-topic"     // the topic of the original message
	HeaderSourcePartition = "sitestat-source-partition" // its partition, decimal
	HeaderSourceOffset    = "sitestat-source-offset"    // its offset, decimal
)

// DeadLetter is a message sync could not store, as written to and read from
// the dead-letter topic.
type DeadLetter struct {
	// Key and Value are the original message's, unchanged.
	Key, Value []byte
	// Error says why it could not be stored; Class is its short stable class.
	Error, Class string
	// SourceTopic, SourcePartition and SourceOffset locate the original; the
	// partition and offset are -1 when the headers are missing or malformed.
	SourceTopic     string
	SourcePartition int32
	SourceOffset    int64
	// Timestamp is the message timestamp: when set, Message uses it (e.g. the
	// original's); ParseDeadLetter returns the dead-letter message's own.
	Timestamp time.Time
	// Partition and Offset locate the dead-letter message itself; set by
	// ParseDeadLetter, ignored by Message.
	Partition int32
	Offset    int64
}

// Message returns d as a message for the dead-letter topic dlqTopic, with
// the original key (so a replay partitions as the original did), value and
// the sitestat-* headers.
func (d DeadLetter) Message(dlqTopic string) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{
		Topic: dlqTopic,
		Headers: []sarama.RecordHeader{
			{Key: []byte(HeaderError), Value: []byte(d.Error)},
			{Key: []byte(HeaderErrorClass), Value: []byte(d.Class)},
			{Key: []byte(HeaderSourceTopic), Value: []byte(d.SourceTopic)},
			{Key: []byte(HeaderSourcePartition), Value: strconv.AppendInt(nil, int64(d.SourcePartition), 10)},
			{Key: []byte(HeaderSourceOffset), Value: strconv.AppendInt(nil, d.SourceOffset, 10)},
		},
		Timestamp: d.Timestamp,
	}
	if d.Key != nil {
		m.Key = sarama.ByteEncoder(d.Key)
	}
	if d.Value != nil {
		m.Value = sarama.ByteEncoder(d.Value)
	}
	return m
}

// ParseDeadLetter reads a message of the dead-letter topic. Missing headers
// leave their fields empty (partition and offset -1); it never fails, so a
// foreign message in the topic can still be shown.
func ParseDeadLetter(m *sarama.ConsumerMessage) DeadLetter {
	d := DeadLetter{
		Key:             m.Key,
		Value:           m.Value,
		SourcePartition: -1,
		SourceOffset:    -1,
		Timestamp:       m.Timestamp,
		Partition:       m.Partition,
		Offset:          m.Offset,
	}
	for _, h := range m.Headers {
		if h == nil {
			continue
		}
		v := string(h.Value)
		switch string(h.Key) {
		case HeaderError:
			d.Error = v
		case HeaderErrorClass:
			d.Class = v
		case HeaderSourceTopic:
			d.SourceTopic = v
		case HeaderSourcePartition:
			if n, err := strconv.ParseInt(v, 10, 32); err == nil {
				d.SourcePartition = int32(n)
			}
		case HeaderSourceOffset:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				d.SourceOffset = n
			}
		}
	}
	return d
}

// ReadAll reads topic from the oldest offset of each partition up to its
// high-water mark at the time of the call, with a plain consumer (no group,
// no commits), and returns the messages ordered by partition, then offset.
// It stops after limit messages when limit > 0. It is for `sitestat dlq` and
// for tests; a topic that does not exist is an error.
func ReadAll(ctx context.Context, opts Options, topic string, limit int) ([]*sarama.ConsumerMessage, error) {
	cfg, err := newConsumerConfig(opts)
	if err != nil {
		return nil, err
	}
	type result struct {
		msgs []*sarama.ConsumerMessage
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		msgs, err := readAll(ctx, opts, cfg, topic, limit)
		done <- result{msgs, err}
	}()
	select {
	case r := <-done:
		return r.msgs, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("kafka: read %s: %w", topic, ctx.Err())
	}
}

func readAll(ctx context.Context, opts Options, cfg *sarama.Config, topic string, limit int) ([]*sarama.ConsumerMessage, error) {
	client, err := sarama.NewClient(opts.brokers(), cfg)
	if err != nil {
		return nil, opts.wrap("connect", err)
	}
	defer client.Close()
	partitions, err := client.Partitions(topic)
	if err != nil {
		return nil, opts.wrap("read "+topic, err)
	}
	sort.Slice(partitions, func(i, j int) bool { return partitions[i] < partitions[j] })
	type span struct {
		partition      int32
		oldest, newest int64
	}
	var spans []span
	for _, p := range partitions {
		oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, opts.wrap(fmt.Sprintf("read %s/%d", topic, p), err)
		}
		newest, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, opts.wrap(fmt.Sprintf("read %s/%d", topic, p), err)
		}
		if newest > oldest {
			spans = append(spans, span{p, oldest, newest})
		}
	}
	if len(spans) == 0 {
		return nil, nil
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, opts.wrap("read "+topic, err)
	}
	defer consumer.Close()

	var out []*sarama.ConsumerMessage
	for _, s := range spans {
		pc, err := consumer.ConsumePartition(topic, s.partition, s.oldest)
		if err != nil {
			return nil, opts.wrap(fmt.Sprintf("read %s/%d", topic, s.partition), err)
		}
		err = func() error {
			defer pc.Close()
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return errors.New("partition consumer closed")
					}
					out = append(out, m)
					if limit > 0 && len(out) >= limit {
						return nil
					}
					if m.Offset+1 >= s.newest {
						return nil
					}
				case cerr, ok := <-pc.Errors():
					if ok {
						return cerr
					}
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}()
		if err != nil {
			return nil, opts.wrap(fmt.Sprintf("read %s/%d", topic, s.partition), err)
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}
