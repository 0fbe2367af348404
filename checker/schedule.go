package checker

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/internal/redact"
	"github.com/sitestat/sitestat/internal/retry"
)

// Defaults used for the zero fields of RunnerOptions.
const (
	DefaultConcurrency = 512              // checks in flight at once
	DefaultRefresh     = 30 * time.Second // how often the site list is reloaded
	// FallbackInterval schedules a site whose interval is not positive (its
	// checks report ReasonInvalidConfig).
	FallbackInterval = 5 * time.Second
)

// SiteSource gives the sites to check (the store reads the websites table).
type SiteSource interface {
	// Sites returns every site to check.
	Sites(ctx context.Context) ([]contract.Site, error)
}

// SiteNotifier is implemented by a SiteSource that knows when its sites
// change (the sites topic's reader): the Runner then reloads at once, not
// only every Refresh.
type SiteNotifier interface {
	// SitesChanged receives a value after the sites changed; a change
	// while one is pending is not queued twice.
	SitesChanged() <-chan struct{}
}

// Publisher takes each Result as a record (the Kafka producer,
// *kafka.Producer): the key is Result.Key, the value Result.Encode's bytes,
// the message of the contract. Publish must not block for long: it buffers,
// and reports its own failures. It must not change key or value.
type Publisher interface {
	// Publish hands the record key, value over for delivery.
	Publish(ctx context.Context, key, value []byte)
}

// RunnerOptions configure a Runner. The zero value is usable: every zero
// field takes its default.
type RunnerOptions struct {
	// Probe says how each site is checked.
	Probe ProbeOptions
	// Concurrency bounds the checks in flight (DefaultConcurrency when 0).
	Concurrency int
	// Refresh is how often the site list is reloaded (DefaultRefresh when 0).
	Refresh time.Duration
	// SkipStatus lists final HTTP statuses whose Results are not published
	// (counted in RunnerStats.Filtered), e.g. 404.
	SkipStatus []int
	// Jitter starts each site's schedule at a random offset within its
	// interval, so that thousands of sites do not fire in the same
	// millisecond. Set it for Run; without it every site starts at once.
	// Once never jitters.
	Jitter bool
	// Slots schedules Run's checks on each site's shared slots (SlotAt, for
	// Probe.Probe) instead of a random start, and stamps each Result with
	// its slot: CheckedAt is the slot, CheckID SlotCheckID, LagMs how late
	// the request started. Every process of a probe then makes the same
	// check of a slot, stored once. It takes precedence over Jitter; Once
	// ignores it (random ids, CheckedAt the start).
	Slots bool
	// Logger receives the Runner's logs (discarded when nil). Per-check
	// outcomes are logged at debug level only: a site being down is data.
	Logger *slog.Logger
}

func (o RunnerOptions) withDefaults() RunnerOptions {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// RunnerStats counts what a Runner did since it was made.
type RunnerStats struct {
	// Sites is how many sites are scheduled.
	Sites int
	// InFlight is how many checks are running now.
	InFlight int
	// Checks is how many checks completed.
	Checks uint64
	// Skipped is how many due checks did not run: the site's previous check
	// was still in flight, or the Runner fell a whole interval behind.
	Skipped uint64
	// Published is how many Results went to the Publisher.
	Published uint64
	// Unencodable is how many Results were dropped because they could not
	// be encoded (a number JSON cannot hold, such as NaN); each is logged.
	Unencodable uint64
	// Filtered is how many Results were not published because their status
	// is in SkipStatus.
	Filtered uint64
	// LagP50, LagP99 and LagMax describe how late checks started compared
	// with their schedule (bucketed: 1 ms resolution below 100 ms, 10 ms
	// below 1 s, 100 ms below 10 s).
	LagP50, LagP99, LagMax time.Duration
}

// Runner checks every site of a SiteSource on the site's own interval and
// publishes the Results.
type Runner struct {
	src    SiteSource
	pub    Publisher
	opts   RunnerOptions
	log    *slog.Logger
	prober *Prober
	skip   map[int]struct{}

	sites       atomic.Int64
	inFlight    atomic.Int64
	checks      atomic.Uint64
	skipped     atomic.Uint64
	published   atomic.Uint64
	unencodable atomic.Uint64
	filtered    atomic.Uint64
	lag         lagHistogram
}

// NewRunner returns a Runner that checks the sites of src and publishes to
// pub, with opts (zero fields take their defaults).
func NewRunner(src SiteSource, pub Publisher, opts RunnerOptions) *Runner {
	opts = opts.withDefaults()
	r := &Runner{
		src:    src,
		pub:    pub,
		opts:   opts,
		log:    opts.Logger,
		prober: NewProber(opts.Probe),
		skip:   make(map[int]struct{}, len(opts.SkipStatus)),
	}
	for _, c := range opts.SkipStatus {
		r.skip[c] = struct{}{}
	}
	return r
}

// Stats returns the Runner's counters.
func (r *Runner) Stats() RunnerStats {
	return RunnerStats{
		Sites:       int(r.sites.Load()),
		InFlight:    int(r.inFlight.Load()),
		Checks:      r.checks.Load(),
		Skipped:     r.skipped.Load(),
		Published:   r.published.Load(),
		Unencodable: r.unencodable.Load(),
		Filtered:    r.filtered.Load(),
		LagP50:      r.lag.quantile(0.50),
		LagP99:      r.lag.quantile(0.99),
		LagMax:      time.Duration(r.lag.max.Load()),
	}
}

// LagHistogram reports how late checks started against their schedule since
// the Runner was made, as a cumulative histogram: cumulative[i] counts the
// checks at most bounds[i] late (each bound is rounded up to the internal
// bucket edge: 1 ms below 100 ms, 10 ms below 1 s, 100 ms below 10 s), count
// all checks and sum their lags. Two readings subtracted give the lag over
// the time between them (a windowed histogram).
func (r *Runner) LagHistogram(bounds []time.Duration) (cumulative []uint64, count uint64, sum time.Duration) {
	cumulative = make([]uint64, len(bounds))
	var cum uint64
	b := 0
	for i := range r.lag.buckets {
		for b < len(bounds) && (i == lagBuckets-1 || lagUpper(i) > bounds[b]) {
			cumulative[b] = cum
			b++
		}
		cum += r.lag.buckets[i].Load()
	}
	for ; b < len(bounds); b++ {
		cumulative[b] = cum
	}
	return cumulative, cum, time.Duration(r.lag.sum.Load())
}

// Once checks every site of the source once, concurrently within the
// limit and without jitter, publishes the Results and returns. The caller
// flushes the Publisher. It returns an error when the sites cannot be
// loaded, or ctx's error when ctx ends before every site was checked (checks
// already started still finish and are published).
func (r *Runner) Once(ctx context.Context) error {
	sites, err := r.src.Sites(ctx)
	if err != nil {
		return fmt.Errorf("load sites: %w", err)
	}
	r.sites.Store(int64(len(sites)))
	work := context.WithoutCancel(ctx)
	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	defer r.prober.Close()
	for _, s := range sites {
		if why := unusable(s); why != "" {
			r.log.Warn("site skipped", "site_id", s.ID, "why", why)
			continue
		}
		t := NewTarget(s)
		if err := t.Err(); err != nil {
			r.log.Warn("invalid site", "site_id", s.ID, "url", redact.URL(s.URL, redact.KeepQuery), "err", err)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r.check(work, t, time.Now(), false)
		})
	}
	wg.Wait()
	return nil
}

// Run checks every site on its interval until ctx ends, then stops
// scheduling, lets the checks in flight finish (each bounded by its timeout),
// publishes their Results and returns nil. The site list is loaded at start,
// retried with backoff while the source fails, and reloaded every Refresh:
// added, removed and changed sites take effect without a restart; when a
// reload fails the last list is kept.
func (r *Runner) Run(ctx context.Context) error {
	lists := make(chan []contract.Site, 1)
	var loader sync.WaitGroup
	loader.Go(func() { r.load(ctx, lists) })

	s := scheduler{r: r, jobs: make(chan job), states: make(map[int64]*siteState)}
	s.run(ctx, lists)

	close(s.jobs)
	s.workers.Wait()
	loader.Wait()
	r.prober.Close()
	return nil
}

// load sends the site list to out at start (retrying with backoff until it
// succeeds or ctx ends) and then every Refresh. Only the newest list waits
// in out.
func (r *Runner) load(ctx context.Context, out chan []contract.Site) {
	send := func(sites []contract.Site) {
		select {
		case <-out: // drop a list the scheduler has not taken yet
		default:
		}
		out <- sites
	}
	backoff := retry.Backoff{Min: min(500*time.Millisecond, r.opts.Refresh), Max: r.opts.Refresh}
	for attempt := 0; ; attempt++ {
		sites, err := r.src.Sites(ctx)
		if err == nil {
			send(sites)
			break
		}
		if ctx.Err() != nil {
			return
		}
		d := backoff.Delay(attempt)
		r.log.Warn("load sites failed; retrying", "err", err, "attempt", attempt+1, "retry_in", d)
		if !retry.Sleep(ctx, d) {
			return
		}
	}
	tick := time.NewTicker(r.opts.Refresh)
	defer tick.Stop()
	var changed <-chan struct{} // nil (never ready) for a source that does not notify
	if n, ok := r.src.(SiteNotifier); ok {
		changed = n.SitesChanged()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-changed:
		}
		sites, err := r.src.Sites(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("reload sites failed; keeping the last list", "err", err)
			}
			continue
		}
		send(sites)
	}
}

// check runs one check of t, due at due, and hands the Result on; with
// slot, due is the check's slot and stamps the Result.
func (r *Runner) check(ctx context.Context, t *Target, due time.Time, slot bool) {
	r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	r.lag.observe(time.Since(due))
	res := r.prober.Probe(ctx, t)
	if slot {
		res.CheckedAt = due.UTC()
		res.CheckID = SlotCheckID(res.WebsiteID, r.opts.Probe.Probe, due)
		if res.StartedAt != nil {
			lag := float64(res.StartedAt.Sub(due).Microseconds()) / 1000
			res.LagMs = &lag
		}
	}
	r.checks.Add(1)
	if r.log.Enabled(ctx, slog.LevelDebug) {
		r.log.Debug("checked", "site_id", res.WebsiteID, "url", res.URL, "reason", res.Reason,
			"response_time_ms", res.ResponseTimeMs, "err", res.Error)
	}
	if res.StatusCode != nil {
		if _, ok := r.skip[*res.StatusCode]; ok {
			r.filtered.Add(1)
			return
		}
	}
	r.publish(ctx, &res)
}

// publish encodes res and hands it to the Publisher; a Result that cannot
// be encoded is logged and counted as Unencodable.
func (r *Runner) publish(ctx context.Context, res *contract.Result) {
	value, err := res.Encode()
	if err != nil {
		r.unencodable.Add(1)
		r.log.Error("cannot encode result; dropped", "site_id", res.WebsiteID, "err", err)
		return
	}
	r.pub.Publish(ctx, res.Key(), value)
	r.published.Add(1)
}

// siteState is one scheduled site. Only the scheduler goroutine touches it,
// except busy, which the check's worker clears.
type siteState struct {
	target   *Target
	interval time.Duration
	due      time.Time // next check, on the grid start + k*interval (monotonic)
	index    int       // in the heap
	busy     atomic.Bool
}

// job is one check handed to a worker.
type job struct {
	st     *siteState
	target *Target
	due    time.Time
}

// scheduler is Run's single scheduling goroutine: a min-heap of next-due
// times, and workers started on demand up to Concurrency.
type scheduler struct {
	r       *Runner
	heap    dueHeap
	states  map[int64]*siteState
	jobs    chan job
	workers sync.WaitGroup
	nwork   int
	skipped map[int64]string // sites of the last list skipped as unusable, warned about once
}

func (s *scheduler) run(ctx context.Context, lists <-chan []contract.Site) {
	work := context.WithoutCancel(ctx) // checks in flight outlive ctx
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for len(s.heap) > 0 {
			// A new site list is applied between two dispatches too: when
			// the checks cannot keep up, something is always due and the
			// select below is not reached.
			select {
			case sites := <-lists:
				s.apply(sites)
				continue
			default:
			}
			st := s.heap[0]
			now := time.Now()
			if st.due.After(now) {
				break
			}
			due := st.due
			next := due.Add(st.interval)
			if !next.After(now) {
				// A whole interval behind: skip the missed slots, stay on the grid.
				missed := now.Sub(due) / st.interval
				next = due.Add((missed + 1) * st.interval)
				s.r.skipped.Add(uint64(missed))
			}
			st.due = next
			heap.Fix(&s.heap, 0)
			if st.busy.Load() {
				s.r.skipped.Add(1)
				continue
			}
			st.busy.Store(true)
			if !s.dispatch(ctx, work, job{st: st, target: st.target, due: due}) {
				st.busy.Store(false)
				return
			}
		}
		if len(s.heap) > 0 {
			timer.Reset(time.Until(s.heap[0].due))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case sites := <-lists:
			s.apply(sites)
		case <-timer.C:
		}
	}
}

// dispatch hands j to an idle worker, starts a worker when none is idle and
// the limit allows, or else waits for one. It reports false when ctx ended.
func (s *scheduler) dispatch(ctx, work context.Context, j job) bool {
	select {
	case s.jobs <- j:
		return true
	default:
	}
	if s.nwork < s.r.opts.Concurrency {
		s.nwork++
		s.workers.Go(func() {
			s.r.runJob(work, j)
			for j := range s.jobs {
				s.r.runJob(work, j)
			}
		})
		return true
	}
	select {
	case s.jobs <- j:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *Runner) runJob(ctx context.Context, j job) {
	defer j.st.busy.Store(false)
	r.check(ctx, j.target, j.due, r.opts.Slots)
}

// unusable says why site cannot be checked at all ("" when it can): without
// a positive id its results could not be keyed, and without a URL there is
// nothing to check. Such a site (a hand-made row with NULLs) is skipped; any
// other invalid setting is checked, as ReasonInvalidConfig.
func unusable(site contract.Site) string {
	switch {
	case site.ID <= 0:
		return "no id"
	case site.URL == "":
		return "no url"
	}
	return ""
}

// apply makes the schedule follow a new site list.
func (s *scheduler) apply(sites []contract.Site) {
	now := time.Now()
	seen := make(map[int64]struct{}, len(sites))
	skipped := make(map[int64]string)
	var added, changed, removed int
	for _, site := range sites {
		if why := unusable(site); why != "" {
			// One warning per site while it stays unusable, not one per reload.
			if _, warned := s.skipped[site.ID]; !warned {
				s.r.log.Warn("site skipped", "site_id", site.ID, "why", why)
			}
			skipped[site.ID] = why
			continue
		}
		seen[site.ID] = struct{}{}
		st, ok := s.states[site.ID]
		if ok && st.target.Site() == site {
			continue
		}
		t := NewTarget(site)
		if err := t.Err(); err != nil {
			s.r.log.Warn("invalid site", "site_id", site.ID, "url", redact.URL(site.URL, redact.KeepQuery), "err", err)
		}
		iv := site.Interval
		if iv <= 0 {
			iv = FallbackInterval
		}
		if !ok {
			st = &siteState{target: t, interval: iv, due: s.firstDue(now, site.ID, iv)}
			heap.Push(&s.heap, st)
			s.states[site.ID] = st
			added++
			continue
		}
		// Same site, new settings: a new URL or regex applies from the next
		// check; a new interval restarts the schedule.
		st.target = t
		if iv != st.interval {
			st.interval = iv
			st.due = s.firstDue(now, site.ID, iv)
			heap.Fix(&s.heap, st.index)
		}
		changed++
	}
	for id, st := range s.states {
		if _, ok := seen[id]; !ok {
			heap.Remove(&s.heap, st.index)
			delete(s.states, id)
			removed++
		}
	}
	s.skipped = skipped
	s.r.sites.Store(int64(len(s.states)))
	if added+changed+removed > 0 {
		s.r.log.Info("sites loaded", "sites", len(s.states), "added", added, "changed", changed, "removed", removed)
	}
}

// firstDue is when a newly scheduled site is first checked: its next slot
// with Slots, else at a random offset within its interval, or now without
// jitter.
func (s *scheduler) firstDue(now time.Time, site int64, iv time.Duration) time.Time {
	if s.r.opts.Slots {
		return SlotAt(site, s.r.opts.Probe.Probe, iv, now)
	}
	if !s.r.opts.Jitter {
		return now
	}
	return now.Add(rand.N(iv))
}

// dueHeap orders sites by next due time (container/heap).
type dueHeap []*siteState

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *dueHeap) Push(x any) {
	st := x.(*siteState)
	st.index = len(*h)
	*h = append(*h, st)
}

func (h *dueHeap) Pop() any {
	old := *h
	n := len(old)
	st := old[n-1]
	old[n-1] = nil
	st.index = -1
	*h = old[:n-1]
	return st
}

// lagHistogram counts how late checks start, in fixed buckets with atomic
// counters: cheap enough to observe every check.
type lagHistogram struct {
	buckets [lagBuckets]atomic.Uint64
	max     atomic.Int64
	sum     atomic.Int64 // nanoseconds
}

// Buckets: [0,100) of 1 ms, then [100 ms, 1 s) of 10 ms, then [1 s, 10 s) of
// 100 ms, then one for 10 s and more.
const lagBuckets = 100 + 90 + 90 + 1

func lagBucket(d time.Duration) int {
	switch {
	case d < 0:
		return 0
	case d < 100*time.Millisecond:
		return int(d / time.Millisecond)
	case d < time.Second:
		return 100 + int((d-100*time.Millisecond)/(10*time.Millisecond))
	case d < 10*time.Second:
		return 190 + int((d-time.Second)/(100*time.Millisecond))
	default:
		return lagBuckets - 1
	}
}

// lagUpper is the upper bound of bucket i.
func lagUpper(i int) time.Duration {
	switch {
	case i < 100:
		return time.Duration(i+1) * time.Millisecond
	case i < 190:
		return 100*time.Millisecond + time.Duration(i-100+1)*10*time.Millisecond
	default:
		return time.Second + time.Duration(i-190+1)*100*time.Millisecond
	}
}

func (h *lagHistogram) observe(d time.Duration) {
	h.buckets[lagBucket(d)].Add(1)
	h.sum.Add(int64(max(d, 0)))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile returns the upper bound of the bucket holding quantile q (0 when
// nothing was observed; the maximum for the last bucket).
func (h *lagHistogram) quantile(q float64) time.Duration {
	var counts [lagBuckets]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.999999)
	rank = max(rank, 1)
	var cum uint64
	for i, c := range counts {
		cum += c
		if cum >= rank {
			if i == lagBuckets-1 {
				return time.Duration(h.max.Load())
			}
			return min(lagUpper(i), max(time.Duration(h.max.Load()), 0))
		}
	}
	return time.Duration(h.max.Load())
}
