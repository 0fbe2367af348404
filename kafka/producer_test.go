package kafka

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"

	"github.com/sitestat/sitestat/checker"
)

// errNoAnswer makes fakeAP keep a message without ever answering for it.
var errNoAnswer = errors.New("no answer")

// fakeAP is an in-memory sarama.AsyncProducer: outcome decides, per message,
// success (nil), failure (an error) or no answer (errNoAnswer).
type fakeAP struct {
	sarama.AsyncProducer // methods the Producer does not use are left nil
	in                   chan *sarama.ProducerMessage
	succ                 chan *sarama.ProducerMessage
	errs                 chan *sarama.ProducerError
	closeOnce            sync.Once
	closed               chan struct{}
}

func newFakeAP(gate <-chan struct{}, outcome func(m *sarama.ProducerMessage) error) *fakeAP {
	f := &fakeAP{
		in:     make(chan *sarama.ProducerMessage),
		succ:   make(chan *sarama.ProducerMessage, 16),
		errs:   make(chan *sarama.ProducerError, 16),
		closed: make(chan struct{}),
	}
	go func() {
		defer close(f.closed)
		defer close(f.errs)
		defer close(f.succ)
		if gate != nil {
			<-gate
		}
		for m := range f.in {
			switch err := outcome(m); {
			case err == nil:
				f.succ <- m
			case errors.Is(err, errNoAnswer):
			default:
				f.errs <- &sarama.ProducerError{Msg: m, Err: err}
			}
		}
	}()
	return f
}

func (f *fakeAP) Input() chan<- *sarama.ProducerMessage     { return f.in }
func (f *fakeAP) Successes() <-chan *sarama.ProducerMessage { return f.succ }
func (f *fakeAP) Errors() <-chan *sarama.ProducerError      { return f.errs }
func (f *fakeAP) AsyncClose()                               { f.closeOnce.Do(func() { close(f.in) }) }
func (f *fakeAP) Close() error                              { f.AsyncClose(); <-f.closed; return nil }

// startFake starts a Producer on the given fake producers, used in order
// (the next one when the Producer recreates its sarama producer).
func startFake(t *testing.T, popts ProducerOptions, aps ...*fakeAP) *Producer {
	t.Helper()
	popts.Topic = "results"
	popts, _, err := popts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := 0
	p, err := startProducer(Options{Brokers: []string{"127.0.0.1:9092"}}, popts, nil, func() (*generation, error) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(aps) {
			return nil, errors.New("no more fake producers")
		}
		next++
		return &generation{ap: aps[next-1]}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// testResult returns a valid Result of website id with a fresh check id.
func testResult(id int64) checker.Result {
	code := 200
	return checker.Result{
		V: checker.Version, CheckID: uuid.NewString(), WebsiteID: id, URL: "https://example.com/" + strconv.FormatInt(id, 10),
		CheckedAt: time.Date(2025, 3, 1, 12, 0, int(id%60), 123456789, time.UTC), Probe: "test", Up: true, Reason: checker.ReasonOK,
		StatusCode: &code, ResponseTimeMs: 12.5, FinalURL: "https://example.com/", BodyBytes: 10,
	}
}

func flushCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestProducerDelivers(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{} // check id -> key
	ap := newFakeAP(nil, func(m *sarama.ProducerMessage) error {
		k, _ := m.Key.Encode()
		v, _ := m.Value.Encode()
		r, err := checker.Decode(k, v)
		if err != nil {
			t.Errorf("message does not decode: %v", err)
		}
		if m.Topic != "results" {
			t.Errorf("topic = %q", m.Topic)
		}
		mu.Lock()
		got[r.CheckID] = string(k)
		mu.Unlock()
		return nil
	})
	p := startFake(t, ProducerOptions{}, ap)
	var wg sync.WaitGroup
	want := map[string]string{}
	var wantMu sync.Mutex
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				r := testResult(int64(g*100 + i + 1))
				wantMu.Lock()
				want[r.CheckID] = strconv.FormatInt(r.WebsiteID, 10)
				wantMu.Unlock()
				p.Publish(context.Background(), r)
			}
		}()
	}
	wg.Wait()
	if err := p.Flush(flushCtx(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("delivered %d results, want %d", len(got), len(want))
	}
	for id, key := range want {
		if got[id] != key {
			t.Errorf("check %s: key %q, want %q", id, got[id], key)
		}
	}
	if s, want := p.Stats(), (ProducerStats{Published: 800, Acked: 800}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

func TestProducerResendsWhatSaramaGaveUpOn(t *testing.T) {
	var mu sync.Mutex
	attempts := map[string]int{}
	var times []time.Time
	ap := newFakeAP(nil, func(m *sarama.ProducerMessage) error {
		v, _ := m.Value.Encode()
		mu.Lock()
		defer mu.Unlock()
		attempts[string(v)]++
		times = append(times, time.Now())
		if attempts[string(v)] <= 3 {
			return sarama.Wrap(sarama.ErrOutOfBrokers, errors.New("dial tcp 127.0.0.1:9092: connect: connection refused"))
		}
		return nil
	})
	p := startFake(t, ProducerOptions{}, ap)
	p.Publish(context.Background(), testResult(7))
	if err := p.Flush(flushCtx(t, 20*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if s, want := p.Stats(), (ProducerStats{Published: 1, Acked: 1, Failed: 3}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
	mu.Lock()
	defer mu.Unlock()
	// The re-sends back off: 250 ms, 500 ms, 1 s.
	for i, minGap := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		if gap := times[i+1].Sub(times[i]); gap < minGap {
			t.Errorf("re-send %d came after %v, want at least %v", i+1, gap, minGap)
		}
	}
}

func TestProducerRecreatesAfterFatalError(t *testing.T) {
	broken := newFakeAP(nil, func(*sarama.ProducerMessage) error { return sarama.ErrOutOfOrderSequenceNumber })
	fresh := newFakeAP(nil, func(*sarama.ProducerMessage) error { return nil })
	p := startFake(t, ProducerOptions{}, broken, fresh)
	p.Publish(context.Background(), testResult(1))
	if err := p.Flush(flushCtx(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if s, want := p.Stats(), (ProducerStats{Published: 1, Acked: 1, Failed: 1, Recreated: 1}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
	select {
	case <-broken.closed:
	case <-time.After(5 * time.Second):
		t.Error("the replaced producer was not closed")
	}
}

func TestProducerDropsWhatTheBrokerRejectsForGood(t *testing.T) {
	n := 0
	ap := newFakeAP(nil, func(*sarama.ProducerMessage) error {
		n++
		if n == 1 {
			return sarama.ErrMessageSizeTooLarge
		}
		return nil
	})
	p := startFake(t, ProducerOptions{}, ap)
	p.Publish(context.Background(), testResult(1))
	err := p.Flush(flushCtx(t, 10*time.Second))
	if err == nil || !strings.Contains(err.Error(), "1 results were dropped") {
		t.Fatalf("Flush = %v, want an error about 1 dropped result", err)
	}
	// Drops are reported once: the next Flush is clean.
	p.Publish(context.Background(), testResult(2))
	if err := p.Flush(flushCtx(t, 10*time.Second)); err != nil {
		t.Errorf("second Flush: %v", err)
	}
	if s, want := p.Stats(), (ProducerStats{Published: 2, Acked: 1, Failed: 1, Dropped: 1}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

func TestProducerFlushTimesOut(t *testing.T) {
	ap := newFakeAP(nil, func(*sarama.ProducerMessage) error { return errNoAnswer })
	p := startFake(t, ProducerOptions{}, ap)
	p.Publish(context.Background(), testResult(1))
	p.Publish(context.Background(), testResult(2))
	start := time.Now()
	err := p.Flush(flushCtx(t, 300*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "2 results not acknowledged") {
		t.Fatalf("Flush = %v, want a deadline error about 2 results", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Flush took %v past its deadline", d)
	}
	if got := p.Stats().Pending; got != 2 {
		t.Errorf("Pending = %d, want 2", got)
	}
}

func TestProducerFlushSaysWhy(t *testing.T) {
	ap := newFakeAP(nil, func(*sarama.ProducerMessage) error {
		return sarama.Wrap(sarama.ErrOutOfBrokers, sarama.ErrSASLAuthenticationFailed)
	})
	p := startFake(t, ProducerOptions{}, ap)
	p.Publish(context.Background(), testResult(1))
	err := p.Flush(flushCtx(t, 500*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "SASL authentication failed") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Flush = %v, want one line naming the SASL failure", err)
	}
}

func TestProducerBufferDropsOldest(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	var delivered []int64
	ap := newFakeAP(gate, func(m *sarama.ProducerMessage) error {
		k, _ := m.Key.Encode()
		id, _ := strconv.ParseInt(string(k), 10, 64)
		mu.Lock()
		delivered = append(delivered, id)
		mu.Unlock()
		return nil
	})
	p := startFake(t, ProducerOptions{Buffer: 5}, ap)
	for i := int64(1); i <= 20; i++ {
		p.Publish(context.Background(), testResult(i))
	}
	s := p.Stats()
	if s.Pending > 5 || s.Dropped != s.Published-uint64(s.Pending) || s.Dropped < 15 {
		t.Fatalf("with the broker stuck: Stats = %+v, want at most 5 held and the rest dropped", s)
	}
	close(gate)
	err := p.Flush(flushCtx(t, 10*time.Second))
	if err == nil || !strings.Contains(err.Error(), "results were dropped") {
		t.Fatalf("Flush = %v, want an error about dropped results", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for id := int64(17); id <= 20; id++ { // the newest are kept
		if !slices.Contains(delivered, id) {
			t.Errorf("result %d (among the newest) was not delivered; delivered %v", id, delivered)
		}
	}
}

func TestProducerAfterClose(t *testing.T) {
	ap := newFakeAP(nil, func(*sarama.ProducerMessage) error { return nil })
	p := startFake(t, ProducerOptions{}, ap)
	p.Publish(context.Background(), testResult(1))
	if err := p.Close(flushCtx(t, 5*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-ap.closed:
	default:
		t.Error("Close returned before the sarama producer was closed")
	}
	p.Publish(context.Background(), testResult(2))
	if s, want := p.Stats(), (ProducerStats{Published: 1, Acked: 1, Dropped: 1}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
	if err := p.Close(flushCtx(t, time.Second)); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestProducerEncodeFailure(t *testing.T) {
	ap := newFakeAP(nil, func(*sarama.ProducerMessage) error { return nil })
	p := startFake(t, ProducerOptions{}, ap)
	r := testResult(1)
	r.ResponseTimeMs = math.NaN() // JSON cannot hold NaN
	p.Publish(context.Background(), r)
	if err := p.Flush(flushCtx(t, 5*time.Second)); err == nil {
		t.Error("Flush = nil after a result could not be encoded")
	}
	if s := p.Stats(); s.Dropped != 1 || s.Published != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestProducerOptionsDefaults(t *testing.T) {
	o, codec, err := ProducerOptions{Topic: "t"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.Buffer != DefaultProducerBuffer || o.Linger != DefaultLinger || o.FlushTimeout != DefaultFlushTimeout || codec != sarama.CompressionZSTD {
		t.Errorf("defaults = %+v, %v", o, codec)
	}
	if _, _, err := (ProducerOptions{}).withDefaults(); err == nil {
		t.Error("no error without a topic")
	}
	if _, _, err := (ProducerOptions{Topic: "t", Compression: "brotli"}).withDefaults(); err == nil {
		t.Error("no error for an unknown codec")
	}
}

func TestDeque(t *testing.T) {
	var d deque[int]
	var model []int
	for i := 0; i < 200; i++ {
		switch {
		case i%7 == 3 && len(model) > 0:
			if got, want := d.popFront(), model[0]; got != want {
				t.Fatalf("step %d: popFront = %d, want %d", i, got, want)
			}
			model = model[1:]
		case i%5 == 0:
			d.pushFront(i)
			model = append([]int{i}, model...)
		default:
			d.pushBack(i)
			model = append(model, i)
		}
		if d.len() != len(model) {
			t.Fatalf("step %d: len = %d, want %d", i, d.len(), len(model))
		}
	}
	for len(model) > 0 {
		if got, want := d.popFront(), model[0]; got != want {
			t.Fatalf("drain: popFront = %d, want %d", got, want)
		}
		model = model[1:]
	}
}
