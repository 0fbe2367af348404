package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// collector is a Handler that records the offsets it accepted; reject, when
// set, makes it hold each batch until the partition is released and fail.
type collector struct {
	mu      sync.Mutex
	offsets []int64
	reject  bool
}

func (c *collector) Assigned(string, int32) {}
func (c *collector) Revoked(string, int32)  {}
func (c *collector) HandleBatch(ctx context.Context, b *kafka.Batch) error {
	if c.reject {
		<-ctx.Done()
		return ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range b.Records {
		c.offsets = append(c.offsets, r.Offset)
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.offsets)
}

// consume runs a consumer with h until cond holds (or, with cond nil, until
// it read want records), then stops it and leaves the group.
func consume(t *testing.T, opts kafka.Options, copts kafka.ConsumerOptions, h kafka.Handler, want int64) {
	t.Helper()
	c, err := kafka.NewConsumer(opts, copts)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, h) }()
	testenv.Eventually(t, 30*time.Second, func() bool { return c.Read() >= want }, "the consumer read %d of %d records", c.Read(), want)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func produceN(t *testing.T, opts kafka.Options, topic string, n int) {
	t.Helper()
	recs := make([]kafka.Record, n)
	for i := range recs {
		recs[i] = kafka.Record{Topic: topic, Key: []byte("k"), Value: []byte(fmt.Sprint(i))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.Produce(ctx, opts, recs); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func lag(t *testing.T, opts kafka.Options, group, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := kafka.GroupLag(ctx, opts, group, topic)
	if err != nil {
		t.Fatalf("GroupLag: %v", err)
	}
	return l[0]
}

// TestConsumerCommitRules, against the real broker: a new group starts at
// the oldest offset; accepted batches are committed; a batch abandoned at
// release is read again by the next member; a Reread consumer commits
// nothing and reads everything again each time.
func TestConsumerCommitRules(t *testing.T) {
	t.Parallel()
	opts := fixture.Options(t)
	topic := fixture.Topic(t, opts, 1, nil)
	group := testenv.Name("group")
	copts := kafka.ConsumerOptions{Group: group, Topics: []string{topic}, Flush: 20 * time.Millisecond}

	produceN(t, opts, topic, 10)
	first := &collector{}
	consume(t, opts, copts, first, 10)
	if got := lag(t, opts, group, topic); got != 0 || first.count() != 10 {
		t.Fatalf("after accepting: lag %d, accepted %d; want 0 and 10", got, first.count())
	}

	produceN(t, opts, topic, 5)
	consume(t, opts, copts, &collector{reject: true}, 5)
	if got := lag(t, opts, group, topic); got != 5 {
		t.Fatalf("after abandoning: lag %d, want 5 (nothing committed)", got)
	}
	next := &collector{}
	consume(t, opts, copts, next, 5)
	if next.count() != 5 || next.offsets[0] != 10 || lag(t, opts, group, topic) != 0 {
		t.Errorf("the next member accepted offsets %v, want 10..14 and everything committed", next.offsets)
	}

	reread := kafka.ConsumerOptions{Group: testenv.Name("reread"), Topics: []string{topic}, Flush: 20 * time.Millisecond, Reread: true}
	for i := range 2 {
		c := &collector{}
		consume(t, opts, reread, c, 15)
		if c.count() != 15 || c.offsets[0] != 0 {
			t.Errorf("Reread run %d read %d records from offset %v, want all 15 from 0", i, c.count(), c.offsets[:1])
		}
	}
	if got := lag(t, opts, reread.Group, topic); got != 15 {
		t.Errorf("Reread group lag %d, want 15 (it never commits)", got)
	}
}
