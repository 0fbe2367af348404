// Package sink is `sitestat sync`: it consumes checker.Results from a Kafka
// topic in a consumer group and stores each of them once in PostgreSQL.
//
// Delivery is effectively once. Each partition is read in batches; a batch is
// written in one database transaction through a Writer, its bad messages are
// produced to a dead-letter topic, and only then are its offsets marked and
// committed. A batch seen again after a crash or a rebalance adds no rows: the
// database's unique check_id decides. Bad messages (undecodable, too large,
// for an unknown website, rejected by the database) never block a partition
// and are never dropped: they go to the dead-letter topic with their original
// key and value and headers that say why and where from (see the Class
// constants). Outages of PostgreSQL or of the dead-letter topic are waited
// out with capped exponential backoff, committing nothing meanwhile; so are
// database errors of no known class, which are logged as errors.
//
// Rows are stored exactly once; dead letters at least once (a crash between
// producing a batch's dead letters and committing its offsets produces them
// again when the batch is consumed again).
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/sitestat/sitestat/checker"
)

// Defaults for the zero fields of Options.
const (
	DefaultBatch       = 5000
	DefaultFlush       = 200 * time.Millisecond
	DefaultMaxMessage  = 64 << 10
	DefaultRetryMin    = 100 * time.Millisecond
	DefaultRetryMax    = 10 * time.Second
	DefaultWaitTimeout = 10 * time.Second
)

// Options configures a Sync. Zero values take the defaults above.
type Options struct {
	// Topic is the results topic to consume. Required.
	Topic string
	// DLQTopic is the dead-letter topic bad messages are produced to. Required.
	DLQTopic string
	// Batch is the most messages a partition's batch holds (default 5000).
	Batch int
	// Flush is the longest a message waits in a batch before the batch is
	// written: a batch is written when it holds Batch messages or Flush after
	// its first message arrived, whichever comes first (default 200ms).
	Flush time.Duration
	// MaxMessage is the largest message value accepted, in bytes; larger
	// ones go to the dead-letter topic undecoded (default 64 KiB).
	MaxMessage int
	// RetryMin and RetryMax bound the exponential backoff between attempts
	// while PostgreSQL or the dead-letter topic is unavailable (default
	// 100ms and 10s).
	RetryMin, RetryMax time.Duration
	// WaitTimeout bounds each database call, and the time the last batch of
	// a partition is given to be stored when the partition is released
	// (shutdown or rebalance) (default 10s).
	WaitTimeout time.Duration
	// Logger receives the log lines; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Flush <= 0 {
		o.Flush = DefaultFlush
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxMessage
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = o.RetryMin
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = DefaultWaitTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Writer is what a Sync needs from the database; *store.DB satisfies it.
type Writer interface {
	// InsertResults stores rs in one transaction, skipping those whose
	// check_id is already stored, and returns how many rows it added. Its
	// errors wrap the driver's error, which for a server error has a
	// SQLState() string method.
	InsertResults(ctx context.Context, rs []checker.Result) (int, error)
	// CheckSchema returns an error naming what differs when the database
	// schema is not the one the Writer expects.
	CheckSchema(ctx context.Context) error
	// WebsitesExist reports, for each of ids, whether the website exists.
	WebsitesExist(ctx context.Context, ids []int64) (map[int64]bool, error)
}

// The classes of dead letters, sent in the sitestat-error-class header and
// counted in Stats.DLQ.
const (
	// ClassDecode: the value is not a Result of the contract (invalid JSON,
	// wrong types, a required field missing, unknown "v", a key that
	// disagrees with website_id, …); see checker.Decode.
	ClassDecode = "decode"
	// ClassTooLarge: the value is larger than Options.MaxMessage.
	ClassTooLarge = "too_large"
	// ClassUnknownSite: website_id names no row of the websites table.
	ClassUnknownSite = "unknown_site"
	// ClassDBData: PostgreSQL rejected the row's data (SQLSTATE class 22,
	// e.g. a number out of range or a NUL character in text).
	ClassDBData = "db_data"
	// ClassDBConstraint: the row violates a constraint (SQLSTATE class 23).
	ClassDBConstraint = "db_constraint"
)

// Classes lists every dead-letter class.
var Classes = []string{ClassDecode, ClassTooLarge, ClassUnknownSite, ClassDBData, ClassDBConstraint}

// The headers of a dead letter. Their values are text; partition and offset
// are in decimal.
const (
	HeaderError           = "sitestat-error"
	HeaderErrorClass      = "sitestat-error-class"
	HeaderSourceTopic     = "sitestat-source-topic"
	HeaderSourcePartition = "sitestat-source-partition"
	HeaderSourceOffset    = "sitestat-source-offset"
)

// Stats are a Sync's counters since New. Every message whose offset has been
// committed is counted in Consumed and in exactly one of Stored, Duplicates
// and DLQ.
type Stats struct {
	// Consumed counts the messages whose batch was committed.
	Consumed int64
	// Stored counts the rows added to the database.
	Stored int64
	// Duplicates counts valid results not stored because their check_id was
	// already stored or earlier in the same batch.
	Duplicates int64
	// DLQ counts the dead letters produced, by class.
	DLQ map[string]int64
	// Retries counts the attempts repeated after a transient failure of
	// PostgreSQL or of the dead-letter topic.
	Retries int64
}

// Sync consumes results from Kafka into PostgreSQL. Create it with New and
// start it with Run.
type Sync struct {
	w     Writer
	group sarama.ConsumerGroup
	dlq   sarama.SyncProducer
	opts  Options
	log   *slog.Logger
	sites siteCache

	consumed, stored, duplicates, retries atomic.Int64
	dead                                  [5]atomic.Int64 // indexed like Classes
}

// New returns a Sync that consumes opts.Topic with group, stores results with
// w and produces dead letters with dlq. The caller owns group and dlq and
// closes them after Run returns. The group's configuration should start new
// groups at the oldest offset (sarama.OffsetOldest); a Sync commits offsets
// itself after each batch.
func New(w Writer, group sarama.ConsumerGroup, dlq sarama.SyncProducer, opts Options) *Sync {
	opts = opts.withDefaults()
	return &Sync{
		w:     w,
		group: group,
		dlq:   dlq,
		opts:  opts,
		log:   opts.Logger.With("component", "sync"),
		sites: siteCache{m: make(map[int64]struct{})},
	}
}

// Stats returns a snapshot of the counters.
func (s *Sync) Stats() Stats {
	st := Stats{
		Consumed:   s.consumed.Load(),
		Stored:     s.stored.Load(),
		Duplicates: s.duplicates.Load(),
		Retries:    s.retries.Load(),
		DLQ:        make(map[string]int64, len(Classes)),
	}
	for i, c := range Classes {
		st.DLQ[c] = s.dead[i].Load()
	}
	return st
}

func (s *Sync) countDead(class string) {
	for i, c := range Classes {
		if c == class {
			s.dead[i].Add(1)
			return
		}
	}
}

// Run checks the database schema, then consumes until ctx is cancelled, when
// it stores the batches in progress, commits their offsets and returns nil.
// It returns an error when the schema differs from the expected one (at start
// or when a write fails with SQLSTATE class 42), wrapping the Writer's
// CheckSchema error, and commits nothing past it. PostgreSQL outages are
// waited out, never returned. Run returns when the group is closed, too.
func (s *Sync) Run(ctx context.Context) error {
	if s.opts.Topic == "" || s.opts.DLQTopic == "" {
		return errors.New("sync: the results topic and the dead-letter topic are both required")
	}
	if err := s.checkSchema(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("sync: %w", err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	h := &handler{s: s, cancel: cancel}

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.readErrors(done) })
	defer wg.Wait()
	defer close(done)

	s.log.Info("consuming", "topic", s.opts.Topic, "dlq_topic", s.opts.DLQTopic,
		"batch", s.opts.Batch, "flush", s.opts.Flush)
	for attempt := 0; ; {
		err := s.group.Consume(ctx, []string{s.opts.Topic}, h)
		if f := h.fatalErr(); f != nil {
			return fmt.Errorf("sync: %w", f)
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return fmt.Errorf("sync: %w", err)
		}
		if err == nil {
			attempt = 0
			continue
		}
		d := backoff(s.opts.RetryMin, s.opts.RetryMax, attempt)
		attempt++
		s.log.Warn("consume failed; retrying", "topic", s.opts.Topic, "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return nil
		}
	}
}

// checkSchema runs CheckSchema, retrying while the database is unreachable.
func (s *Sync) checkSchema(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.opts.WaitTimeout)
		err := s.w.CheckSchema(actx)
		cancel()
		if err == nil || classify(err) != kindRetry || ctx.Err() != nil {
			return err
		}
		d := backoff(s.opts.RetryMin, s.opts.RetryMax, attempt)
		s.retries.Add(1)
		s.log.Warn("schema check failed; retrying", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// readErrors logs the group's errors until done is closed.
func (s *Sync) readErrors(done <-chan struct{}) {
	errs := s.group.Errors()
	for {
		select {
		case err, ok := <-errs:
			if !ok {
				return
			}
			var ce *sarama.ConsumerError
			if errors.As(err, &ce) {
				s.log.Warn("consumer error", "topic", ce.Topic, "partition", ce.Partition, "err", ce.Err)
				continue
			}
			s.log.Warn("consumer error", "err", err)
		case <-done:
			return
		}
	}
}

// siteCache holds the ids of websites known to exist.
type siteCache struct {
	mu sync.RWMutex
	m  map[int64]struct{}
}

// missing returns the distinct website ids of rs that are not in the cache.
func (c *siteCache) missing(rs []checker.Result) []int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var (
		out  []int64
		seen map[int64]struct{}
		last int64
	)
	for i := range rs {
		id := rs[i].WebsiteID
		if id == last {
			continue
		}
		last = id
		if _, ok := c.m[id]; ok {
			continue
		}
		if _, ok := seen[id]; ok {
			continue
		}
		if seen == nil {
			seen = make(map[int64]struct{})
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}

func (c *siteCache) has(id int64) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.m[id]
	return ok
}

func (c *siteCache) add(ids map[int64]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ok := range ids {
		if ok {
			c.m[id] = struct{}{}
		}
	}
}

func (c *siteCache) remove(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// backoff returns the wait before retry number attempt (from 0): min doubled
// attempt times, capped at max.
func backoff(min, max time.Duration, attempt int) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// sleep waits d or until ctx is done, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
