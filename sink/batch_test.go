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

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
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

// TestBadMessagesToDLQ: every kind of bad message becomes a dead letter of
// its class, with its key, value and source, produced after the insert and
// before HandleBatch accepts the batch; the valid messages around them are
// stored.
func TestBadMessagesToDLQ(t *testing.T) {
	hs := newHarness(t, Options{MaxMessage: 2048}, 1)
	good := result(1)
	goodValue, _ := good.Encode()
	unknown := result(999)
	unknownValue, _ := unknown.Encode()
	cases := []struct {
		key, value []byte
		class      deadletter.Class
	}{
		{key(1), []byte(`{not json`), deadletter.ClassDecode},
		{key(1), []byte(strings.Replace(string(goodValue), `"website_id":1`, `"website_id":"1"`, 1)), deadletter.ClassDecode},
		{key(2), goodValue, deadletter.ClassDecode}, // key disagrees
		{key(1), []byte(strings.Replace(string(goodValue), `"v":1`, `"v":2`, 1)), deadletter.ClassDecode},
		{key(1), []byte(strings.Replace(string(goodValue), `"url":"`, `"url":"\xff`, 1)), deadletter.ClassDecode}, // not UTF-8
		{key(999), unknownValue, deadletter.ClassUnknownSite},
		{key(1), []byte(`{"pad":"` + strings.Repeat("x", 3000) + `"}`), deadletter.ClassTooLarge},
		{nil, nil, deadletter.ClassDecode}, // tombstone
	}
	var recs []kafka.Record
	valid := 0
	for _, c := range cases {
		recs = append(recs, hs.resultRec(result(1)), hs.rec(c.key, c.value))
		valid++
	}
	hs.mustHandle(recs...)
	if got := hs.w.count(); got != valid {
		t.Errorf("stored %d rows, want %d", got, valid)
	}
	sent := hs.dlq.letters()
	if len(sent) != len(cases) {
		t.Fatalf("%d dead letters, want %d", len(sent), len(cases))
	}
	slices.SortFunc(sent, func(a, b deadletter.Letter) int { return int(a.SourceOffset - b.SourceOffset) })
	for i, d := range sent {
		c := cases[i]
		if d.Class != c.class {
			t.Errorf("dead letter %d: class %q, want %q (error %q)", i, d.Class, c.class, d.Error)
		}
		if d.Error == "" || d.SourceTopic != "results" || d.SourcePartition != 0 || d.SourceOffset != int64(2*i+1) {
			t.Errorf("dead letter %d: %+v", i, d)
		}
		if string(d.Key) != string(c.key) || string(d.Value) != string(c.value) {
			t.Errorf("dead letter %d: key %q / value differ from the original", i, d.Key)
		}
	}
	if got, want := hs.ev.list(), []string{fmt.Sprintf("insert %d", valid), fmt.Sprintf("dlq %d", len(cases))}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	st := hs.sync.Stats()
	if st.DLQ[deadletter.ClassDecode] != 6 || st.DLQ[deadletter.ClassUnknownSite] != 1 || st.DLQ[deadletter.ClassTooLarge] != 1 ||
		st.Stored != int64(valid) || st.Consumed != int64(len(recs)) {
		t.Errorf("stats = %+v", st)
	}
}

// TestStoresBytesReceived: the writer gets the message bytes as received,
// unknown fields and an unknown reason included.
func TestStoresBytesReceived(t *testing.T) {
	hs := newHarness(t, Options{}, 1)
	value := []byte(`{"v":1,"check_id":"6f1c5a52-1d3e-4b8e-9f59-0c7d2a6b9e11","website_id":1,` +
		`"checked_at":"2026-11-27T05:30:01Z","up":false,"reason":"from_the_future","added_later":{"x":[1,2]}}`)
	hs.mustHandle(hs.rec(key(1), value))
	hs.w.mu.Lock()
	defer hs.w.mu.Unlock()
	r, ok := hs.w.rows["6f1c5a52-1d3e-4b8e-9f59-0c7d2a6b9e11"]
	if !ok {
		t.Fatalf("not stored; dead letters %+v", hs.dlq.letters())
	}
	if string(r.Raw) != string(value) || r.Reason != "from_the_future" {
		t.Errorf("stored raw %s reason %q, want the bytes received", r.Raw, r.Reason)
	}
}

// TestDuplicates: a check id seen twice in a batch or across batches is
// stored once and counted as a duplicate.
func TestDuplicates(t *testing.T) {
	hs := newHarness(t, Options{}, 1)
	a, b := result(1), result(1)
	hs.mustHandle(hs.resultRec(a), hs.resultRec(a), hs.resultRec(b), hs.resultRec(a))
	hs.mustHandle(hs.resultRec(b)) // already stored
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
	hs := newHarness(t, Options{}, 1)
	hs.w.setInsertHook(func(rs []contract.Result) error {
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
	bad := map[int64]deadletter.Class{}
	var recs []kafka.Record
	for i := range 64 {
		r := result(1)
		switch i {
		case 5, 40:
			c := 99999
			r.StatusCode = &c
		case 41:
			r.ResponseTimeMs = -1
		}
		rec := hs.resultRec(r)
		switch i {
		case 5, 40:
			bad[rec.Offset] = deadletter.ClassDBData
		case 41:
			bad[rec.Offset] = deadletter.ClassDBConstraint
		}
		recs = append(recs, rec)
	}
	hs.mustHandle(recs...)
	if got := hs.w.count(); got != 61 {
		t.Errorf("stored %d rows, want 61", got)
	}
	sent := hs.dlq.letters()
	if len(sent) != 3 {
		t.Fatalf("%d dead letters, want 3", len(sent))
	}
	for _, d := range sent {
		if want := bad[d.SourceOffset]; d.Class != want {
			t.Errorf("offset %d: class %q, want %q", d.SourceOffset, d.Class, want)
		}
	}
	st := hs.sync.Stats()
	if st.DLQ[deadletter.ClassDBData] != 2 || st.DLQ[deadletter.ClassDBConstraint] != 1 || st.Stored != 61 || st.Consumed != 64 || st.Duplicates != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestRetryThenAccept: while PostgreSQL fails with a transient error the
// batch is not accepted; when it comes back it is stored and accepted.
func TestRetryThenAccept(t *testing.T) {
	hs := newHarness(t, Options{}, 1)
	fails := 0
	hs.w.setInsertHook(func(rs []contract.Result) error {
		if fails < 4 {
			fails++
			return sqlErr("57P01")
		}
		return nil
	})
	hs.mustHandle(hs.resultRec(result(1)), hs.resultRec(result(1)))
	want := []string{"insert failed 2", "insert failed 2", "insert failed 2", "insert failed 2", "insert 2"}
	if got := hs.ev.list(); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if st := hs.sync.Stats(); st.Retries != 4 || st.Stored != 2 {
		t.Errorf("stats = %+v, want 4 retries, 2 stored", st)
	}
}

// TestStopWhileRetrying: a partition released while PostgreSQL is down is
// let go promptly, the batch not accepted (an error, with ctx done).
func TestStopWhileRetrying(t *testing.T) {
	hs := newHarness(t, Options{RetryMin: 50 * time.Millisecond, RetryMax: 10 * time.Second}, 1)
	hs.w.setInsertHook(func([]contract.Result) error { return &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED} })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hs.handle(ctx, hs.resultRec(result(1))) }()
	deadline := time.Now().Add(5 * time.Second)
	for hs.sync.Stats().Retries < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, errStopped) || !errors.Is(err, context.Canceled) {
			t.Errorf("HandleBatch = %v, want errStopped wrapping the cancellation", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("HandleBatch did not return after the partition was released")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("released after %v, want promptly", d)
	}
	if st := hs.sync.Stats(); st.Consumed != 0 || st.Stored != 0 {
		t.Errorf("stats = %+v: counted a batch that was not accepted", st)
	}
}

// TestReleaseDeadline: a batch handed over at release (ctx with a deadline)
// is retried through a short outage, and given up at the deadline when the
// database stays down.
func TestReleaseDeadline(t *testing.T) {
	t.Run("short outage", func(t *testing.T) {
		hs := newHarness(t, Options{}, 1)
		fails := 0
		hs.w.setInsertHook(func([]contract.Result) error {
			if fails < 3 {
				fails++
				return sqlErr("08006")
			}
			return nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.handle(ctx, hs.resultRec(result(1)), hs.resultRec(result(1))); err != nil {
			t.Fatalf("HandleBatch = %v", err)
		}
		if got := hs.w.count(); got != 2 {
			t.Errorf("stored %d rows, want 2", got)
		}
	})
	t.Run("database stays down", func(t *testing.T) {
		hs := newHarness(t, Options{}, 1)
		hs.w.setInsertHook(func([]contract.Result) error { return sqlErr("57P03") })
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := hs.handle(ctx, hs.resultRec(result(1)))
		if err == nil || ctx.Err() == nil {
			t.Errorf("HandleBatch = %v (ctx %v), want an error after the deadline", err, ctx.Err())
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("gave up after %v, want about the deadline (300ms)", d)
		}
	})
}

// TestDBTimeout: each database call is bounded by DBTimeout, not by anything
// shorter, when the batch's context has no deadline (a large COPY is not cut
// by the shutdown timeout); and by the batch's deadline when it has one.
func TestDBTimeout(t *testing.T) {
	hs := newHarness(t, Options{DBTimeout: 7 * time.Minute}, 1)
	var got time.Duration
	hs.w.setInsertHook(func([]contract.Result) error { return nil })
	hs.w.ctxHook = func(ctx context.Context) {
		d, ok := ctx.Deadline()
		if !ok {
			t.Error("database call without a deadline")
		}
		got = time.Until(d)
	}
	hs.mustHandle(hs.resultRec(result(1)))
	if got < 6*time.Minute || got > 7*time.Minute {
		t.Errorf("insert deadline in %v, want about DBTimeout (7m)", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.handle(ctx, hs.resultRec(result(1))); err != nil {
		t.Fatal(err)
	}
	if got > 2*time.Second {
		t.Errorf("insert deadline in %v, want the batch's deadline (2s)", got)
	}
}

// TestSchemaDrift: a class 42 failure with a failing schema check is
// returned at once; with a passing check it is retried.
func TestSchemaDrift(t *testing.T) {
	drift := errors.New("schema drift: website_status.request_info is missing")
	t.Run("drift", func(t *testing.T) {
		hs := newHarness(t, Options{}, 1)
		hs.w.schemaErr = drift
		hs.w.setInsertHook(func([]contract.Result) error { return &pq.Error{Code: "42703"} })
		err := hs.handle(context.Background(), hs.resultRec(result(1)))
		if !errors.Is(err, drift) {
			t.Errorf("HandleBatch = %v, want the drift", err)
		}
	})
	t.Run("transient", func(t *testing.T) {
		hs := newHarness(t, Options{}, 1)
		fails := 0
		hs.w.setInsertHook(func([]contract.Result) error {
			if fails < 2 {
				fails++
				return sqlErr("42P01")
			}
			return nil
		})
		hs.mustHandle(hs.resultRec(result(1)))
	})
}

// TestDLQFailure: dead letters that cannot be produced before the partition
// is released keep the batch from being accepted.
func TestDLQFailure(t *testing.T) {
	hs := newHarness(t, Options{}, 1)
	hs.dlq.fail = func(ctx context.Context) error { return context.Canceled }
	err := hs.handle(context.Background(), hs.resultRec(result(1)), hs.rec(key(1), []byte("garbage")))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("HandleBatch = %v, want the dead-letter failure", err)
	}
	if got, want := hs.ev.list(), []string{"insert 1", "dlq failed 1"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

// TestSiteCache: known sites are not looked up again; a miss is looked up
// once per batch for all the missing ids; a site that disappears (foreign
// key violation) is evicted and its result dead-lettered.
func TestSiteCache(t *testing.T) {
	hs := newHarness(t, Options{}, 1, 2, 3)
	var recs []kafka.Record
	for _, id := range []int64{1, 2, 1, 2, 7, 7} {
		recs = append(recs, hs.resultRec(result(id)))
	}
	hs.mustHandle(recs...)
	recs = nil
	for _, id := range []int64{1, 2, 1, 2, 3, 1} {
		recs = append(recs, hs.resultRec(result(id)))
	}
	hs.mustHandle(recs...)
	hs.w.mu.Lock()
	calls := hs.w.existCalls
	delete(hs.w.sites, 2) // the website is deleted
	hs.w.mu.Unlock()
	if len(calls) != 2 || !slices.Equal(calls[0], []int64{1, 2, 7}) || !slices.Equal(calls[1], []int64{3}) {
		t.Errorf("WebsitesExist calls = %v, want [[1 2 7] [3]]", calls)
	}
	hs.mustHandle(hs.resultRec(result(2)))
	if hs.sync.sites.has(2) {
		t.Errorf("site 2 still cached after a foreign key violation")
	}
	st := hs.sync.Stats()
	if st.DLQ[deadletter.ClassUnknownSite] != 3 || st.DLQ[deadletter.ClassDBConstraint] != 0 || st.Stored != 10 {
		t.Errorf("stats = %+v", st)
	}
}

// fakeConsumer is a Consumer whose Run blocks until ctx ends.
type fakeConsumer struct{ ran chan struct{} }

func (c *fakeConsumer) Run(ctx context.Context, _ kafka.Handler) error {
	select {
	case c.ran <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil
}

// TestRunSchemaCheck: Run checks the schema first, returns a drift, waits
// out an unreachable database, and returns nil when cancelled.
func TestRunSchemaCheck(t *testing.T) {
	opts := Options{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
	t.Run("drift", func(t *testing.T) {
		w := newFakeWriter(&events{})
		drift := errors.New("schema drift: website_status: table is missing")
		w.schemaErr = drift
		c := &fakeConsumer{ran: make(chan struct{}, 1)}
		err := New(w, &fakeDLQ{}, opts).Run(context.Background(), c)
		if !errors.Is(err, drift) {
			t.Errorf("Run = %v, want the drift", err)
		}
		if len(c.ran) != 0 {
			t.Errorf("Run consumed despite the drift")
		}
	})
	t.Run("unreachable then fine", func(t *testing.T) {
		w := newFakeWriter(&events{})
		w.schemaErr = &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
		c := &fakeConsumer{ran: make(chan struct{}, 1)}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		s := New(w, &fakeDLQ{}, opts)
		go func() { done <- s.Run(ctx, c) }()
		deadline := time.Now().Add(5 * time.Second)
		for s.Stats().Retries < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		w.mu.Lock()
		w.schemaErr = nil
		w.mu.Unlock()
		select {
		case <-c.ran:
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
}

// TestTimestampBounds: a result older than the raw retention is an expired
// dead letter (storing it would recreate a pruned day) and one further ahead
// than MaxFuture (default 2 minutes) a bad_timestamp one; the results inside
// the bounds are stored.
func TestTimestampBounds(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	hs := newHarness(t, Options{RetentionRaw: 7 * 24 * time.Hour, Now: func() time.Time { return now }}, 1)
	at := func(d time.Duration) kafka.Record {
		r := result(1)
		r.CheckedAt = now.Add(d)
		return hs.resultRec(r)
	}
	hs.mustHandle(at(-8*24*time.Hour), at(-6*24*time.Hour), at(0), at(2*time.Minute), at(2*time.Minute+time.Millisecond))
	if got := hs.w.count(); got != 3 {
		t.Errorf("stored %d rows, want the 3 inside the bounds", got)
	}
	st := hs.sync.Stats()
	if st.DLQ[deadletter.ClassExpired] != 1 || st.DLQ[deadletter.ClassBadTimestamp] != 1 {
		t.Errorf("dead letters %v, want one expired and one bad_timestamp", st.DLQ)
	}
	// A longer MaxFuture accepts more.
	hs = newHarness(t, Options{MaxFuture: 48 * time.Hour, Now: func() time.Time { return now }}, 1)
	hs.mustHandle(at(47*time.Hour), at(49*time.Hour))
	if got, st := hs.w.count(), hs.sync.Stats(); got != 1 || st.DLQ[deadletter.ClassBadTimestamp] != 1 {
		t.Errorf("MaxFuture 48h: stored %d rows and dead letters %v, want 1 and one bad_timestamp", got, st.DLQ)
	}
	// Without a retention nothing expires.
	hs = newHarness(t, Options{Now: func() time.Time { return now }}, 1)
	hs.mustHandle(at(-400 * 24 * time.Hour))
	if got := hs.w.count(); got != 1 {
		t.Errorf("retention 0: stored %d rows, want 1", got)
	}
}
