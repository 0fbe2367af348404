package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// The commit rules of the Consumer, over a fake session and claim.

// fakeSession records marks and commits.
type fakeSession struct {
	sarama.ConsumerGroupSession
	ctx context.Context
	ev  *events
}

func (s *fakeSession) Context() context.Context { return s.ctx }
func (s *fakeSession) MarkOffset(_ string, _ int32, off int64, _ string) {
	s.ev.add("mark %d", off)
}
func (s *fakeSession) Commit() { s.ev.add("commit") }

// fakeClaim is fed by a channel.
type fakeClaim struct {
	sarama.ConsumerGroupClaim
	ch chan *sarama.ConsumerMessage
}

func (c *fakeClaim) Topic() string                            { return "results" }
func (c *fakeClaim) Partition() int32                         { return 0 }
func (c *fakeClaim) HighWaterMarkOffset() int64               { return 1000 }
func (c *fakeClaim) Messages() <-chan *sarama.ConsumerMessage { return c.ch }

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
	return slices.Clone(e.log)
}

// fakeHandler logs its calls; handle, when set, decides HandleBatch.
type fakeHandler struct {
	ev     *events
	handle func(ctx context.Context, b *Batch) error
}

func (h *fakeHandler) Assigned(topic string, partition int32) { h.ev.add("assigned %d", partition) }
func (h *fakeHandler) Revoked(topic string, partition int32)  { h.ev.add("revoked %d", partition) }
func (h *fakeHandler) HandleBatch(ctx context.Context, b *Batch) error {
	if b.HighWaterMark != 1000 {
		h.ev.add("bad high-water mark %d", b.HighWaterMark)
	}
	var err error
	if h.handle != nil {
		err = h.handle(ctx, b)
	}
	if err != nil {
		h.ev.add("batch %d-%d failed", b.Records[0].Offset, b.Records[len(b.Records)-1].Offset)
		return err
	}
	h.ev.add("batch %d-%d", b.Records[0].Offset, b.Records[len(b.Records)-1].Offset)
	return nil
}

// claimRun runs one ConsumeClaim over the fakes.
type claimRun struct {
	ev     *events
	h      *fakeHandler
	g      *groupHandler
	claim  *fakeClaim
	cancel context.CancelFunc
	done   chan struct{}
	next   int64
}

func startClaim(t *testing.T, copts ConsumerOptions, handle func(context.Context, *Batch) error) *claimRun {
	t.Helper()
	ev := &events{}
	copts.Group, copts.Topics = "g", []string{"results"}
	c := &Consumer{copts: copts.withDefaults()}
	c.log = c.copts.Logger
	ctx, cancel := context.WithCancel(context.Background())
	r := &claimRun{ev: ev, h: &fakeHandler{ev: ev, handle: handle}, claim: &fakeClaim{ch: make(chan *sarama.ConsumerMessage, 1000)},
		cancel: cancel, done: make(chan struct{})}
	r.g = &groupHandler{c: c, h: r.h, cancel: cancel}
	go func() {
		defer close(r.done)
		_ = r.g.ConsumeClaim(&fakeSession{ctx: ctx, ev: ev}, r.claim)
	}()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *claimRun) send(n int) {
	for range n {
		r.claim.ch <- &sarama.ConsumerMessage{Topic: "results", Offset: r.next, Value: []byte("v")}
		r.next++
	}
}

// waitFor waits until the events contain want.
func (r *claimRun) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(r.ev.list(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 5s; events %v", want, r.ev.list())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (r *claimRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		t.Fatal("ConsumeClaim did not return")
	}
}

// TestClaimBatchBySizeAndTime: a batch goes to the handler when full, or
// Flush after its first record; each handled batch is marked and committed
// after the handler returned.
func TestClaimBatchBySizeAndTime(t *testing.T) {
	r := startClaim(t, ConsumerOptions{Batch: 3, Flush: 100 * time.Millisecond}, nil)
	r.send(3)
	r.waitFor(t, "commit")
	start := time.Now()
	r.send(1)
	r.waitFor(t, "mark 4")
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Errorf("lone record handled after %v, want about Flush (100ms)", d)
	}
	r.stop(t)
	want := []string{"assigned 0", "batch 0-2", "mark 3", "commit", "batch 3-3", "mark 4", "commit", "revoked 0"}
	if got := r.ev.list(); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

// TestClaimReleaseHandsOverTheLastBatch: when the partition is released
// mid-batch, the batch is handed over with a deadline and committed.
func TestClaimReleaseHandsOverTheLastBatch(t *testing.T) {
	var deadline time.Duration
	r := startClaim(t, ConsumerOptions{Batch: 100, Flush: time.Hour, ReleaseTimeout: 3 * time.Second},
		func(ctx context.Context, b *Batch) error {
			d, ok := ctx.Deadline()
			if ok {
				deadline = time.Until(d)
			}
			return nil
		})
	r.send(7)
	for len(r.claim.ch) > 0 {
		time.Sleep(time.Millisecond)
	}
	testWaitRead(t, r.g.c, 7)
	r.stop(t)
	if got := r.ev.list(); !slices.Contains(got, "batch 0-6") || !slices.Contains(got, "mark 7") {
		t.Errorf("events = %v, want the batch handled and marked at release", got)
	}
	if deadline <= 0 || deadline > 3*time.Second {
		t.Errorf("release deadline %v, want within ReleaseTimeout (3s)", deadline)
	}
}

// TestClaimAbandonsWhenReleased: a handler that fails once the partition
// is released leaves the batch unmarked, and the claim ends.
func TestClaimAbandonsWhenReleased(t *testing.T) {
	r := startClaim(t, ConsumerOptions{Batch: 2, Flush: time.Hour, ReleaseTimeout: 200 * time.Millisecond},
		func(ctx context.Context, b *Batch) error {
			<-ctx.Done() // storage keeps failing until the partition goes
			return ctx.Err()
		})
	r.send(2)
	r.waitFor(t, "assigned 0")
	testWaitRead(t, r.g.c, 2)
	r.stop(t)
	for _, e := range r.ev.list() {
		if e == "commit" || e == "mark 2" {
			t.Errorf("committed an abandoned batch: %v", r.ev.list())
		}
	}
	if err := r.g.fatalErr(); err != nil {
		t.Errorf("abandoning set a fatal error: %v", err)
	}
}

// TestClaimFatalError: a handler error while the partition is held stops
// the consumer with that error, nothing committed.
func TestClaimFatalError(t *testing.T) {
	boom := errors.New("schema drift")
	r := startClaim(t, ConsumerOptions{Batch: 1, Flush: time.Hour}, func(context.Context, *Batch) error { return boom })
	r.send(1)
	r.waitFor(t, "revoked 0")
	if err := r.g.fatalErr(); !errors.Is(err, boom) {
		t.Errorf("fatal error = %v, want the handler's", err)
	}
	if slices.Contains(r.ev.list(), "commit") {
		t.Errorf("committed after a failed batch: %v", r.ev.list())
	}
}

// TestClaimRereadNeverCommits: a Reread consumer hands batches over but
// never marks or commits.
func TestClaimRereadNeverCommits(t *testing.T) {
	r := startClaim(t, ConsumerOptions{Batch: 2, Flush: 10 * time.Millisecond, Reread: true}, nil)
	r.send(3)
	r.waitFor(t, "batch 2-2")
	r.stop(t)
	for _, e := range r.ev.list() {
		if e == "commit" || e[:4] == "mark" {
			t.Errorf("a Reread consumer committed: %v", r.ev.list())
		}
	}
}

func testWaitRead(t *testing.T, c *Consumer, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Read() < n {
		if time.Now().After(deadline) {
			t.Fatalf("read %d records, want %d", c.Read(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBatchLimit: MaxPending shares out among the partitions being read,
// never above Batch nor below one record.
func TestBatchLimit(t *testing.T) {
	tests := []struct {
		batch, maxPending int
		claims            int64
		want              int
	}{
		{batch: 20000, maxPending: 0, claims: 48, want: 20000},
		{batch: 20000, maxPending: 120000, claims: 0, want: 20000},
		{batch: 20000, maxPending: 120000, claims: 6, want: 20000},
		{batch: 20000, maxPending: 120000, claims: 12, want: 10000},
		{batch: 20000, maxPending: 120000, claims: 24, want: 5000},
		{batch: 5000, maxPending: 120000, claims: 12, want: 5000},
		{batch: 100, maxPending: 10, claims: 24, want: 1},
	}
	for _, tt := range tests {
		c := &Consumer{copts: ConsumerOptions{Batch: tt.batch, MaxPending: tt.maxPending}}
		c.claims.Store(tt.claims)
		if got := c.batchLimit(); got != tt.want {
			t.Errorf("Batch %d, MaxPending %d, %d partitions: limit %d, want %d", tt.batch, tt.maxPending, tt.claims, got, tt.want)
		}
	}
}

// TestClaimBatchLimitedByMaxPending: a claim hands its batch over once it
// holds its share of MaxPending, before Batch or Flush.
func TestClaimBatchLimitedByMaxPending(t *testing.T) {
	r := startClaim(t, ConsumerOptions{Batch: 100, MaxPending: 4, Flush: time.Hour}, nil)
	r.send(4)
	r.waitFor(t, "batch 0-3")
	r.stop(t)
}
