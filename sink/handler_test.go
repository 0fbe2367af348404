package sink

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lib/pq"

	"github.com/sitestat/sitestat/checker"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want kind
	}{
		{"connection failure", sqlErr("08006"), kindRetry},
		{"cannot connect now", sqlErr("57P03"), kindRetry},
		{"admin shutdown", &pq.Error{Code: "57P01"}, kindRetry},
		{"auth failed (password rotation)", sqlErr("28P01"), kindRetry},
		{"too many connections", sqlErr("53300"), kindRetry},
		{"serialization", sqlErr("40001"), kindRetry},
		{"deadlock", sqlErr("40P01"), kindRetry},
		{"numeric out of range", sqlErr("22003"), kindData},
		{"wrapped pq data error", fmt.Errorf("insert results: %w", &pq.Error{Code: "22021"}), kindData},
		{"foreign key", sqlErr("23503"), kindConstraint},
		{"check", sqlErr("23514"), kindConstraint},
		{"undefined column", fmt.Errorf("copy: %w", &pq.Error{Code: "42703"}), kindSchema},
		{"undefined table", sqlErr("42P01"), kindSchema},
		{"internal error", sqlErr("XX000"), kindUnknown},
		{"bad conn", fmt.Errorf("x: %w", driver.ErrBadConn), kindRetry},
		{"eof", fmt.Errorf("read: %w", io.EOF), kindRetry},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, kindRetry},
		{"refused text", errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), kindRetry},
		{"timeout", fmt.Errorf("x: %w", context.DeadlineExceeded), kindRetry},
		{"other", errors.New("something odd"), kindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Errorf("classify(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	min, max := 100*time.Millisecond, 10*time.Second
	var got []time.Duration
	for i := range 10 {
		got = append(got, backoff(min, max, i))
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(got, want) {
		t.Errorf("backoff = %v, want %v", got, want)
	}
	if d := backoff(min, max, 1000); d != max {
		t.Errorf("backoff(1000) = %v, want %v", d, max)
	}
}

// TestBatchBySizeAndTime: a full batch is written at once, a partial one
// after Flush; offsets are marked and committed after the write.
func TestBatchBySizeAndTime(t *testing.T) {
	hs := newHarness(t, Options{Batch: 3, Flush: 100 * time.Millisecond}, 1)
	hs.start()
	for range 3 {
		hs.sendResult(result(1))
	}
	hs.waitMarked(3)
	start := time.Now()
	hs.sendResult(result(1))
	hs.waitMarked(4)
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Errorf("lone message committed after %v, want about Flush (100ms)", d)
	}
	want := []string{"insert 3", "mark 3", "commit", "insert 1", "mark 4", "commit"}
	if got := hs.ev.list(); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if st := hs.sync.Stats(); st.Consumed != 4 || st.Stored != 4 {
		t.Errorf("stats = %+v, want 4 consumed and stored", st)
	}
}

// TestBadMessagesToDLQ: every kind of bad message becomes a dead letter of
// its class, with key, value and headers, produced before the commit; the
// valid messages around them are stored.
func TestBadMessagesToDLQ(t *testing.T) {
	hs := newHarness(t, Options{Batch: 100, Flush: 20 * time.Millisecond, MaxMessage: 2048}, 1)
	good := result(1)
	goodValue, _ := good.Encode()
	unknown := result(999)
	unknownValue, _ := unknown.Encode()
	cases := []struct {
		key, value []byte
		class      string
	}{
		{key(1), []byte(`{not json`), ClassDecode},
		{key(1), []byte(strings.Replace(string(goodValue), `"website_id":1`, `"website_id":"1"`, 1)), ClassDecode},
		{key(2), goodValue, ClassDecode}, // key disagrees
		{key(1), []byte(strings.Replace(string(goodValue), `"v":1`, `"v":2`, 1)), ClassDecode},
		{key(999), unknownValue, ClassUnknownSite},
		{key(1), []byte(`{"pad":"` + strings.Repeat("x", 3000) + `"}`), ClassTooLarge},
		{nil, nil, ClassDecode}, // tombstone
	}
	hs.start()
	var valid []checker.Result
	for _, c := range cases {
		r := result(1)
		valid = append(valid, r)
		hs.sendResult(r)
		hs.send(c.key, c.value)
	}
	hs.waitMarked(hs.next)
	if got, want := hs.w.count(), len(valid); got != want {
		t.Errorf("stored %d rows, want %d", got, want)
	}
	sent := hs.dlq.messages()
	if len(sent) != len(cases) {
		t.Fatalf("%d dead letters, want %d", len(sent), len(cases))
	}
	for i, m := range sent {
		c := cases[i]
		h := headers(m)
		if h[HeaderErrorClass] != c.class {
			t.Errorf("dead letter %d: class %q, want %q (error %q)", i, h[HeaderErrorClass], c.class, h[HeaderError])
		}
		if h[HeaderError] == "" || h[HeaderSourceTopic] != "results" || h[HeaderSourcePartition] != "0" ||
			h[HeaderSourceOffset] != fmt.Sprint(2*i+1) {
			t.Errorf("dead letter %d: headers %v", i, h)
		}
		if got := encoded(m.Key); string(got) != string(c.key) || (c.key == nil) != (m.Key == nil) {
			t.Errorf("dead letter %d: key %q, want %q", i, got, c.key)
		}
		if got := encoded(m.Value); string(got) != string(c.value) {
			t.Errorf("dead letter %d: value differs", i)
		}
	}
	ev := hs.ev.list()
	if i, j := slices.Index(ev, fmt.Sprintf("dlq %d", len(cases))), slices.Index(ev, "commit"); i < 0 || j < i {
		t.Errorf("dead letters not produced before the commit: %v", ev)
	}
	st := hs.sync.Stats()
	if st.DLQ[ClassDecode] != 5 || st.DLQ[ClassUnknownSite] != 1 || st.DLQ[ClassTooLarge] != 1 || st.Stored != int64(len(valid)) {
		t.Errorf("stats = %+v", st)
	}
}

// TestDuplicates: a check id seen twice in a batch or across batches is
// stored once and counted as a duplicate.
func TestDuplicates(t *testing.T) {
	hs := newHarness(t, Options{Batch: 4, Flush: 20 * time.Millisecond}, 1)
	hs.start()
	a, b := result(1), result(1)
	hs.sendResult(a)
	hs.sendResult(a)
	hs.sendResult(b)
	hs.sendResult(a) // batch full
	hs.sendResult(b) // next batch: already stored
	hs.waitMarked(5)
	if got := hs.w.count(); got != 2 {
		t.Errorf("stored %d rows, want 2", got)
	}
	if st := hs.sync.Stats(); st.Consumed != 5 || st.Stored != 2 || st.Duplicates != 3 {
		t.Errorf("stats = %+v, want consumed 5 stored 2 duplicates 3", st)
	}
}

// TestBisection: rows PostgreSQL rejects (class 22 or 23) are found by
// splitting the batch, sent to the DLQ, and the rest are stored.
func TestBisection(t *testing.T) {
	hs := newHarness(t, Options{Batch: 64, Flush: 20 * time.Millisecond}, 1)
	hs.w.setInsertHook(func(rs []checker.Result) error {
		for _, r := range rs {
			switch {
			case r.StatusCode != nil && *r.StatusCode > 32767:
				return sqlErr("22003")
			case r.ResponseTimeMs < 0:
				return sqlErr("23514")
			}
		}
		return nil
	})
	hs.start()
	bad := map[int64]string{}
	for i := range 64 {
		r := result(1)
		switch i {
		case 5, 40:
			c := 99999
			r.StatusCode = &c
			bad[hs.sendResult(r)] = ClassDBData
		case 41:
			r.ResponseTimeMs = -1
			bad[hs.sendResult(r)] = ClassDBConstraint
		default:
			hs.sendResult(r)
		}
	}
	hs.waitMarked(64)
	if got := hs.w.count(); got != 61 {
		t.Errorf("stored %d rows, want 61", got)
	}
	sent := hs.dlq.messages()
	if len(sent) != 3 {
		t.Fatalf("%d dead letters, want 3", len(sent))
	}
	for _, m := range sent {
		h := headers(m)
		var off int64
		fmt.Sscan(h[HeaderSourceOffset], &off)
		if want := bad[off]; h[HeaderErrorClass] != want {
			t.Errorf("offset %d: class %q, want %q", off, h[HeaderErrorClass], want)
		}
	}
	st := hs.sync.Stats()
	if st.DLQ[ClassDBData] != 2 || st.DLQ[ClassDBConstraint] != 1 || st.Stored != 61 || st.Consumed != 64 || st.Duplicates != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestRetryThenCommit: while PostgreSQL fails with a transient error nothing
// is marked; when it comes back the batch is stored and committed.
func TestRetryThenCommit(t *testing.T) {
	hs := newHarness(t, Options{Batch: 10, Flush: 10 * time.Millisecond}, 1)
	fails := 0
	hs.w.setInsertHook(func(rs []checker.Result) error {
		if fails < 4 {
			fails++
			return sqlErr("57P01")
		}
		return nil
	})
	hs.start()
	hs.sendResult(result(1))
	hs.sendResult(result(1))
	hs.waitMarked(2)
	want := []string{"insert failed 2", "insert failed 2", "insert failed 2", "insert failed 2", "insert 2", "mark 2", "commit"}
	if got := hs.ev.list(); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if st := hs.sync.Stats(); st.Retries != 4 || st.Stored != 2 {
		t.Errorf("stats = %+v, want 4 retries, 2 stored", st)
	}
}

// TestStopWhileRetrying: a partition released while PostgreSQL is down is
// let go promptly, with nothing marked.
func TestStopWhileRetrying(t *testing.T) {
	hs := newHarness(t, Options{Batch: 10, Flush: 10 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: 10 * time.Second}, 1)
	hs.w.setInsertHook(func([]checker.Result) error { return &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED} })
	hs.start()
	hs.sendResult(result(1))
	deadline := time.Now().Add(5 * time.Second)
	for hs.sync.Stats().Retries < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	hs.cancel()
	hs.wait(2 * time.Second)
	if d := time.Since(start); d > time.Second {
		t.Errorf("released after %v, want promptly", d)
	}
	if off := hs.sess.markedOffset(); off != 0 {
		t.Errorf("marked offset %d while the database was down", off)
	}
	if slices.Contains(hs.ev.list(), "commit") {
		t.Errorf("committed while the database was down: %v", hs.ev.list())
	}
}

// TestFinalFlushOnStop: cancelling mid-batch stores the batch and commits.
func TestFinalFlushOnStop(t *testing.T) {
	hs := newHarness(t, Options{Batch: 1000, Flush: time.Hour}, 1)
	hs.start()
	for range 7 {
		hs.sendResult(result(1))
	}
	// Wait until the claim holds the messages, then stop.
	deadline := time.Now().Add(5 * time.Second)
	for len(hs.claim.ch) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	hs.cancel()
	hs.wait(5 * time.Second)
	if got := hs.w.count(); got != 7 {
		t.Errorf("stored %d rows, want 7", got)
	}
	if off := hs.sess.markedOffset(); off != 7 {
		t.Errorf("marked %d, want 7", off)
	}
}

// TestSchemaDrift: a class 42 failure with a failing schema check ends the
// run with that error and marks nothing; with a passing check it is retried.
func TestSchemaDrift(t *testing.T) {
	drift := errors.New("schema drift: website_status.request_info is missing")
	t.Run("drift", func(t *testing.T) {
		hs := newHarness(t, Options{Batch: 10, Flush: 10 * time.Millisecond}, 1)
		hs.w.schemaErr = drift
		hs.w.setInsertHook(func([]checker.Result) error { return &pq.Error{Code: "42703"} })
		hs.start()
		hs.sendResult(result(1))
		hs.wait(5 * time.Second)
		if err := hs.h.fatalErr(); !errors.Is(err, drift) {
			t.Errorf("fatal error = %v, want the drift", err)
		}
		if hs.sess.markedOffset() != 0 || slices.Contains(hs.ev.list(), "commit") {
			t.Errorf("committed past a drift: %v", hs.ev.list())
		}
		if context.Cause(hs.sess.ctx) == nil {
			t.Errorf("the run was not cancelled")
		}
	})
	t.Run("transient", func(t *testing.T) {
		hs := newHarness(t, Options{Batch: 10, Flush: 10 * time.Millisecond}, 1)
		fails := 0
		hs.w.setInsertHook(func([]checker.Result) error {
			if fails < 2 {
				fails++
				return sqlErr("42P01")
			}
			return nil
		})
		hs.start()
		hs.sendResult(result(1))
		hs.waitMarked(1)
		if err := hs.h.fatalErr(); err != nil {
			t.Errorf("fatal error %v", err)
		}
	})
}

// TestDLQOutage: dead letters that cannot be produced hold the commit back
// until they are.
func TestDLQOutage(t *testing.T) {
	hs := newHarness(t, Options{Batch: 10, Flush: 10 * time.Millisecond}, 1)
	fails := 0
	hs.dlq.fail = func() error {
		if fails < 3 {
			fails++
			return sarama.ErrOutOfBrokers
		}
		return nil
	}
	hs.start()
	hs.sendResult(result(1))
	hs.send(key(1), []byte("garbage"))
	hs.waitMarked(2)
	want := []string{"insert 1", "dlq failed 1", "dlq failed 1", "dlq failed 1", "dlq 1", "mark 2", "commit"}
	if got := hs.ev.list(); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

// TestSiteCache: known sites are not looked up again; a miss is looked up
// once per batch for all the missing ids; a site that disappears (foreign
// key violation) is evicted and its result dead-lettered.
func TestSiteCache(t *testing.T) {
	hs := newHarness(t, Options{Batch: 6, Flush: 10 * time.Millisecond}, 1, 2, 3)
	hs.start()
	for _, id := range []int64{1, 2, 1, 2, 7, 7} {
		hs.sendResult(result(id))
	}
	hs.waitMarked(6)
	for _, id := range []int64{1, 2, 1, 2, 3, 1} {
		hs.sendResult(result(id))
	}
	hs.waitMarked(12)
	hs.w.mu.Lock()
	calls := hs.w.existCalls
	delete(hs.w.sites, 2) // the website is deleted
	hs.w.mu.Unlock()
	if len(calls) != 2 || !slices.Equal(calls[0], []int64{1, 2, 7}) || !slices.Equal(calls[1], []int64{3}) {
		t.Errorf("WebsitesExist calls = %v, want [[1 2 7] [3]]", calls)
	}
	hs.sendResult(result(2))
	hs.waitMarked(13)
	if hs.sync.sites.has(2) {
		t.Errorf("site 2 still cached after a foreign key violation")
	}
	st := hs.sync.Stats()
	if st.DLQ[ClassUnknownSite] != 3 || st.DLQ[ClassDBConstraint] != 0 || st.Stored != 10 {
		t.Errorf("stats = %+v", st)
	}
}

func headers(m *sarama.ProducerMessage) map[string]string {
	h := make(map[string]string)
	for _, rh := range m.Headers {
		h[string(rh.Key)] = string(rh.Value)
	}
	return h
}

func encoded(e sarama.Encoder) []byte {
	if e == nil {
		return nil
	}
	b, _ := e.Encode()
	return b
}

// TestFinalFlushRetries: a batch in hand when the partition is released is
// still retried through a short outage, within WaitTimeout.
func TestFinalFlushRetries(t *testing.T) {
	hs := newHarness(t, Options{Batch: 1000, Flush: time.Hour, WaitTimeout: 5 * time.Second}, 1)
	fails := 0
	hs.w.setInsertHook(func([]checker.Result) error {
		if fails < 3 {
			fails++
			return sqlErr("08006")
		}
		return nil
	})
	hs.start()
	hs.sendResult(result(1))
	hs.sendResult(result(1))
	waitDrained(t, hs)
	hs.cancel()
	hs.wait(5 * time.Second)
	if got := hs.w.count(); got != 2 {
		t.Errorf("stored %d rows, want 2", got)
	}
	if off := hs.sess.markedOffset(); off != 2 {
		t.Errorf("marked %d, want 2", off)
	}
}

// TestFinalFlushGivesUp: when the database stays down, the release waits
// no longer than WaitTimeout and commits nothing.
func TestFinalFlushGivesUp(t *testing.T) {
	hs := newHarness(t, Options{Batch: 1000, Flush: time.Hour, WaitTimeout: 300 * time.Millisecond}, 1)
	hs.w.setInsertHook(func([]checker.Result) error { return sqlErr("57P03") })
	hs.start()
	hs.sendResult(result(1))
	waitDrained(t, hs)
	start := time.Now()
	hs.cancel()
	hs.wait(5 * time.Second)
	if d := time.Since(start); d > time.Second {
		t.Errorf("release took %v, want about WaitTimeout (300ms)", d)
	}
	if off := hs.sess.markedOffset(); off != 0 {
		t.Errorf("marked %d with the database down", off)
	}
}

// waitDrained waits until the claim has taken every message sent.
func waitDrained(t *testing.T, hs *harness) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(hs.claim.ch) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the claim did not take the messages")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the last one taken is being added
}

// fakeGroup is a sarama.ConsumerGroup whose Consume blocks until ctx ends.
type fakeGroup struct {
	sarama.ConsumerGroup
	errs     chan error
	consumed chan struct{}
}

func (g *fakeGroup) Errors() <-chan error { return g.errs }

func (g *fakeGroup) Consume(ctx context.Context, _ []string, _ sarama.ConsumerGroupHandler) error {
	select {
	case g.consumed <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil
}

// TestRunSchemaCheck: Run checks the schema first, returns a drift, waits
// out an unreachable database, and returns nil when cancelled.
func TestRunSchemaCheck(t *testing.T) {
	opts := Options{Topic: "results", DLQTopic: "dlq", RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
	t.Run("drift", func(t *testing.T) {
		w := newFakeWriter(&events{})
		drift := errors.New("schema drift: website_status: table is missing")
		w.schemaErr = drift
		g := &fakeGroup{errs: make(chan error), consumed: make(chan struct{}, 1)}
		err := New(w, g, &fakeProducer{}, opts).Run(context.Background())
		if !errors.Is(err, drift) {
			t.Errorf("Run = %v, want the drift", err)
		}
		if len(g.consumed) != 0 {
			t.Errorf("Run consumed despite the drift")
		}
	})
	t.Run("unreachable then fine", func(t *testing.T) {
		w := newFakeWriter(&events{})
		w.schemaErr = &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
		g := &fakeGroup{errs: make(chan error), consumed: make(chan struct{}, 1)}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		s := New(w, g, &fakeProducer{}, opts)
		go func() { done <- s.Run(ctx) }()
		deadline := time.Now().Add(5 * time.Second)
		for s.Stats().Retries < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		w.mu.Lock()
		w.schemaErr = nil
		w.mu.Unlock()
		select {
		case <-g.consumed:
		case err := <-done:
			t.Fatalf("Run returned %v while the database was unreachable", err)
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not start consuming after the database came back")
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	})
	t.Run("missing topics", func(t *testing.T) {
		err := New(newFakeWriter(&events{}), &fakeGroup{}, &fakeProducer{}, Options{}).Run(context.Background())
		if err == nil {
			t.Error("Run without topics succeeded")
		}
	})
}
