package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/IBM/sarama"

	"github.com/sitestat/sitestat/checker"
)

// errStopped says a batch was abandoned, uncommitted, because its partition
// is being released (shutdown or rebalance) while its storage was failing.
var errStopped = errors.New("partition released before the batch was stored")

// maxErrorHeader bounds the sitestat-error header.
const maxErrorHeader = 1024

// handler is the sarama.ConsumerGroupHandler of one Run.
type handler struct {
	s      *Sync
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	fatal error
}

// Setup logs the partitions claimed by a new session.
func (h *handler) Setup(sess sarama.ConsumerGroupSession) error {
	h.s.log.Info("partitions assigned", "topic", h.s.opts.Topic,
		"partitions", sess.Claims()[h.s.opts.Topic], "generation", sess.GenerationID())
	return nil
}

// Cleanup does nothing: every ConsumeClaim commits its own batches.
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// setFatal records the error Run returns and ends the Run.
func (h *handler) setFatal(err error) {
	h.mu.Lock()
	if h.fatal == nil {
		h.fatal = err
	}
	h.mu.Unlock()
	h.cancel(err)
}

func (h *handler) fatalErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fatal
}

// ConsumeClaim reads one partition in batches. A batch is stored when it
// holds Options.Batch messages or Options.Flush after its first message; its
// offsets are committed only after that. When the session ends (shutdown or
// rebalance) the batch in progress is stored, within Options.WaitTimeout,
// unless storing was already failing.
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	c := &claimRun{
		h:         h,
		s:         h.s,
		sess:      sess,
		topic:     claim.Topic(),
		partition: claim.Partition(),
		seen:      make(map[string]struct{}),
	}
	opts := h.s.opts
	timer := time.NewTimer(opts.Flush)
	timer.Stop()
	defer timer.Stop()

	ctx := sess.Context()
	msgs := claim.Messages()
	for {
		select {
		case msg, ok := <-msgs:
			if !ok {
				return c.finish(ctx)
			}
			if c.n == 0 {
				timer.Reset(opts.Flush)
			}
			c.add(msg)
			if c.n >= opts.Batch {
				timer.Stop()
				if ctx.Err() != nil {
					return c.finish(ctx)
				}
				if err := c.flush(ctx); err != nil {
					return c.abandon(err)
				}
			}
		case <-timer.C:
			if ctx.Err() != nil {
				return c.finish(ctx)
			}
			if err := c.flush(ctx); err != nil {
				return c.abandon(err)
			}
		case <-ctx.Done():
			return c.finish(ctx)
		}
	}
}

// deadLetter is a message bound for the dead-letter topic.
type deadLetter struct {
	msg   *sarama.ConsumerMessage
	class string
	err   string
}

// claimRun is the state of one ConsumeClaim: the batch in progress.
type claimRun struct {
	h         *handler
	s         *Sync
	sess      sarama.ConsumerGroupSession
	topic     string
	partition int32

	n       int                       // messages in the batch
	last    *sarama.ConsumerMessage   // the batch's last message
	results []checker.Result          // valid results, distinct check ids
	msgs    []*sarama.ConsumerMessage // msgs[i] carried results[i]
	dead    []deadLetter
	seen    map[string]struct{} // check ids in results
	dups    int                 // results dropped as repeats within the batch
}

// add puts msg in the batch: a result, a repeat, or a dead letter.
func (c *claimRun) add(msg *sarama.ConsumerMessage) {
	c.n++
	c.last = msg
	if max := c.s.opts.MaxMessage; len(msg.Value) > max {
		c.dead = append(c.dead, deadLetter{msg: msg, class: ClassTooLarge,
			err: fmt.Sprintf("message value of %d bytes is larger than the limit of %d bytes", len(msg.Value), max)})
		return
	}
	r, err := checker.Decode(msg.Key, msg.Value)
	if err != nil {
		c.dead = append(c.dead, deadLetter{msg: msg, class: ClassDecode, err: err.Error()})
		return
	}
	if _, ok := c.seen[r.CheckID]; ok {
		c.dups++
		return
	}
	c.seen[r.CheckID] = struct{}{}
	c.results = append(c.results, r)
	c.msgs = append(c.msgs, msg)
}

func (c *claimRun) reset() {
	c.n = 0
	c.last = nil
	clear(c.results)
	c.results = c.results[:0]
	clear(c.msgs)
	c.msgs = c.msgs[:0]
	clear(c.dead)
	c.dead = c.dead[:0]
	clear(c.seen)
	c.dups = 0
}

// finish stores the batch in progress when the partition is released.
func (c *claimRun) finish(ctx context.Context) error {
	if c.n == 0 || c.h.fatalErr() != nil {
		return nil
	}
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.s.opts.WaitTimeout)
	defer cancel()
	if err := c.flush(stop); err != nil {
		return c.abandon(err)
	}
	return nil
}

// callContext returns the context of one database call made while stop is
// not done: not cancelled with stop, so a call under way when the partition
// is released completes (and its batch is committed), but bounded by
// Options.WaitTimeout and by stop's deadline, if any.
func (c *claimRun) callContext(stop context.Context) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(c.s.opts.WaitTimeout)
	if d, ok := stop.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return context.WithDeadline(context.WithoutCancel(stop), deadline)
}

// abandon ends the claim after flush failed, leaving the batch uncommitted.
func (c *claimRun) abandon(err error) error {
	if errors.Is(err, errStopped) {
		c.s.log.Warn("partition released with its batch not stored; it will be consumed again",
			"topic", c.topic, "partition", c.partition, "offset", c.last.Offset, "messages", c.n)
		return nil
	}
	c.h.setFatal(err)
	return nil
}

// flush stores the batch, produces its dead letters, then marks and commits
// its offsets. Failures of PostgreSQL or of the dead-letter topic are retried
// until stop is done (errStopped); a schema drift is returned.
func (c *claimRun) flush(stop context.Context) error {
	if c.n == 0 {
		return nil
	}
	start := time.Now()
	if err := c.checkSites(stop); err != nil {
		return err
	}
	valid := len(c.results)
	deadBefore := len(c.dead)
	stored, err := c.insert(stop, c.results, c.msgs)
	if err != nil {
		return err
	}
	rejected := len(c.dead) - deadBefore
	if err := c.sendDead(stop); err != nil {
		return err
	}
	c.sess.MarkMessage(c.last, "")
	c.sess.Commit()

	s := c.s
	s.consumed.Add(int64(c.n))
	s.stored.Add(int64(stored))
	s.duplicates.Add(int64(valid - rejected - stored + c.dups))
	for _, d := range c.dead {
		s.countDead(d.class)
		s.log.Warn("dead letter", "topic", c.topic, "partition", c.partition, "offset", d.msg.Offset,
			"class", d.class, "err", d.err)
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("batch committed", "topic", c.topic, "partition", c.partition, "offset", c.last.Offset,
			"messages", c.n, "stored", stored, "dead", len(c.dead), "took", time.Since(start))
	}
	c.reset()
	return nil
}

// checkSites moves the results for websites that do not exist to the dead
// letters. Websites not in the cache are looked up in one call.
func (c *claimRun) checkSites(stop context.Context) error {
	ids := c.s.sites.missing(c.results)
	if len(ids) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel := c.callContext(stop)
		exist, err := c.s.w.WebsitesExist(ctx, ids)
		cancel()
		if err == nil {
			c.s.sites.add(exist)
			break
		}
		if err := c.retry(stop, "look up websites", attempt, err); err != nil {
			return err
		}
	}
	j := 0
	for i := range c.results {
		if !c.s.sites.has(c.results[i].WebsiteID) {
			c.dead = append(c.dead, deadLetter{msg: c.msgs[i], class: ClassUnknownSite,
				err: fmt.Sprintf("website_id %d is not in the websites table", c.results[i].WebsiteID)})
			continue
		}
		c.results[j], c.msgs[j] = c.results[i], c.msgs[i]
		j++
	}
	clear(c.results[j:])
	clear(c.msgs[j:])
	c.results, c.msgs = c.results[:j], c.msgs[:j]
	return nil
}

// insert stores rs in one transaction and returns how many rows it added.
// When PostgreSQL rejects the data (SQLSTATE class 22 or 23) it splits rs in
// halves until it finds the rows at fault, which become dead letters, and
// stores the others.
func (c *claimRun) insert(stop context.Context, rs []checker.Result, ms []*sarama.ConsumerMessage) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel := c.callContext(stop)
		n, err := c.s.w.InsertResults(ctx, rs)
		cancel()
		if err == nil {
			return n, nil
		}
		if k := classify(err); k == kindData || k == kindConstraint {
			if len(rs) == 1 {
				c.reject(rs[0], ms[0], k, err)
				return 0, nil
			}
			mid := len(rs) / 2
			a, err := c.insert(stop, rs[:mid], ms[:mid])
			if err != nil {
				return 0, err
			}
			b, err := c.insert(stop, rs[mid:], ms[mid:])
			return a + b, err
		}
		if err := c.retry(stop, "insert results", attempt, err); err != nil {
			return 0, err
		}
	}
}

// reject makes a dead letter of a row PostgreSQL refused.
func (c *claimRun) reject(r checker.Result, msg *sarama.ConsumerMessage, k kind, err error) {
	class := ClassDBData
	if k == kindConstraint {
		class = ClassDBConstraint
	}
	if sqlState(err) == "23503" { // foreign_key_violation: the website was removed after it was cached
		c.s.sites.remove(r.WebsiteID)
		class = ClassUnknownSite
	}
	c.dead = append(c.dead, deadLetter{msg: msg, class: class, err: err.Error()})
}

// retry handles a failed call: on SQLSTATE class 42 it checks the schema and
// returns the drift it finds; otherwise it waits out the backoff for attempt
// and returns nil, or errStopped when stop is done first.
func (c *claimRun) retry(stop context.Context, what string, attempt int, err error) error {
	k := classify(err)
	if k == kindSchema {
		ctx, cancel := c.callContext(stop)
		serr := c.s.w.CheckSchema(ctx)
		cancel()
		if serr != nil && classify(serr) != kindRetry {
			return fmt.Errorf("%s: %v; schema check: %w", what, err, serr)
		}
	}
	d := backoff(c.s.opts.RetryMin, c.s.opts.RetryMax, attempt)
	c.s.retries.Add(1)
	level := slog.LevelWarn
	if k == kindUnknown {
		level = slog.LevelError
	}
	c.s.log.Log(context.Background(), level, what+" failed; retrying", "topic", c.topic, "partition", c.partition,
		"attempt", attempt+1, "retry_in", d, "err", err)
	if !sleep(stop, d) {
		return errStopped
	}
	return nil
}

// sendDead produces the batch's dead letters, retrying those that failed.
func (c *claimRun) sendDead(stop context.Context) error {
	if len(c.dead) == 0 {
		return nil
	}
	// In offset order, as they were consumed.
	slices.SortFunc(c.dead, func(a, b deadLetter) int { return cmp.Compare(a.msg.Offset, b.msg.Offset) })
	pending := make([]*sarama.ProducerMessage, len(c.dead))
	for i, d := range c.dead {
		pending[i] = c.deadLetterMessage(d)
	}
	for attempt := 0; ; attempt++ {
		err := c.s.dlq.SendMessages(pending)
		if err == nil {
			return nil
		}
		var pe sarama.ProducerErrors
		if errors.As(err, &pe) && len(pe) > 0 {
			failed := make([]*sarama.ProducerMessage, 0, len(pe))
			for _, e := range pe {
				failed = append(failed, e.Msg)
			}
			pending = failed
		}
		d := backoff(c.s.opts.RetryMin, c.s.opts.RetryMax, attempt)
		c.s.retries.Add(1)
		c.s.log.Warn("produce dead letters failed; retrying", "topic", c.s.opts.DLQTopic,
			"source_partition", c.partition, "messages", len(pending), "attempt", attempt+1, "retry_in", d, "err", err)
		if !sleep(stop, d) {
			return errStopped
		}
	}
}

// deadLetterMessage is d as a message of the dead-letter topic: the original
// key and value, and headers saying why and where from.
func (c *claimRun) deadLetterMessage(d deadLetter) *sarama.ProducerMessage {
	text := d.err
	if len(text) > maxErrorHeader {
		n := maxErrorHeader
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n] + "…"
	}
	m := &sarama.ProducerMessage{
		Topic: c.s.opts.DLQTopic,
		Headers: []sarama.RecordHeader{
			{Key: []byte(HeaderError), Value: []byte(text)},
			{Key: []byte(HeaderErrorClass), Value: []byte(d.class)},
			{Key: []byte(HeaderSourceTopic), Value: []byte(d.msg.Topic)},
			{Key: []byte(HeaderSourcePartition), Value: strconv.AppendInt(nil, int64(d.msg.Partition), 10)},
			{Key: []byte(HeaderSourceOffset), Value: strconv.AppendInt(nil, d.msg.Offset, 10)},
		},
	}
	if d.msg.Key != nil {
		m.Key = sarama.ByteEncoder(d.msg.Key)
	}
	if d.msg.Value != nil {
		m.Value = sarama.ByteEncoder(d.msg.Value)
	}
	return m
}
