// Package sink is `sitestat sync`'s batch logic: it turns batches of Kafka
// records into rows of PostgreSQL, each result stored once.
//
// A Sync is the kafka.Handler of a kafka.Consumer, which reads the results
// topic in a consumer group and commits a batch's offsets only when
// HandleBatch returned nil for it. HandleBatch decodes the batch, checks that
// its websites exist, writes its results in one database transaction through
// a Writer, produces its bad messages to the dead-letter topic, and returns
// nil only once both are durable. A batch seen again after a crash or a
// rebalance adds no rows: the database's unique check_id decides. Bad
// messages (undecodable, too large, for an unknown website, rejected by the
// database) never block a partition and are never dropped: they become
// dead letters (package deadletter). Outages of PostgreSQL or of the dead-letter topic are
// waited out with capped exponential backoff until the partition is
// released; so are database errors of no known class, logged as errors.
//
// Rows are stored exactly once; dead letters at least once (a crash between
// producing a batch's dead letters and committing its offsets produces them
// again when the batch is read again).
package sink

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/kafka"
)

// Defaults for the zero fields of Options.
const (
	DefaultMaxMessage = 64 << 10
	DefaultRetryMin   = 100 * time.Millisecond
	DefaultRetryMax   = 10 * time.Second
	DefaultDBTimeout  = 2 * time.Minute
	DefaultMaxFuture  = 2 * time.Minute
)

// Options configures a Sync. Zero values take the defaults above.
type Options struct {
	// MaxMessage is the largest message value accepted, in bytes; larger
	// ones go to the dead-letter topic undecoded (default 64 KiB).
	MaxMessage int
	// RetryMin and RetryMax bound the exponential backoff between attempts
	// while PostgreSQL or the dead-letter topic is unavailable (default
	// 100ms and 10s).
	RetryMin, RetryMax time.Duration
	// DBTimeout bounds each database call: a batch's COPY, a website
	// lookup, a schema check (default 2m). A call under way when the
	// partition is released is not cancelled, only bounded by this and by
	// the release deadline.
	DBTimeout time.Duration
	// RetentionRaw is how long raw rows are kept (SITESTAT_RETENTION_RAW): a
	// result checked longer ago is an expired dead letter, not a row that
	// would recreate a pruned day. 0 keeps everything.
	RetentionRaw time.Duration
	// MaxFuture is how far ahead of sync's clock a result's checked_at may
	// be (SITESTAT_SYNC_MAX_FUTURE, default 2m); a later one is a
	// bad_timestamp dead letter. Storing it would make it the probe's latest
	// check, and every real result after it late (not moving the state)
	// until the clock caught up.
	MaxFuture time.Duration
	// Now returns the current time; nil means time.Now (tests set it).
	Now func() time.Time
	// Logger receives the log lines; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxMessage
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.DBTimeout <= 0 {
		o.DBTimeout = DefaultDBTimeout
	}
	if o.MaxFuture <= 0 {
		o.MaxFuture = DefaultMaxFuture
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Writer is what a Sync needs from the database; schema.SyncDB (a
// *store.DB with the drift check of what sync writes) satisfies it.
type Writer interface {
	// InsertResults stores rs in one transaction, skipping those whose
	// check_id is already stored, and returns how many rows it added. Its
	// errors wrap the driver's error, which for a server error has a
	// SQLState() string method.
	InsertResults(ctx context.Context, rs []contract.Result) (int, error)
	// CheckSchema returns an error naming what differs when the database
	// schema is not the one the Writer expects.
	CheckSchema(ctx context.Context) error
	// WebsitesExist reports, for each of ids, whether the website exists.
	WebsitesExist(ctx context.Context, ids []int64) (map[int64]bool, error)
}

// DeadLetters is where a Sync sends what it cannot store;
// *deadletter.Writer satisfies it.
type DeadLetters interface {
	// Write returns nil once every dead letter is acknowledged, retrying
	// transient failures until ctx is done.
	Write(ctx context.Context, dls []deadletter.Letter) error
}

// Consumer is what Run reads with; *kafka.Consumer satisfies it.
type Consumer interface {
	Run(ctx context.Context, h kafka.Handler) error
}

// Stats are a Sync's counters since New. Every record of a batch
// HandleBatch accepted is counted in Consumed and in exactly one of Stored,
// Duplicates and DLQ.
type Stats struct {
	// Consumed counts the records of accepted batches.
	Consumed int64
	// Stored counts the rows added to the database.
	Stored int64
	// Duplicates counts valid results not stored because their check_id was
	// already stored or earlier in the same batch.
	Duplicates int64
	// DLQ counts the dead letters produced, by class.
	DLQ map[deadletter.Class]int64
	// Retries counts the attempts repeated after a transient failure of
	// PostgreSQL.
	Retries int64
}

// Sync stores batches of result records in PostgreSQL. Create it with New
// and start it with Run.
type Sync struct {
	w     Writer
	dlq   DeadLetters
	opts  Options
	log   *slog.Logger
	retry retry.Backoff
	sites siteCache

	consumed, stored, duplicates, retries atomic.Int64
	dead                                  sync.Map // deadletter.Class → *atomic.Int64
}

// New returns a Sync that stores results with w and sends dead letters to dlq.
func New(w Writer, dlq DeadLetters, opts Options) *Sync {
	opts = opts.withDefaults()
	return &Sync{
		w:     w,
		dlq:   dlq,
		opts:  opts,
		log:   opts.Logger,
		retry: retry.Backoff{Min: opts.RetryMin, Max: opts.RetryMax},
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
		DLQ:        make(map[deadletter.Class]int64, len(deadletter.Classes)),
	}
	for _, c := range deadletter.Classes {
		st.DLQ[c.Class] = 0
	}
	s.dead.Range(func(k, v any) bool {
		st.DLQ[k.(deadletter.Class)] = v.(*atomic.Int64).Load()
		return true
	})
	return st
}

func (s *Sync) countDead(class deadletter.Class) {
	v, _ := s.dead.LoadOrStore(class, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// Run checks the database schema, then reads with c until ctx is cancelled
// and returns nil. It returns an error when the schema differs from the
// expected one (at start, or when a write fails with SQLSTATE class 42),
// wrapping the Writer's CheckSchema error; nothing is committed past it.
// PostgreSQL outages are waited out, never returned.
func (s *Sync) Run(ctx context.Context, c Consumer) error {
	if err := s.checkSchema(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("sync: %w", err)
	}
	if err := c.Run(ctx, s); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// checkSchema runs CheckSchema, retrying while the database is unreachable.
func (s *Sync) checkSchema(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.opts.DBTimeout)
		err := s.w.CheckSchema(actx)
		cancel()
		if err == nil || classify(err) != kindRetry || ctx.Err() != nil {
			return err
		}
		d := s.retry.Delay(attempt)
		s.retries.Add(1)
		s.log.Warn("schema check failed; retrying", "err", err, "retry_in", d)
		if !retry.Sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// Assigned logs a partition this process starts storing.
func (s *Sync) Assigned(topic string, partition int32) {
	s.log.Debug("partition assigned", "topic", topic, "partition", partition)
}

// Revoked logs a partition this process stops storing.
func (s *Sync) Revoked(topic string, partition int32) {
	s.log.Debug("partition revoked", "topic", topic, "partition", partition)
}

var _ kafka.Handler = (*Sync)(nil)

// siteCache holds the ids of websites known to exist.
type siteCache struct {
	mu sync.RWMutex
	m  map[int64]struct{}
}

// missing returns the distinct website ids of rs that are not in the cache.
func (c *siteCache) missing(rs []contract.Result) []int64 {
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
