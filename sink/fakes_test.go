package sink

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"

	"github.com/sitestat/sitestat/checker"
)

// sqlErr is a server error with a SQLSTATE, like *pq.Error.
type sqlErr string

func (e sqlErr) Error() string    { return "pq: error " + string(e) }
func (e sqlErr) SQLState() string { return string(e) }

// events is an ordered log of what the fakes saw, to assert orderings.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

// fakeWriter is an in-memory Writer. Its hooks, when set, run first and may
// fail a call.
type fakeWriter struct {
	ev *events

	mu         sync.Mutex
	rows       map[string]checker.Result
	sites      map[int64]bool
	existCalls [][]int64
	insertHook func(rs []checker.Result) error // a non-nil error fails the whole call
	schemaErr  error
}

func newFakeWriter(ev *events, sites ...int64) *fakeWriter {
	w := &fakeWriter{ev: ev, rows: make(map[string]checker.Result), sites: make(map[int64]bool)}
	for _, id := range sites {
		w.sites[id] = true
	}
	return w
}

func (w *fakeWriter) InsertResults(ctx context.Context, rs []checker.Result) (int, error) {
	w.mu.Lock()
	hook := w.insertHook
	w.mu.Unlock()
	if hook != nil {
		if err := hook(rs); err != nil {
			w.ev.add("insert failed %d", len(rs))
			return 0, fmt.Errorf("insert results: %w", err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range rs {
		if !w.sites[r.WebsiteID] {
			w.ev.add("insert failed %d", len(rs))
			return 0, fmt.Errorf("insert results: %w", sqlErr("23503"))
		}
		if _, ok := w.rows[r.CheckID]; !ok {
			w.rows[r.CheckID] = r
			n++
		}
	}
	w.ev.add("insert %d", n)
	return n, nil
}

func (w *fakeWriter) CheckSchema(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.schemaErr
}

func (w *fakeWriter) WebsitesExist(ctx context.Context, ids []int64) (map[int64]bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.existCalls = append(w.existCalls, append([]int64(nil), ids...))
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = w.sites[id]
	}
	return out, nil
}

func (w *fakeWriter) setInsertHook(f func([]checker.Result) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.insertHook = f
}

func (w *fakeWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.rows)
}

// fakeProducer is a sarama.SyncProducer whose SendMessages records the
// messages, or fails while fail returns an error.
type fakeProducer struct {
	sarama.SyncProducer
	ev *events

	mu   sync.Mutex
	sent []*sarama.ProducerMessage
	fail func() error
}

func (p *fakeProducer) SendMessages(msgs []*sarama.ProducerMessage) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		if err := p.fail(); err != nil {
			p.ev.add("dlq failed %d", len(msgs))
			return err
		}
	}
	p.sent = append(p.sent, msgs...)
	p.ev.add("dlq %d", len(msgs))
	return nil
}

func (p *fakeProducer) messages() []*sarama.ProducerMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*sarama.ProducerMessage(nil), p.sent...)
}

// fakeSession is a sarama.ConsumerGroupSession recording marks and commits.
type fakeSession struct {
	sarama.ConsumerGroupSession
	ctx context.Context
	ev  *events

	mu     sync.Mutex
	marked int64 // next offset to read, as MarkMessage sets it
}

func (s *fakeSession) Context() context.Context { return s.ctx }

func (s *fakeSession) MarkMessage(msg *sarama.ConsumerMessage, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marked = msg.Offset + 1
	s.ev.add("mark %d", msg.Offset+1)
}

func (s *fakeSession) Commit() { s.ev.add("commit") }

func (s *fakeSession) markedOffset() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.marked
}

// fakeClaim is a sarama.ConsumerGroupClaim fed by a channel.
type fakeClaim struct {
	ch chan *sarama.ConsumerMessage
}

func (c *fakeClaim) Topic() string                            { return "results" }
func (c *fakeClaim) Partition() int32                         { return 0 }
func (c *fakeClaim) InitialOffset() int64                     { return 0 }
func (c *fakeClaim) HighWaterMarkOffset() int64               { return 0 }
func (c *fakeClaim) Messages() <-chan *sarama.ConsumerMessage { return c.ch }

// harness runs one ConsumeClaim over fakes.
type harness struct {
	t      *testing.T
	ev     *events
	w      *fakeWriter
	dlq    *fakeProducer
	sync   *Sync
	h      *handler
	sess   *fakeSession
	claim  *fakeClaim
	cancel context.CancelFunc
	done   chan error
	next   int64 // offset of the next message
}

func newHarness(t *testing.T, opts Options, sites ...int64) *harness {
	t.Helper()
	ev := &events{}
	w := newFakeWriter(ev, sites...)
	p := &fakeProducer{ev: ev}
	if opts.Topic == "" {
		opts.Topic = "results"
	}
	if opts.DLQTopic == "" {
		opts.DLQTopic = "results_dlq"
	}
	if opts.RetryMin == 0 {
		opts.RetryMin = time.Millisecond
		opts.RetryMax = 5 * time.Millisecond
	}
	s := New(w, nil, p, opts)
	ctx, cancel := context.WithCancel(context.Background())
	runCtx, runCancel := context.WithCancelCause(ctx)
	hs := &harness{
		t: t, ev: ev, w: w, dlq: p, sync: s,
		h:      &handler{s: s, cancel: runCancel},
		sess:   &fakeSession{ctx: runCtx, ev: ev},
		claim:  &fakeClaim{ch: make(chan *sarama.ConsumerMessage, 100000)},
		cancel: cancel,
		done:   make(chan error, 1),
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-hs.done:
		case <-time.After(10 * time.Second):
			t.Errorf("ConsumeClaim did not return")
		}
	})
	return hs
}

func (hs *harness) start() {
	go func() { hs.done <- hs.h.ConsumeClaim(hs.sess, hs.claim) }()
}

// wait waits for ConsumeClaim to return, failing after timeout.
func (hs *harness) wait(timeout time.Duration) {
	hs.t.Helper()
	select {
	case err := <-hs.done:
		hs.done <- err // for the cleanup
		if err != nil {
			hs.t.Fatalf("ConsumeClaim: %v", err)
		}
	case <-time.After(timeout):
		hs.t.Fatalf("ConsumeClaim did not return within %s", timeout)
	}
}

func (hs *harness) send(key, value []byte) int64 {
	off := hs.next
	hs.next++
	hs.claim.ch <- &sarama.ConsumerMessage{Topic: "results", Partition: 0, Offset: off, Key: key, Value: value}
	return off
}

func (hs *harness) sendResult(r checker.Result) int64 {
	hs.t.Helper()
	v, err := r.Encode()
	if err != nil {
		hs.t.Fatal(err)
	}
	return hs.send(r.Key(), v)
}

func (hs *harness) waitMarked(off int64) {
	hs.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for hs.sess.markedOffset() < off {
		if time.Now().After(deadline) {
			hs.t.Fatalf("offset %d not marked within 5s (marked %d); events: %v", off, hs.sess.markedOffset(), hs.ev.list())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// result returns a valid result for site.
func result(site int64) checker.Result {
	code := 200
	return checker.Result{
		V: checker.Version, CheckID: uuid.NewString(), WebsiteID: site, URL: "https://example.com/",
		CheckedAt: time.Now().UTC().Truncate(time.Microsecond), Probe: "test", Up: true,
		Reason: checker.ReasonOK, StatusCode: &code, ResponseTimeMs: 12.5,
	}
}

func key(id int64) []byte { return []byte(strconv.FormatInt(id, 10)) }
