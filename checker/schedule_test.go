package checker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
)

// fakeSource is a SiteSource whose list and error the test changes.
type fakeSource struct {
	mu    sync.Mutex
	sites []contract.Site
	err   error
	fails int // calls left that fail with errors.New("db down")
	calls int
}

func (f *fakeSource) Sites(ctx context.Context) ([]contract.Site, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("db down")
	}
	if f.err != nil {
		return nil, f.err
	}
	return append([]contract.Site(nil), f.sites...), nil
}

func (f *fakeSource) set(sites ...contract.Site) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sites = sites
}

func (f *fakeSource) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeSource) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// recorder is a Publisher that keeps every Result, decoded from the record
// the Runner published (a record that does not decode panics the test);
// delay makes Publish slow and active tracks Publish calls in flight per
// site.
type recorder struct {
	mu      sync.Mutex
	results []contract.Result
	delay   time.Duration
	active  map[int64]int
	maxAct  map[int64]int
}

func (p *recorder) Publish(ctx context.Context, key, value []byte) {
	r, err := contract.Decode(key, value)
	if err != nil || len(key) == 0 {
		panic(fmt.Sprintf("published record (key %q) is not a result of the contract: %v", key, err))
	}
	r.Raw = nil
	p.mu.Lock()
	if p.active == nil {
		p.active, p.maxAct = make(map[int64]int), make(map[int64]int)
	}
	p.active[r.WebsiteID]++
	p.maxAct[r.WebsiteID] = max(p.maxAct[r.WebsiteID], p.active[r.WebsiteID])
	p.mu.Unlock()
	if p.delay > 0 {
		time.Sleep(p.delay)
	}
	p.mu.Lock()
	p.active[r.WebsiteID]--
	p.results = append(p.results, r)
	p.mu.Unlock()
}

// of returns the results of site id, in publish order.
func (p *recorder) of(id int64) []contract.Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []contract.Result
	for _, r := range p.results {
		if r.WebsiteID == id {
			out = append(out, r)
		}
	}
	return out
}

func (p *recorder) count(id int64) int { return len(p.of(id)) }

// all returns every result, in publish order.
func (p *recorder) all() []contract.Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]contract.Result(nil), p.results...)
}

// waitFor polls cond until it holds or fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startRunner runs r until the test ends (or stop is called) and returns
// stop, which cancels and waits for Run to return.
func startRunner(t *testing.T, r *Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func okServer(t *testing.T) string {
	t.Helper()
	return serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.URL.Path) }).URL
}

// TestRunnerIntervals checks that each site is checked on its own interval,
// on a fixed grid (no drift: check k starts k intervals after the first).
func TestRunnerIntervals(t *testing.T) {
	t.Parallel()
	url := okServer(t)
	intervals := map[int64]time.Duration{1: 200 * time.Millisecond, 2: 500 * time.Millisecond, 3: time.Second}
	src := &fakeSource{}
	for id, iv := range intervals {
		src.sites = append(src.sites, contract.Site{ID: id, URL: url, Interval: iv})
	}
	pub := &recorder{}
	r := NewRunner(src, pub, RunnerOptions{Refresh: time.Hour})
	stop := startRunner(t, r)
	const run = 2100 * time.Millisecond
	start := time.Now()
	waitFor(t, 5*time.Second, func() bool { return time.Since(start) >= run }, "run time")
	stop()

	for id, iv := range intervals {
		res := pub.of(id)
		want := int(run/iv) + 1 // without jitter the first check is at once
		if n := len(res); n < want-1 || n > want+1 {
			t.Errorf("site %d (every %s): %d checks in %s, want %d±1", id, iv, n, run, want)
		}
		for k := 1; k < len(res); k++ {
			off := res[k].CheckedAt.Sub(res[0].CheckedAt) - time.Duration(k)*iv
			if off < -20*time.Millisecond || off > 100*time.Millisecond {
				t.Errorf("site %d check %d is %s off its grid", id, k, off)
			}
		}
	}
	st := r.Stats()
	if st.Sites != 3 || st.Checks != st.Published || st.Skipped != 0 || st.InFlight != 0 {
		t.Errorf("stats = %+v", st)
	}
	if st.LagP99 <= 0 || st.LagP99 > 100*time.Millisecond {
		t.Errorf("lag p99 = %s, want (0, 100ms]", st.LagP99)
	}
}

// TestRunnerJitter checks that with Jitter sites start spread over their
// interval, not all at once.
func TestRunnerJitter(t *testing.T) {
	t.Parallel()
	url := okServer(t)
	src := &fakeSource{}
	for id := int64(1); id <= 40; id++ {
		src.sites = append(src.sites, contract.Site{ID: id, URL: url, Interval: time.Second})
	}
	pub := &recorder{}
	r := NewRunner(src, pub, RunnerOptions{Jitter: true, Refresh: time.Hour})
	stop := startRunner(t, r)
	waitFor(t, 5*time.Second, func() bool {
		for id := int64(1); id <= 40; id++ {
			if pub.count(id) == 0 {
				return false
			}
		}
		return true
	}, "every site checked once")
	stop()
	var first, last time.Time
	for id := int64(1); id <= 40; id++ {
		at := pub.of(id)[0].CheckedAt
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	if spread := last.Sub(first); spread < 400*time.Millisecond {
		t.Errorf("first checks of 40 sites spread over %s, want most of the 1s interval", spread)
	}
}

// TestRunnerNoOverlap checks that a site's check still in flight when the
// next is due is not doubled but counted as skipped.
func TestRunnerNoOverlap(t *testing.T) {
	t.Parallel()
	url := okServer(t)
	src := &fakeSource{sites: []contract.Site{{ID: 1, URL: url, Interval: 100 * time.Millisecond}}}
	pub := &recorder{delay: 350 * time.Millisecond} // each check lasts longer than the interval
	r := NewRunner(src, pub, RunnerOptions{Refresh: time.Hour})
	stop := startRunner(t, r)
	waitFor(t, 5*time.Second, func() bool { return pub.count(1) >= 3 }, "3 slow checks")
	stop()
	pub.mu.Lock()
	maxAct := pub.maxAct[1]
	pub.mu.Unlock()
	if maxAct != 1 {
		t.Errorf("%d checks of one site in flight at once, want 1", maxAct)
	}
	st := r.Stats()
	if st.Skipped < 4 {
		t.Errorf("skipped = %d, want at least 4 (about 3 per check)", st.Skipped)
	}
	if n := pub.count(1); uint64(n) != st.Published || st.Checks != st.Published {
		t.Errorf("published %d, stats %+v", n, st)
	}
}

// TestRunnerReload checks that added, removed and changed sites take effect
// without a restart, that an invalid site is logged once (not per check or
// per reload) and checked as invalid_config, and that a failing reload keeps
// the last list.
func TestRunnerReload(t *testing.T) {
	t.Parallel()
	url := okServer(t)
	src := &fakeSource{sites: []contract.Site{
		{ID: 1, URL: url + "/a", Interval: 100 * time.Millisecond},
		{ID: 2, URL: url + "/b", Interval: 100 * time.Millisecond},
	}}
	pub := &recorder{}
	logs := &logBuffer{}
	r := NewRunner(src, pub, RunnerOptions{
		Refresh: 100 * time.Millisecond,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	startRunner(t, r)
	waitFor(t, 5*time.Second, func() bool { return pub.count(1) >= 2 && pub.count(2) >= 2 }, "sites 1 and 2 checked")

	// Change 1 (new URL and interval), remove 2, add 3 and an invalid 4.
	src.set(
		contract.Site{ID: 1, URL: url + "/a2", Interval: 300 * time.Millisecond},
		contract.Site{ID: 3, URL: url + "/c", Interval: 100 * time.Millisecond},
		contract.Site{ID: 4, URL: "ftp://example.com/", Interval: 100 * time.Millisecond},
	)
	newURL := func(r contract.Result) bool { return r.URL == url+"/a2" }
	waitFor(t, 5*time.Second, func() bool {
		n := 0
		for _, r := range pub.of(1) {
			if newURL(r) {
				n++
			}
		}
		return n >= 1 && pub.count(3) >= 1 && pub.count(4) >= 1
	}, "reload applied")
	removedAt := pub.count(2)
	c3 := pub.count(3)
	waitFor(t, 5*time.Second, func() bool { return pub.count(3) >= c3+5 }, "site 3 checked 5 more times")
	if n := pub.count(2); n > removedAt+1 {
		t.Errorf("removed site 2 checked %d more times", n-removedAt)
	}
	var at []time.Time
	for _, r := range pub.of(1) {
		if newURL(r) {
			at = append(at, r.CheckedAt)
		}
	}
	for k := 1; k < len(at); k++ {
		if d := at[k].Sub(at[k-1]); d < 250*time.Millisecond || d > 400*time.Millisecond {
			t.Errorf("site 1 checks %s apart after the change, want 300ms", d)
		}
	}
	for _, res := range pub.of(4) {
		if res.Reason != contract.ReasonInvalidConfig {
			t.Errorf("invalid site 4: reason %q", res.Reason)
		}
	}
	if pub.count(4) < 2 {
		t.Errorf("invalid site 4 checked %d times, want it on its schedule", pub.count(4))
	}
	if n := strings.Count(logs.String(), "invalid site"); n != 1 {
		t.Errorf("invalid site logged %d times, want 1:\n%s", n, logs.String())
	}

	// The source fails: the last list is kept.
	src.setErr(errors.New("db down"))
	calls := src.callCount()
	waitFor(t, 5*time.Second, func() bool { return src.callCount() >= calls+2 }, "failed reloads")
	c3 = pub.count(3)
	waitFor(t, 5*time.Second, func() bool { return pub.count(3) >= c3+3 }, "checks go on while the source fails")
	if !strings.Contains(logs.String(), "keeping the last list") {
		t.Errorf("failed reload not logged:\n%s", logs.String())
	}
}

// TestRunnerStartRetry checks that Run waits for the source at start,
// retrying, instead of failing.
func TestRunnerStartRetry(t *testing.T) {
	t.Parallel()
	src := &fakeSource{fails: 2, sites: []contract.Site{{ID: 1, URL: okServer(t), Interval: 100 * time.Millisecond}}}
	pub := &recorder{}
	r := NewRunner(src, pub, RunnerOptions{Refresh: 50 * time.Millisecond})
	startRunner(t, r)
	waitFor(t, 5*time.Second, func() bool { return pub.count(1) >= 1 }, "checks after the source came back")
	if n := src.callCount(); n < 3 {
		t.Errorf("source called %d times, want at least 3", n)
	}
}

// TestRunnerShutdown checks that cancelling Run lets the check in flight
// finish and publish (it is not cancelled with Run's context).
func TestRunnerShutdown(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "slow but fine")
	})
	src := &fakeSource{sites: []contract.Site{{ID: 1, URL: srv.URL, Interval: time.Minute}}}
	pub := &recorder{}
	r := NewRunner(src, pub, RunnerOptions{Refresh: time.Hour})
	stop := startRunner(t, r)
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no check started")
	}
	stop()
	res := pub.of(1)
	if len(res) != 1 || res[0].Reason != contract.ReasonOK {
		t.Fatalf("after shutdown: %+v, want the in-flight check published ok", res)
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("in flight after Run returned: %d", st.InFlight)
	}
}

// TestRunnerOnce checks that Once checks every site exactly once and that
// SkipStatus filters Results out.
func TestRunnerOnce(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	})
	src := &fakeSource{}
	for id := int64(1); id <= 20; id++ {
		src.sites = append(src.sites, contract.Site{ID: id, URL: srv.URL + "/", Interval: time.Minute})
	}
	src.sites = append(src.sites,
		contract.Site{ID: 21, URL: srv.URL + "/missing", Interval: time.Minute},
		contract.Site{ID: 22, URL: srv.URL + "/", Interval: time.Minute, Regex: "("},
	)
	pub := &recorder{}
	r := NewRunner(src, pub, RunnerOptions{Concurrency: 4, SkipStatus: []int{404}})
	if err := r.Once(context.Background()); err != nil {
		t.Fatalf("Once: %v", err)
	}
	for id := int64(1); id <= 20; id++ {
		if res := pub.of(id); len(res) != 1 || res[0].Reason != contract.ReasonOK {
			t.Errorf("site %d: %+v, want one ok result", id, res)
		}
	}
	if n := pub.count(21); n != 0 {
		t.Errorf("404 site published %d times, want filtered", n)
	}
	if res := pub.of(22); len(res) != 1 || res[0].Reason != contract.ReasonInvalidConfig {
		t.Errorf("invalid site: %+v, want one invalid_config result", res)
	}
	st := r.Stats()
	if st.Checks != 22 || st.Published != 21 || st.Filtered != 1 {
		t.Errorf("stats = %+v, want 22 checks, 21 published, 1 filtered", st)
	}

	src.setErr(errors.New("db down"))
	if err := r.Once(context.Background()); err == nil || !strings.Contains(err.Error(), "db down") {
		t.Errorf("Once with a failing source = %v, want the error", err)
	}
}

func TestLagHistogram(t *testing.T) {
	var h lagHistogram
	if q := h.quantile(0.99); q != 0 {
		t.Errorf("empty p99 = %s", q)
	}
	for range 98 {
		h.observe(500 * time.Microsecond)
	}
	h.observe(250 * time.Millisecond)
	h.observe(3 * time.Second)
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, time.Millisecond},        // the upper bound of [0, 1ms)
		{0.99, 260 * time.Millisecond}, // of [250ms, 260ms)
		{1, 3 * time.Second},           // [3s, 3.1s) capped by the max seen
	}
	for _, tc := range tests {
		if got := h.quantile(tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %s, want %s", tc.q, got, tc.want)
		}
	}
	h.observe(time.Minute)
	if got := h.quantile(1); got != time.Minute {
		t.Errorf("quantile(1) with a 1m outlier = %s, want 1m (the max)", got)
	}
	for _, d := range []time.Duration{0, 99 * time.Millisecond, 100 * time.Millisecond, 999 * time.Millisecond, time.Second, 9999 * time.Millisecond} {
		if i := lagBucket(d); d >= lagUpper(i) || (i > 0 && d < lagUpper(i-1)) {
			t.Errorf("%s in bucket %d = [%s, %s)", d, i, lagUpper(i-1), lagUpper(i))
		}
	}
}

// TestRunnerSkipsUnusableSites: a site without an id or a URL (a websites row
// with NULLs) is skipped with one warning, not one per reload, and does not
// keep the others from being checked; once fixed it is checked.
func TestRunnerSkipsUnusableSites(t *testing.T) {
	t.Parallel()
	url := okServer(t)
	src := &fakeSource{}
	src.set(contract.Site{ID: 1, URL: url, Interval: time.Hour}, contract.Site{ID: 2, URL: "", Interval: time.Hour}, contract.Site{ID: 0, URL: url, Interval: time.Hour})
	pub := &recorder{}
	var logs logBuffer
	r := NewRunner(src, pub, RunnerOptions{Refresh: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	stop := startRunner(t, r)
	waitFor(t, 5*time.Second, func() bool { return pub.count(1) > 0 && src.callCount() >= 5 }, "site 1 checked and 5 reloads")
	for _, want := range []string{`site_id=2 why="no url"`, `site_id=0 why="no id"`} {
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("%d warnings %s over 5 reloads, want 1:\n%s", n, want, logs.String())
		}
	}
	if pub.count(2) != 0 || pub.count(0) != 0 {
		t.Errorf("unusable sites were checked: %d and %d results", pub.count(2), pub.count(0))
	}
	src.set(contract.Site{ID: 1, URL: url, Interval: time.Hour}, contract.Site{ID: 2, URL: url + "/fixed", Interval: time.Hour})
	waitFor(t, 5*time.Second, func() bool { return pub.count(2) > 0 }, "site 2 checked once fixed")
	stop()
	if rs := pub.of(2); rs[0].Reason != contract.ReasonOK {
		t.Errorf("site 2 once fixed: %+v", rs[0])
	}
}

func TestRunnerLagHistogram(t *testing.T) {
	r := NewRunner(nil, nil, RunnerOptions{})
	for _, d := range []time.Duration{-time.Millisecond, 500 * time.Microsecond, 7 * time.Millisecond, 120 * time.Millisecond,
		249 * time.Millisecond, 250 * time.Millisecond, 1200 * time.Millisecond, time.Minute} {
		r.lag.observe(d)
	}
	bounds := []time.Duration{time.Millisecond, 10 * time.Millisecond, 250 * time.Millisecond, 300 * time.Millisecond, time.Second, 10 * time.Second}
	tests := []struct {
		bound time.Duration
		want  uint64
	}{
		{time.Millisecond, 2},       // -1ms (counted as 0) and 0.5ms
		{10 * time.Millisecond, 3},  // + 7ms
		{250 * time.Millisecond, 5}, // + 120ms, 249ms; 250ms is in [250ms, 260ms)
		{300 * time.Millisecond, 6}, // + 250ms
		{time.Second, 6},            //
		{10 * time.Second, 7},       // + 1.2s; the minute is only in the count
	}
	cum, count, sum := r.LagHistogram(bounds)
	for i, tc := range tests {
		if cum[i] != tc.want {
			t.Errorf("checks at most %v late: %d, want %d", tc.bound, cum[i], tc.want)
		}
	}
	if count != 8 {
		t.Errorf("count = %d, want 8", count)
	}
	if want := 500*time.Microsecond + 7*time.Millisecond + 120*time.Millisecond + 249*time.Millisecond +
		250*time.Millisecond + 1200*time.Millisecond + time.Minute; sum != want {
		t.Errorf("sum = %v, want %v", sum, want)
	}
}

// TestRunnerReloadWhileSaturated reloads the site list while the checks
// cannot keep up (one worker, slow publishing, always something due): the
// new list still takes effect.
func TestRunnerReloadWhileSaturated(t *testing.T) {
	t.Parallel()
	url := okServer(t)
	src := &fakeSource{}
	for id := int64(1); id <= 20; id++ {
		src.sites = append(src.sites, contract.Site{ID: id, URL: url, Interval: 10 * time.Millisecond})
	}
	pub := &recorder{delay: 20 * time.Millisecond}
	r := NewRunner(src, pub, RunnerOptions{Concurrency: 1, Refresh: 50 * time.Millisecond})
	startRunner(t, r)
	waitFor(t, 5*time.Second, func() bool { return r.Stats().Sites == 20 && r.Stats().Skipped > 0 }, "20 sites scheduled and checks skipped")
	src.set(contract.Site{ID: 1, URL: url, Interval: 10 * time.Millisecond})
	waitFor(t, 5*time.Second, func() bool { return r.Stats().Sites == 1 }, "the list of 1 site applied")
}

// TestRunnerSlots: with Slots, two Runners of one probe (two processes
// that briefly both own the sites) check each site in the same slots with
// the same CheckID and CheckedAt; CheckedAt is on the site's grid, the
// request started LagMs later (StartedAt); the checks of 40 sites spread
// over the interval; another probe has other ids.
func TestRunnerSlots(t *testing.T) {
	t.Parallel()
	url := okServer(t)
	src := &fakeSource{}
	for id := int64(1); id <= 40; id++ {
		src.sites = append(src.sites, contract.Site{ID: id, URL: url, Interval: time.Second})
	}
	var stops []func()
	run := func(probe string) *recorder {
		pub := &recorder{}
		r := NewRunner(src, pub, RunnerOptions{Slots: true, Jitter: true, Refresh: time.Hour, Probe: ProbeOptions{Probe: probe, Timeout: time.Second}})
		stops = append(stops, startRunner(t, r))
		return pub
	}
	a, b, other := run("p"), run("p"), run("q")
	waitFor(t, 5*time.Second, func() bool {
		for id := int64(1); id <= 40; id++ {
			if a.count(id) < 3 || b.count(id) < 3 || other.count(id) < 3 {
				return false
			}
		}
		return true
	}, "every site checked three times by each runner")
	for _, stop := range stops {
		stop()
	}
	ids := map[string]time.Time{}
	for _, r := range b.all() {
		ids[r.CheckID] = r.CheckedAt
	}
	var first, last time.Time
	shared := 0
	for _, r := range a.all() {
		off := SlotOffset(r.WebsiteID, "p", time.Second)
		if (r.CheckedAt.UnixNano()-int64(off))%int64(time.Second) != 0 {
			t.Fatalf("site %d: checked_at %v is not on its grid (offset %v)", r.WebsiteID, r.CheckedAt, off)
		}
		if want := SlotCheckID(r.WebsiteID, "p", r.CheckedAt); r.CheckID != want {
			t.Fatalf("site %d: check_id %s, want the slot's %s", r.WebsiteID, r.CheckID, want)
		}
		if r.StartedAt == nil || r.LagMs == nil || r.StartedAt.Before(r.CheckedAt) ||
			*r.LagMs != float64(r.StartedAt.Sub(r.CheckedAt).Microseconds())/1000 || *r.LagMs > 500 {
			t.Fatalf("site %d: started_at %v, lag_ms %v for slot %v", r.WebsiteID, r.StartedAt, r.LagMs, r.CheckedAt)
		}
		if at, ok := ids[r.CheckID]; ok {
			shared++
			if !at.Equal(r.CheckedAt) {
				t.Fatalf("check %s: checked_at %v and %v", r.CheckID, r.CheckedAt, at)
			}
		}
		if first.IsZero() || r.CheckedAt.Before(first) {
			first = r.CheckedAt
		}
		if r.CheckedAt.After(last) {
			last = r.CheckedAt
		}
	}
	// Both ran over the same seconds: all their checks share slots but for
	// at most the first and last of each site.
	if n := len(a.all()); shared < n-80 {
		t.Errorf("%d of runner a's %d checks share a slot with runner b, want all but the edges", shared, n)
	}
	for _, r := range other.all() {
		if _, ok := ids[r.CheckID]; ok {
			t.Fatalf("probe q's check %s has a check id of probe p", r.CheckID)
		}
	}
	if spread := last.Sub(first); spread < 1400*time.Millisecond {
		t.Errorf("checks spread over %s, want the offsets spread over the 1 s interval", spread)
	}
}

// TestRunnerDropsUnencodable: a Result JSON cannot hold is logged and
// counted, never handed to the Publisher; an encodable one is published as
// its key and Encode's bytes.
func TestRunnerDropsUnencodable(t *testing.T) {
	pub := &recorder{}
	r := NewRunner(nil, pub, RunnerOptions{})
	good := contract.Result{V: contract.Version, CheckID: newUUID(), WebsiteID: 7, CheckedAt: time.Now().UTC(), Up: true, Reason: contract.ReasonOK}
	bad := good
	bad.ResponseTimeMs = math.NaN()
	r.publish(context.Background(), &bad)
	r.publish(context.Background(), &good)
	if st := r.Stats(); st.Unencodable != 1 || st.Published != 1 {
		t.Errorf("Stats = %+v, want 1 unencodable and 1 published", st)
	}
	if got := pub.of(7); len(got) != 1 || got[0].CheckID != good.CheckID {
		t.Errorf("published %+v, want only the encodable result", got)
	}
}
