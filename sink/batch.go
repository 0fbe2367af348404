package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/kafka"
)

// errStopped says a batch was given up, uncommitted, because its partition
// was released while its storage was failing.
var errStopped = errors.New("partition released before the batch was stored")

// HandleBatch stores the results of b and sends its bad records to the
// dead-letter topic; it returns nil once both are durable, and only then may
// b's offsets be committed. Failures of PostgreSQL or of the dead-letter
// topic are retried until ctx is done (then it returns an error wrapping
// ctx's, and the batch is read again later); a schema drift is returned at
// once.
func (s *Sync) HandleBatch(ctx context.Context, b *kafka.Batch) error {
	start := time.Now()
	bt := s.decode(b)
	if err := bt.checkSites(ctx); err != nil {
		return err
	}
	valid := len(bt.results)
	deadBefore := len(bt.dead)
	stored, err := bt.insert(ctx, bt.results, bt.recs)
	if err != nil {
		return err
	}
	rejected := len(bt.dead) - deadBefore
	if len(bt.dead) > 0 {
		// In offset order, as they were consumed.
		slices.SortFunc(bt.dead, func(a, b deadletter.Letter) int { return cmp.Compare(a.SourceOffset, b.SourceOffset) })
		if err := s.dlq.Write(ctx, bt.dead); err != nil {
			return fmt.Errorf("produce dead letters: %w", err)
		}
	}

	s.consumed.Add(int64(len(b.Records)))
	s.stored.Add(int64(stored))
	s.duplicates.Add(int64(valid - rejected - stored + bt.dups))
	for _, d := range bt.dead {
		s.countDead(d.Class)
		s.log.Warn("dead letter", "topic", d.SourceTopic, "partition", d.SourcePartition, "offset", d.SourceOffset,
			"class", d.Class, "err", d.Error)
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("batch stored", "topic", b.Topic, "partition", b.Partition,
			"offset", b.Records[len(b.Records)-1].Offset, "records", len(b.Records),
			"stored", stored, "dead", len(bt.dead), "took", time.Since(start))
	}
	return nil
}

// batch is the work of one HandleBatch: the valid results, in offset order,
// with the records that carried them, and the dead letters.
type batch struct {
	s       *Sync
	results []contract.Result
	recs    []*kafka.Record // recs[i] carried results[i]
	dead    []deadletter.Letter
	dups    int // results dropped as repeats within the batch
}

// decode sorts the records of b into results, repeats and dead letters.
func (s *Sync) decode(b *kafka.Batch) *batch {
	bt := &batch{s: s, results: make([]contract.Result, 0, len(b.Records)), recs: make([]*kafka.Record, 0, len(b.Records))}
	seen := make(map[string]struct{}, len(b.Records))
	now := s.opts.Now()
	for i := range b.Records {
		rec := &b.Records[i]
		if max := s.opts.MaxMessage; len(rec.Value) > max {
			bt.dead = append(bt.dead, deadletter.New(rec, deadletter.ClassTooLarge,
				fmt.Sprintf("message value of %d bytes is larger than the limit of %d bytes", len(rec.Value), max)))
			continue
		}
		r, err := contract.Decode(rec.Key, rec.Value)
		if err != nil {
			bt.dead = append(bt.dead, deadletter.New(rec, deadletter.ClassDecode, err.Error()))
			continue
		}
		if ret := s.opts.RetentionRaw; ret > 0 && r.CheckedAt.Before(now.Add(-ret)) {
			bt.dead = append(bt.dead, deadletter.New(rec, deadletter.ClassExpired,
				fmt.Sprintf("checked_at %s is older than the raw retention of %s", r.CheckedAt.Format(time.RFC3339), ret)))
			continue
		}
		if max := s.opts.MaxFuture; r.CheckedAt.After(now.Add(max)) {
			bt.dead = append(bt.dead, deadletter.New(rec, deadletter.ClassBadTimestamp,
				fmt.Sprintf("checked_at %s is more than %s ahead of sync's clock (%s)",
					r.CheckedAt.Format(time.RFC3339), max, now.UTC().Format(time.RFC3339))))
			continue
		}
		if _, ok := seen[r.CheckID]; ok {
			bt.dups++
			continue
		}
		seen[r.CheckID] = struct{}{}
		bt.results = append(bt.results, r)
		bt.recs = append(bt.recs, rec)
	}
	return bt
}

// callContext returns the context of one database call made while stop is
// not done: not cancelled with stop, so a call under way when the partition
// is released completes (and its batch is committed), but bounded by
// Options.DBTimeout and by stop's deadline, if any.
func (bt *batch) callContext(stop context.Context) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(bt.s.opts.DBTimeout)
	if d, ok := stop.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return context.WithDeadline(context.WithoutCancel(stop), deadline)
}

// checkSites moves the results for websites that do not exist to the dead
// letters. Websites not in the cache are looked up in one call.
func (bt *batch) checkSites(stop context.Context) error {
	s := bt.s
	ids := s.sites.missing(bt.results)
	if len(ids) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel := bt.callContext(stop)
		exist, err := s.w.WebsitesExist(ctx, ids)
		cancel()
		if err == nil {
			s.sites.add(exist)
			break
		}
		if err := bt.retry(stop, "look up websites", attempt, err); err != nil {
			return err
		}
	}
	j := 0
	for i := range bt.results {
		if !s.sites.has(bt.results[i].WebsiteID) {
			bt.dead = append(bt.dead, deadletter.New(bt.recs[i], deadletter.ClassUnknownSite,
				fmt.Sprintf("website_id %d is not in the websites table", bt.results[i].WebsiteID)))
			continue
		}
		bt.results[j], bt.recs[j] = bt.results[i], bt.recs[i]
		j++
	}
	clear(bt.results[j:])
	clear(bt.recs[j:])
	bt.results, bt.recs = bt.results[:j], bt.recs[:j]
	return nil
}

// insert stores rs in one transaction and returns how many rows it added.
// When PostgreSQL rejects the data (SQLSTATE class 22 or 23) it splits rs in
// halves until it finds the rows at fault, which become dead letters, and
// stores the others.
func (bt *batch) insert(stop context.Context, rs []contract.Result, recs []*kafka.Record) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel := bt.callContext(stop)
		n, err := bt.s.w.InsertResults(ctx, rs)
		cancel()
		if err == nil {
			return n, nil
		}
		if k := classify(err); k == kindData || k == kindConstraint {
			if len(rs) == 1 {
				bt.reject(rs[0], recs[0], k, err)
				return 0, nil
			}
			mid := len(rs) / 2
			a, err := bt.insert(stop, rs[:mid], recs[:mid])
			if err != nil {
				return 0, err
			}
			b, err := bt.insert(stop, rs[mid:], recs[mid:])
			return a + b, err
		}
		if err := bt.retry(stop, "insert results", attempt, err); err != nil {
			return 0, err
		}
	}
}

// reject makes a dead letter of a row PostgreSQL refused.
func (bt *batch) reject(r contract.Result, rec *kafka.Record, k kind, err error) {
	class := deadletter.ClassDBData
	if k == kindConstraint {
		class = deadletter.ClassDBConstraint
	}
	if sqlState(err) == "23503" { // foreign_key_violation: the website was removed after it was cached
		bt.s.sites.remove(r.WebsiteID)
		class = deadletter.ClassUnknownSite
	}
	bt.dead = append(bt.dead, deadletter.New(rec, class, err.Error()))
}

// retry handles a failed call: on SQLSTATE class 42 it checks the schema and
// returns the drift it finds; otherwise it waits out the backoff for attempt
// and returns nil, or an error wrapping errStopped when stop is done first.
func (bt *batch) retry(stop context.Context, what string, attempt int, err error) error {
	s := bt.s
	k := classify(err)
	if k == kindSchema {
		ctx, cancel := bt.callContext(stop)
		serr := s.w.CheckSchema(ctx)
		cancel()
		if serr != nil && classify(serr) != kindRetry {
			return fmt.Errorf("%s: %v; schema check: %w", what, err, serr)
		}
	}
	d := s.retry.Delay(attempt)
	s.retries.Add(1)
	level := slog.LevelWarn
	if k == kindUnknown {
		level = slog.LevelError
	}
	s.log.Log(context.Background(), level, what+" failed; retrying", "attempt", attempt+1, "retry_in", d, "err", err)
	if !retry.Sleep(stop, d) {
		return fmt.Errorf("%s: %w (%w)", what, errStopped, stop.Err())
	}
	return nil
}
