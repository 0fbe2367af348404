package sink

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/fixture"
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
	rows       map[string]contract.Result
	sites      map[int64]bool
	existCalls [][]int64
	insertHook func(rs []contract.Result) error // a non-nil error fails the whole call
	ctxHook    func(ctx context.Context)        // sees the context of every insert
	schemaErr  error
}

func newFakeWriter(ev *events, sites ...int64) *fakeWriter {
	w := &fakeWriter{ev: ev, rows: make(map[string]contract.Result), sites: make(map[int64]bool)}
	for _, id := range sites {
		w.sites[id] = true
	}
	return w
}

func (w *fakeWriter) InsertResults(ctx context.Context, rs []contract.Result) (int, error) {
	w.mu.Lock()
	hook, ctxHook := w.insertHook, w.ctxHook
	w.mu.Unlock()
	if ctxHook != nil {
		ctxHook(ctx)
	}
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

func (w *fakeWriter) setInsertHook(f func([]contract.Result) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.insertHook = f
}

func (w *fakeWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.rows)
}

// fakeDLQ is a DeadLetters recording what it was given; fail, when set,
// may fail a call.
type fakeDLQ struct {
	ev *events

	mu   sync.Mutex
	sent []deadletter.Letter
	fail func(ctx context.Context) error
}

func (d *fakeDLQ) Write(ctx context.Context, dls []deadletter.Letter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		if err := d.fail(ctx); err != nil {
			d.ev.add("dlq failed %d", len(dls))
			return err
		}
	}
	d.sent = append(d.sent, dls...)
	d.ev.add("dlq %d", len(dls))
	return nil
}

func (d *fakeDLQ) letters() []deadletter.Letter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]deadletter.Letter(nil), d.sent...)
}

// harness hands batches of records of partition 0 of "results" to a Sync
// over fakes.
type harness struct {
	t    *testing.T
	ev   *events
	w    *fakeWriter
	dlq  *fakeDLQ
	sync *Sync
	next int64 // offset of the next record
}

func newHarness(t *testing.T, opts Options, sites ...int64) *harness {
	t.Helper()
	ev := &events{}
	if opts.RetryMin == 0 {
		opts.RetryMin = time.Millisecond
		opts.RetryMax = 5 * time.Millisecond
	}
	hs := &harness{t: t, ev: ev, w: newFakeWriter(ev, sites...), dlq: &fakeDLQ{ev: ev}}
	hs.sync = New(hs.w, hs.dlq, opts)
	return hs
}

// rec returns the next record of the partition.
func (hs *harness) rec(key, value []byte) kafka.Record {
	off := hs.next
	hs.next++
	return kafka.Record{Topic: "results", Partition: 0, Offset: off, Key: key, Value: value}
}

func (hs *harness) resultRec(r contract.Result) kafka.Record {
	hs.t.Helper()
	v, err := r.Encode()
	if err != nil {
		hs.t.Fatal(err)
	}
	return hs.rec(r.Key(), v)
}

// handle hands recs to HandleBatch as one batch.
func (hs *harness) handle(ctx context.Context, recs ...kafka.Record) error {
	return hs.sync.HandleBatch(ctx, &kafka.Batch{Topic: "results", Partition: 0, Records: recs})
}

// mustHandle hands recs over and fails the test unless HandleBatch accepts them.
func (hs *harness) mustHandle(recs ...kafka.Record) {
	hs.t.Helper()
	if err := hs.handle(context.Background(), recs...); err != nil {
		hs.t.Fatalf("HandleBatch: %v", err)
	}
}

// result returns a valid result for site.
func result(site int64) contract.Result { return fixture.Result(site) }

func key(id int64) []byte { return []byte(strconv.FormatInt(id, 10)) }
