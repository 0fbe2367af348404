package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/testutil/testenv"
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
	newGen := func(context.Context) (*generation, error) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(aps) {
			return nil, errors.New("no more fake producers")
		}
		next++
		return &generation{ap: aps[next-1]}, nil
	}
	g, err := newGen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := startProducer(Options{Brokers: []string{"127.0.0.1:9092"}}, popts, nil, newGen, g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// testResult returns a valid Result of website id with a fresh check id.
func testResult(id int64) contract.Result {
	code := 200
	return contract.Result{
		V: contract.Version, CheckID: uuid.NewString(), WebsiteID: id, URL: "https://example.com/" + strconv.FormatInt(id, 10),
		CheckedAt: time.Date(2025, 3, 1, 12, 0, int(id%60), 123456789, time.UTC), Probe: "test", Up: true, Reason: contract.ReasonOK,
		StatusCode: &code, ResponseTimeMs: 12.5, FinalURL: "https://example.com/", BodyBytes: 10,
	}
}

// publish publishes r as the checker does: its key and encoded value.
func publish(p *Producer, r contract.Result) {
	value, err := r.Encode()
	if err != nil {
		panic(fmt.Sprintf("encode test result: %v", err))
	}
	p.Publish(context.Background(), r.Key(), value)
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
		r, err := contract.Decode(k, v)
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
				publish(p, r)
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
	publish(p, testResult(7))
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
	publish(p, testResult(1))
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
	publish(p, testResult(1))
	err := p.Flush(flushCtx(t, 10*time.Second))
	if err == nil || !strings.Contains(err.Error(), "1 results were dropped") {
		t.Fatalf("Flush = %v, want an error about 1 dropped result", err)
	}
	// Drops are reported once: the next Flush is clean.
	publish(p, testResult(2))
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
	publish(p, testResult(1))
	publish(p, testResult(2))
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
	publish(p, testResult(1))
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
		publish(p, testResult(i))
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
	publish(p, testResult(1))
	if err := p.Close(flushCtx(t, 5*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-ap.closed:
	default:
		t.Error("Close returned before the sarama producer was closed")
	}
	publish(p, testResult(2))
	if s, want := p.Stats(), (ProducerStats{Published: 1, Acked: 1, Dropped: 1}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
	if err := p.Close(flushCtx(t, time.Second)); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestProducerSendsRecordsAsGiven: the Producer moves records, whatever is
// in them: the key and value reach the broker byte for byte.
func TestProducerSendsRecordsAsGiven(t *testing.T) {
	type kv struct{ key, value string }
	var mu sync.Mutex
	var got []kv
	ap := newFakeAP(nil, func(m *sarama.ProducerMessage) error {
		k, _ := m.Key.Encode()
		v, _ := m.Value.Encode()
		mu.Lock()
		got = append(got, kv{string(k), string(v)})
		mu.Unlock()
		return nil
	})
	p := startFake(t, ProducerOptions{}, ap)
	want := []kv{{"k1", "not a result \x00\xff"}, {"42", `{"v":99}`}}
	for _, r := range want {
		p.Publish(context.Background(), []byte(r.key), []byte(r.value))
	}
	if err := p.Flush(flushCtx(t, 5*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	if s := p.Stats(); s.Published != 2 || s.Acked != 2 || s.Dropped != 0 {
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
			at := (i / 5) % (len(model) + 1) // front, back and between
			d.insert(at, i)
			model = slices.Insert(model, at, i)
		default:
			d.pushBack(i)
			model = append(model, i)
		}
		if d.len() != len(model) {
			t.Fatalf("step %d: len = %d, want %d", i, d.len(), len(model))
		}
		for j, want := range model {
			if got := d.at(j); got != want {
				t.Fatalf("step %d: at(%d) = %d, want %d", i, j, got, want)
			}
		}
	}
	for len(model) > 0 {
		if got, want := d.popFront(), model[0]; got != want {
			t.Fatalf("drain: popFront = %d, want %d", got, want)
		}
		model = model[1:]
	}
}

// TestProducerResendKeepsOrder fails a batch of three results of one site,
// reporting the failures in various orders, and checks that the re-sends
// reach the broker in the order the results were published.
func TestProducerResendKeepsOrder(t *testing.T) {
	cases := []struct {
		name       string
		errorOrder []int // indexes of the batch, in the order sarama reports them
	}{
		{"in order", []int{0, 1, 2}},
		{"reversed", []int{2, 1, 0}},
		{"mixed", []int{1, 2, 0}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			var (
				mu        sync.Mutex
				held      []*sarama.ProducerMessage // the first batch, kept until it is complete
				delivered []string
				f         *fakeAP
			)
			f = newFakeAP(nil, func(m *sarama.ProducerMessage) error {
				mu.Lock()
				defer mu.Unlock()
				if len(held) < len(tc.errorOrder) { // the first batch: hold it, then fail it
					held = append(held, m)
					if len(held) == len(tc.errorOrder) {
						for _, i := range tc.errorOrder {
							f.errs <- &sarama.ProducerError{Msg: held[i], Err: sarama.ErrOutOfBrokers}
						}
					}
					return errNoAnswer // answered above, once the batch is complete
				}
				v, _ := m.Value.Encode()
				r, err := contract.Decode(nil, v)
				if err != nil {
					t.Errorf("decode: %v", err)
				}
				delivered = append(delivered, r.CheckID)
				return nil
			})
			p := startFake(t, ProducerOptions{}, f)
			var want []string
			for range tc.errorOrder {
				r := testResult(1)
				want = append(want, r.CheckID)
				publish(p, r)
			}
			if err := p.Flush(flushCtx(t, 10*time.Second)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(delivered, want) {
				t.Errorf("re-sent in the order %v, want the published order %v", delivered, want)
			}
			if s := p.Stats(); s.Failed != uint64(len(want)) || s.Acked != uint64(len(want)) {
				t.Errorf("Stats = %+v, want %d failed and %d acked", s, len(want), len(want))
			}
		})
	}
}

// TestProducerCloseCountsEveryUnacknowledgedResult closes a Producer whose
// broker never answers before the deadline: the results in flight count as
// dropped, like those never sent, and the error log says how many.
func TestProducerCloseCountsEveryUnacknowledgedResult(t *testing.T) {
	cases := []struct {
		name      string
		gate      bool // the broker takes nothing (one result stuck in the feeder's hand, the rest waiting)
		acked     int  // results the broker answers before it stops answering
		published int
	}{
		{"all in flight", false, 0, 4},
		{"some acknowledged, the rest in flight", false, 2, 5},
		{"none taken", true, 0, 3},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			var gate chan struct{}
			if tc.gate {
				gate = make(chan struct{}) // never opened
			}
			var mu sync.Mutex
			n := 0
			ap := newFakeAP(gate, func(*sarama.ProducerMessage) error {
				mu.Lock()
				defer mu.Unlock()
				n++
				if n <= tc.acked {
					return nil
				}
				return errNoAnswer
			})
			var logBuf syncBuffer
			popts, _, err := ProducerOptions{Topic: "results"}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			p := startProducer(Options{Brokers: []string{"127.0.0.1:9092"}}, popts, slog.New(slog.NewTextHandler(&logBuf, nil)),
				func(context.Context) (*generation, error) { return nil, errors.New("no more fake producers") },
				&generation{ap: ap})
			for i := range tc.published {
				publish(p, testResult(int64(i+1)))
			}
			testenv.Eventually(t, 5*time.Second, func() bool { return p.Stats().Acked == uint64(tc.acked) }, "%d results acknowledged", tc.acked)
			if err := p.Close(flushCtx(t, 300*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Close = %v, want a deadline error", err)
			}
			s := p.Stats()
			if want := uint64(tc.published - tc.acked); s.Dropped != want || s.Pending != 0 || s.Acked != uint64(tc.acked) {
				t.Errorf("after Close: Stats = %+v, want %d dropped, %d acked, none pending", s, want, tc.acked)
			}
			if want := fmt.Sprintf("lost=%d ", tc.published-tc.acked); !strings.Contains(logBuf.String(), want) {
				t.Errorf("log %q does not say %s", logBuf.String(), want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (a log handler's output).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestStartProducerBuffersUntilConnected starts a Producer whose cluster
// cannot be reached for the first attempts: results published meanwhile wait
// and are delivered, in order, once it connects, and each failed attempt
// logs one warning with the next, longer, wait.
func TestStartProducerBuffersUntilConnected(t *testing.T) {
	const failures = 3
	var mu sync.Mutex
	var delivered []string
	ap := newFakeAP(nil, func(m *sarama.ProducerMessage) error {
		v, _ := m.Value.Encode()
		r, err := contract.Decode(nil, v)
		if err != nil {
			t.Errorf("decode: %v", err)
		}
		mu.Lock()
		delivered = append(delivered, r.CheckID)
		mu.Unlock()
		return nil
	})
	attempts := 0
	connected := make(chan struct{})
	newGen := func(context.Context) (*generation, error) {
		attempts++ // only the feeder calls newGen
		if attempts <= failures {
			return nil, sarama.Wrap(sarama.ErrOutOfBrokers, errors.New("dial tcp 127.0.0.1:9092: connect: connection refused"))
		}
		close(connected)
		return &generation{ap: ap}, nil
	}
	var logBuf syncBuffer
	popts, _, err := ProducerOptions{Topic: "results"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p := newProducer(Options{Brokers: []string{"127.0.0.1:9092"}}, popts, slog.New(slog.NewTextHandler(&logBuf, nil)), newGen)
	p.connectBackoff = retry.Backoff{Min: 40 * time.Millisecond, Max: time.Second}
	p.start(nil)
	t.Cleanup(func() { _ = p.Close(flushCtx(t, time.Second)) })

	var want []string
	for i := range 5 {
		r := testResult(int64(i%2 + 1))
		want = append(want, r.CheckID)
		publish(p, r)
	}
	select {
	case <-connected:
		t.Fatal("connected before the failing attempts were over")
	default:
	}
	if s := p.Stats(); s.Pending != len(want) || s.Dropped != 0 {
		t.Errorf("before connecting: Stats = %+v, want %d pending", s, len(want))
	}
	if err := p.Flush(flushCtx(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	mu.Lock()
	if !slices.Equal(delivered, want) {
		t.Errorf("delivered %v, want %v", delivered, want)
	}
	mu.Unlock()
	var waits []string
	for _, line := range strings.Split(logBuf.String(), "\n") {
		if strings.Contains(line, "kafka unreachable") {
			_, after, _ := strings.Cut(line, "retry_in=")
			wait, _, _ := strings.Cut(after, " ")
			waits = append(waits, wait)
		}
	}
	if want := []string{"40ms", "80ms", "160ms"}; !slices.Equal(waits, want) {
		t.Errorf("warnings with retry_in %v, want one per attempt: %v\nlog:\n%s", waits, want, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "kafka producer connected") {
		t.Errorf("no line says the producer connected:\n%s", logBuf.String())
	}
}

// TestStartProducerCloseWhileUnreachable closes a Producer that never
// reached its cluster: Close returns by its deadline and counts every
// result as dropped.
func TestStartProducerCloseWhileUnreachable(t *testing.T) {
	popts, _, err := ProducerOptions{Topic: "results"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p := newProducer(Options{Brokers: []string{"127.0.0.1:9092"}}, popts, nil, func(ctx context.Context) (*generation, error) {
		<-ctx.Done() // a connection attempt that hangs until Close
		return nil, ctx.Err()
	})
	p.start(nil)
	for i := range 3 {
		publish(p, testResult(int64(i+1)))
	}
	start := time.Now()
	if err := p.Close(flushCtx(t, 200*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if s, want := p.Stats(), (ProducerStats{Published: 3, Dropped: 3}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}
