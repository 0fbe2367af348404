package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/sitestat/sitestat/internal/retry"
)

// Header is one header of a Record.
type Header struct {
	Key, Value []byte
}

// Record is one message read from a topic, in plain types.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// Header returns the value of the first header named key, and whether there is one.
func (r *Record) Header(key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if string(h.Key) == key {
			return h.Value, true
		}
	}
	return nil, false
}

// Batch is a run of consecutive records of one partition, in offset order.
type Batch struct {
	Topic     string
	Partition int32
	Records   []Record
	// HighWaterMark is the partition's high-water mark when the batch was
	// handed over: the offset the next produced record will get. A reader
	// has caught up with the partition when its last offset is
	// HighWaterMark-1.
	HighWaterMark int64
}

// Handler receives what a Consumer reads. Its methods are called from one
// goroutine per claimed partition, so calls for different partitions run
// concurrently.
type Handler interface {
	// Assigned is called when this member starts reading a partition,
	// before the partition's first batch.
	Assigned(topic string, partition int32)
	// HandleBatch processes a batch. When it returns nil, and the Consumer
	// commits, the batch's offsets are committed. An error returned once
	// ctx is done (the partition was revoked, or the consumer is stopping)
	// abandons the batch uncommitted: it is read again by whichever member
	// gets the partition next. Any other error stops the Consumer: Run
	// returns it.
	//
	// ctx is done when the partition is being released. A handler should
	// finish work it has started (the batch just written to a database
	// should still be committed) but not start waiting.
	HandleBatch(ctx context.Context, b *Batch) error
	// Revoked is called when this member stops reading a partition, after
	// its last batch.
	Revoked(topic string, partition int32)
}

// Defaults of ConsumerOptions.
const (
	DefaultConsumerBatch  = 5000
	DefaultConsumerFlush  = 200 * time.Millisecond
	DefaultReleaseTimeout = 10 * time.Second
)

// ConsumerOptions configures a Consumer.
type ConsumerOptions struct {
	// Group is the consumer group; members of one group share the
	// partitions of Topics. Required.
	Group string
	// Topics are read. Required.
	Topics []string
	// Batch is the most records a batch holds (default DefaultConsumerBatch).
	Batch int
	// Flush is the longest a record waits before its batch is handed over:
	// a batch goes to the handler when it holds Batch records or Flush after
	// its first record arrived (default DefaultConsumerFlush).
	Flush time.Duration
	// MaxPending bounds the records held in batches across all the
	// partitions the Consumer reads: with n partitions claimed, a batch holds
	// at most min(Batch, MaxPending/n) records, so memory stays bounded
	// whatever the number of partitions catching up. 0 means no bound.
	MaxPending int
	// ReleaseTimeout bounds the handling of a partition's last, incomplete
	// batch when the partition is released (default DefaultReleaseTimeout).
	ReleaseTimeout time.Duration
	// Reread makes a reader that never commits: every time a partition is
	// assigned, it is read again from its oldest offset (the group has no
	// committed offsets, so it starts where a new group does). This is for a
	// compacted topic whose whole content is the state (e.g. the site list).
	// Without it, batches are committed once handled, and a new group
	// starts at the oldest offset.
	Reread bool
	// Cooperative makes the group rebalance incrementally with sarama's
	// cooperative-sticky strategy (KIP-429): a rebalance moves only the
	// partitions that change owner, and the others keep being read without a
	// pause. Every member of the group must set it. Without it the group
	// uses the eager sticky strategy (range as a fallback): every rebalance
	// revokes and re-assigns every partition.
	Cooperative bool
	// SessionTimeout is how long the coordinator waits for a heartbeat of
	// a member before it gives the member's partitions to the others; 0
	// keeps sarama's default, 10 s. The broker bounds it
	// (group.min.session.timeout.ms, 6 s by default).
	SessionTimeout time.Duration
	// HeartbeatInterval is how often a member heartbeats, and so how soon
	// it learns of a rebalance; 0 keeps sarama's default, 3 s. It must be
	// below SessionTimeout (a third of it is usual).
	HeartbeatInterval time.Duration
	// Logger receives the consumer's log lines; nil discards them.
	Logger *slog.Logger
}

func (o ConsumerOptions) withDefaults() ConsumerOptions {
	if o.Batch <= 0 {
		o.Batch = DefaultConsumerBatch
	}
	if o.Flush <= 0 {
		o.Flush = DefaultConsumerFlush
	}
	if o.ReleaseTimeout <= 0 {
		o.ReleaseTimeout = DefaultReleaseTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// consumeRetry is the backoff between failed joins of the group.
var consumeRetry = retry.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second}

// Consumer reads topics as a member of a consumer group and hands the
// records of each claimed partition to a Handler in batches. It commits a
// batch's offsets only after the handler returned nil for it, so a crash at
// any moment means the uncommitted batches are read again, never skipped.
type Consumer struct {
	opts  Options
	copts ConsumerOptions
	group sarama.ConsumerGroup
	log   *slog.Logger
	read  atomic.Int64
	// claims counts the partitions being read.
	claims atomic.Int64
}

// batchLimit is the most records a batch may hold now (Batch, or less when
// MaxPending shares out among more partitions).
func (c *Consumer) batchLimit() int {
	limit := c.copts.Batch
	if c.copts.MaxPending > 0 {
		limit = min(limit, max(1, c.copts.MaxPending/int(max(c.claims.Load(), 1))))
	}
	return limit
}

// Read returns how many records the Consumer has taken from its partitions
// so far, handled or not.
func (c *Consumer) Read() int64 { return c.read.Load() }

// NewConsumer connects to the cluster and returns a member of copts.Group.
// Rebalancing prefers the sticky strategy (partitions stay where they were),
// with range as the fallback every member supports.
func NewConsumer(opts Options, copts ConsumerOptions) (*Consumer, error) {
	copts = copts.withDefaults()
	if copts.Group == "" || len(copts.Topics) == 0 {
		return nil, errors.New("kafka: consumer: a group and at least one topic are required")
	}
	cfg, err := newConsumerConfig(opts)
	if err != nil {
		return nil, err
	}
	if copts.Reread {
		cfg.Consumer.Offsets.AutoCommit.Enable = false
	}
	if copts.Cooperative {
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyCooperativeSticky()}
	}
	if copts.SessionTimeout > 0 {
		cfg.Consumer.Group.Session.Timeout = copts.SessionTimeout
	}
	if copts.HeartbeatInterval > 0 {
		cfg.Consumer.Group.Heartbeat.Interval = copts.HeartbeatInterval
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka: consumer: %w", err)
	}
	g, err := sarama.NewConsumerGroup(opts.brokers(), copts.Group, cfg)
	if err != nil {
		return nil, opts.wrap("join consumer group "+copts.Group, err)
	}
	opts.markSeeds()
	return &Consumer{opts: opts, copts: copts, group: g, log: copts.Logger}, nil
}

// Run reads until ctx is cancelled, then hands over each partition's last
// batch (within ReleaseTimeout), commits what was handled and returns nil. It
// returns the handler's error when HandleBatch fails other than by being
// stopped, and an error when the Consumer was closed. A broker that cannot be
// reached is waited out, with a log line per attempt.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gh := &groupHandler{c: c, h: h, cancel: cancel}

	var wg sync.WaitGroup
	wg.Go(func() { c.logErrors(ctx) })
	defer wg.Wait()

	for attempt := 0; ; {
		err := c.group.Consume(ctx, c.copts.Topics, gh)
		if f := gh.fatalErr(); f != nil {
			return f
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return fmt.Errorf("kafka: consume: %w", err)
		}
		if err == nil {
			attempt = 0
			continue
		}
		d := consumeRetry.Delay(attempt)
		attempt++
		c.log.Warn("consume failed; retrying", "topics", c.copts.Topics, "err", c.opts.Explain(err), "retry_in", d)
		if !retry.Sleep(ctx, d) {
			return nil
		}
	}
}

// Close leaves the group (its partitions move to other members at once) and
// closes the connections. Call it after Run returned.
func (c *Consumer) Close() error {
	if err := c.group.Close(); err != nil {
		return c.opts.wrap("leave consumer group "+c.copts.Group, err)
	}
	return nil
}

// logErrors logs the group's errors until ctx is done.
func (c *Consumer) logErrors(ctx context.Context) {
	errs := c.group.Errors()
	for {
		select {
		case err, ok := <-errs:
			if !ok {
				return
			}
			var ce *sarama.ConsumerError
			if errors.As(err, &ce) {
				c.log.Warn("consumer error", "topic", ce.Topic, "partition", ce.Partition, "err", c.opts.Explain(ce.Err))
				continue
			}
			c.log.Warn("consumer error", "err", c.opts.Explain(err))
		case <-ctx.Done():
			return
		}
	}
}

// groupHandler is the sarama.ConsumerGroupHandler of one Run.
type groupHandler struct {
	c      *Consumer
	h      Handler
	cancel context.CancelFunc

	mu    sync.Mutex
	fatal error
}

func (g *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	g.c.log.Info("partitions assigned", "group", g.c.copts.Group, "partitions", sess.Claims(), "generation", sess.GenerationID())
	return nil
}

func (g *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// setFatal records the error Run returns and ends the Run.
func (g *groupHandler) setFatal(err error) {
	g.mu.Lock()
	if g.fatal == nil {
		g.fatal = err
	}
	g.mu.Unlock()
	g.cancel()
}

func (g *groupHandler) fatalErr() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fatal
}

// ConsumeClaim reads one partition in batches and carries out the commit
// rules: a batch is handed over when it holds batchLimit records or Flush
// after its first one; its offsets are marked and committed only after the
// handler returned nil; when the partition is released (rebalance or
// shutdown) the batch in progress is handed over once more, within
// ReleaseTimeout, and abandoned uncommitted if that fails.
func (g *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	topic, partition := claim.Topic(), claim.Partition()
	g.h.Assigned(topic, partition)
	defer g.h.Revoked(topic, partition)

	b := &Batch{Topic: topic, Partition: partition, Records: make([]Record, 0, min(g.c.copts.Batch, 1024))}
	timer := time.NewTimer(g.c.copts.Flush)
	timer.Stop()
	defer timer.Stop()

	g.c.claims.Add(1)
	defer g.c.claims.Add(-1)

	ctx := sess.Context()
	msgs := claim.Messages()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return g.release(ctx, sess, claim, b)
			}
			if len(b.Records) == 0 {
				timer.Reset(g.c.copts.Flush)
			}
			b.Records = append(b.Records, record(m))
			g.c.read.Add(1)
			if len(b.Records) < g.c.batchLimit() {
				continue
			}
			timer.Stop()
		case <-timer.C:
		case <-ctx.Done():
			return g.release(ctx, sess, claim, b)
		}
		if ctx.Err() != nil {
			return g.release(ctx, sess, claim, b)
		}
		if !g.handle(ctx, sess, claim, b) {
			return nil
		}
	}
}

// release hands over the batch in progress when the partition is released,
// with ReleaseTimeout to handle it.
func (g *groupHandler) release(ctx context.Context, sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim, b *Batch) error {
	if len(b.Records) == 0 || g.fatalErr() != nil {
		return nil
	}
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.c.copts.ReleaseTimeout)
	defer cancel()
	g.handle(stop, sess, claim, b)
	return nil
}

// handle hands b to the handler and, when it returns nil, commits b's
// offsets and empties b. It reports whether the claim goes on.
func (g *groupHandler) handle(ctx context.Context, sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim, b *Batch) bool {
	b.HighWaterMark = claim.HighWaterMarkOffset()
	last := b.Records[len(b.Records)-1].Offset
	err := g.h.HandleBatch(ctx, b)
	switch {
	case err == nil:
		if !g.c.copts.Reread {
			sess.MarkOffset(b.Topic, b.Partition, last+1, "")
			sess.Commit()
		}
		clear(b.Records)
		b.Records = b.Records[:0]
		return true
	case ctx.Err() != nil:
		g.c.log.Warn("partition released with its batch not handled; it will be read again",
			"topic", b.Topic, "partition", b.Partition, "offset", last, "records", len(b.Records), "err", err)
		return false
	default:
		g.setFatal(err)
		return false
	}
}

// record converts a sarama message.
func record(m *sarama.ConsumerMessage) Record {
	r := Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
	if len(m.Headers) > 0 {
		r.Headers = make([]Header, 0, len(m.Headers))
		for _, h := range m.Headers {
			if h != nil {
				r.Headers = append(r.Headers, Header{Key: h.Key, Value: h.Value})
			}
		}
	}
	return r
}
