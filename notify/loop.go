package notify

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/internal/retry"
)

// Outbox is the notification outbox the loop works on; *store.DB is one.
type Outbox interface {
	// ClaimNotifications takes up to limit due notifications for lease.
	ClaimNotifications(ctx context.Context, limit int, lease time.Duration) ([]alert.Notification, error)
	// MarkDelivered records a delivery; false when the attempt is stale.
	MarkDelivered(ctx context.Context, id int64, attempt int) (bool, error)
	// RetryNotification reschedules after delay, or fails the notification
	// once giveUp has passed since it was enqueued (failed true).
	RetryNotification(ctx context.Context, id int64, attempt int, delay, giveUp time.Duration, errText string) (failed bool, err error)
	// UnreadableNotifications counts the notifications its claims marked
	// failed, not returned, because their payload did not decode.
	UnreadableNotifications() int64
}

// LoopOptions tune the delivery loop. Zero values take the defaults shown.
type LoopOptions struct {
	// Backoff between the attempts of one notification; default 5 s doubling
	// up to 10 min. A receiver's Retry-After (in seconds) lengthens a wait,
	// never beyond Max.
	Backoff retry.Backoff
	// GiveUp: a notification still failing this long after it was enqueued
	// is marked failed; default 24 h.
	GiveUp time.Duration
	// Timeout bounds one delivery attempt; default 10 s.
	Timeout time.Duration
	// Lease is how long a claimed notification is kept from other loops. It
	// must cover the send and its mark: at least Timeout + DBTimeout +
	// LeaseGuard; a shorter one (or 0) is Timeout + DBTimeout + 10 s. After
	// a send, the loop keeps trying to record it (each try bounded by
	// DBTimeout) until LeaseGuard before the lease ends, so a slow database
	// delays the mark instead of letting another loop send it again.
	Lease time.Duration
	// Poll is how often the outbox is read; default 500 ms.
	Poll time.Duration
	// Workers is how many deliveries run at once; default 8.
	Workers int
	// DBTimeout bounds one outbox call; default 30 s.
	DBTimeout time.Duration
	// DBBackoff is the wait after a failed claim; default 1 s up to 30 s.
	DBBackoff retry.Backoff
	// HeartbeatURL, when set, is GET every HeartbeatInterval (default 1 min)
	// while the loop is healthy: its last claim, a write to the outbox,
	// succeeded within the interval and Healthy (when set) reports true.
	HeartbeatURL      string
	HeartbeatInterval time.Duration
	// Healthy, when set, is an extra condition of the heartbeat (e.g. sync's
	// writes of results succeed).
	Healthy func() bool
	// HTTP are the options of the heartbeat's requests.
	HTTP Options
	// Logger receives one line per retry, failure and heartbeat problem;
	// nil means slog.Default().
	Logger *slog.Logger
}

// LeaseGuard is how long before its lease ends the loop stops trying to
// record a delivery (the lease is counted from before the claim, so this is
// slack for the mark's commit and clock rates); LeaseMargin is what the
// default lease adds to Timeout + DBTimeout.
const (
	LeaseGuard  = time.Second
	LeaseMargin = 10 * time.Second
)

func (o *LoopOptions) defaults() {
	if o.Backoff.Min <= 0 {
		o.Backoff.Min = 5 * time.Second
	}
	if o.Backoff.Max <= 0 {
		o.Backoff.Max = 10 * time.Minute
	}
	if o.GiveUp <= 0 {
		o.GiveUp = 24 * time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.DBTimeout <= 0 {
		o.DBTimeout = 30 * time.Second
	}
	if o.Lease < o.Timeout+o.DBTimeout+LeaseGuard {
		o.Lease = o.Timeout + o.DBTimeout + LeaseMargin
	}
	if o.DBBackoff.Min <= 0 {
		o.DBBackoff = retry.Backoff{Min: time.Second, Max: 30 * time.Second}
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Stats are the loop's counters since it was made.
type Stats struct {
	// Delivered, Retried and Failed count attempts that delivered, attempts
	// that failed and were rescheduled, and notifications given up on, by
	// channel.
	Delivered, Retried, Failed map[alert.Channel]uint64
	// Stale counts deliveries whose mark found the attempt stale (the lease
	// ran out first: the notification may be delivered again).
	Stale uint64
	// Unrecorded counts deliveries the loop could not record within their
	// lease (the database failed or was too slow): they will be sent again.
	Unrecorded uint64
	// MarkRetries counts the repeated tries of recording a delivery.
	MarkRetries uint64
	// ClaimErrors counts failed reads of the outbox.
	ClaimErrors uint64
	// Unreadable counts the notifications the outbox's claims failed
	// because their payload did not decode (never sent).
	Unreadable uint64
	// Heartbeats and HeartbeatErrors count heartbeat GETs that succeeded and
	// failed; HeartbeatsSkipped counts those not sent because the loop was
	// not healthy.
	Heartbeats, HeartbeatErrors, HeartbeatsSkipped uint64
}

// Loop delivers the outbox's notifications through the senders. Make it with
// NewLoop, run it with Run; Stats is safe to call meanwhile.
type Loop struct {
	outbox  Outbox
	senders map[alert.Channel]Sender
	opts    LoopOptions
	log     *slog.Logger

	wake chan struct{} // Wake's signal, buffered 1

	mu                          sync.Mutex
	delivered, retried, failed  map[alert.Channel]uint64
	stale, claimErrors          atomic.Uint64
	unrecorded, markRetries     atomic.Uint64
	beats, beatErrors, beatSkip atomic.Uint64
	lastClaimOK                 atomic.Int64 // unix nanoseconds of the last successful claim, 0 after a failed one
}

// NewLoop returns a loop over outbox delivering through senders (one per
// channel; a notification of a channel without a sender fails its attempts
// until it is given up on).
func NewLoop(outbox Outbox, senders []Sender, opts LoopOptions) *Loop {
	opts.defaults()
	l := &Loop{outbox: outbox, senders: map[alert.Channel]Sender{}, opts: opts,
		log: opts.Logger, wake: make(chan struct{}, 1),
		delivered: map[alert.Channel]uint64{}, retried: map[alert.Channel]uint64{}, failed: map[alert.Channel]uint64{}}
	for _, s := range senders {
		l.senders[s.Channel()] = s
		l.delivered[s.Channel()], l.retried[s.Channel()], l.failed[s.Channel()] = 0, 0, 0
	}
	return l
}

// Wake makes the loop read the outbox now instead of at its next poll; call
// it after committing a transaction that enqueued notifications, so they go
// out at once. It never blocks; a loop in another process still finds them
// at its next poll.
func (l *Loop) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Stats returns a copy of the counters.
func (l *Loop) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{
		Delivered: maps.Clone(l.delivered), Retried: maps.Clone(l.retried), Failed: maps.Clone(l.failed),
		Stale: l.stale.Load(), ClaimErrors: l.claimErrors.Load(), Unreadable: uint64(max(0, l.outbox.UnreadableNotifications())),
		Unrecorded: l.unrecorded.Load(), MarkRetries: l.markRetries.Load(),
		Heartbeats: l.beats.Load(), HeartbeatErrors: l.beatErrors.Load(), HeartbeatsSkipped: l.beatSkip.Load(),
	}
}

func (l *Loop) count(m map[alert.Channel]uint64, ch alert.Channel) {
	l.mu.Lock()
	m[ch]++
	l.mu.Unlock()
}

// Run claims and delivers notifications until ctx ends, then waits for the
// deliveries in flight (each bounded by Timeout) so their outcome is
// recorded, and returns nil. Outbox errors are logged and retried with
// backoff; they stop the heartbeat, never the loop.
func (l *Loop) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if l.opts.HeartbeatURL != "" {
		wg.Go(func() { l.heartbeat(ctx) })
	}
	// inFlight counts the deliveries whose end (on done) is not yet counted:
	// at most Workers, since only that many free slots are ever claimed.
	done := make(chan struct{}, l.opts.Workers)
	inFlight := 0
	failures := 0
	unreadable := l.outbox.UnreadableNotifications()
	for ctx.Err() == nil {
		for drained := false; !drained; {
			select {
			case <-done:
				inFlight--
			default:
				drained = true
			}
		}
		free := l.opts.Workers - inFlight
		var claimed []alert.Notification
		var markUntil time.Time
		if free > 0 {
			// The lease is counted from before the claim: the database's
			// now() at the claim is later.
			markUntil = time.Now().Add(l.opts.Lease - LeaseGuard)
			cctx, cancel := context.WithTimeout(ctx, l.opts.DBTimeout)
			ns, err := l.outbox.ClaimNotifications(cctx, free, l.opts.Lease)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				l.lastClaimOK.Store(0)
				l.claimErrors.Add(1)
				wait := l.opts.DBBackoff.Delay(failures)
				failures++
				l.log.Warn("cannot read the notification outbox", "err", err, "retry_in", wait)
				if !l.waitFor(ctx, wait, done, &inFlight) {
					break
				}
				continue
			}
			failures = 0
			l.lastClaimOK.Store(time.Now().UnixNano())
			claimed = ns
			unreadable = l.logUnreadable(unreadable)
		}
		for _, n := range claimed {
			inFlight++
			wg.Go(func() {
				defer func() { done <- struct{}{} }()
				l.deliver(ctx, n, markUntil)
			})
		}
		if len(claimed) > 0 && len(claimed) == free {
			continue // more may be due at once
		}
		if !l.waitFor(ctx, l.opts.Poll, done, &inFlight) {
			break
		}
	}
	return nil
}

// logUnreadable logs the notifications failed for an unreadable payload
// since the count was seen, and returns the count now.
func (l *Loop) logUnreadable(seen int64) int64 {
	n := l.outbox.UnreadableNotifications()
	if n > seen {
		l.log.Error("notifications with an unreadable payload marked failed, not sent; see sitestat incidents",
			"count", n-seen)
	}
	return n
}

// waitFor waits d, counting finished deliveries; Wake, or a finished
// delivery when every worker was busy, ends the wait early. It reports false
// when ctx ended.
func (l *Loop) waitFor(ctx context.Context, d time.Duration, done <-chan struct{}, inFlight *int) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-l.wake:
			return true
		case <-done:
			*inFlight--
			if *inFlight == l.opts.Workers-1 {
				return true
			}
		}
	}
}

// deliver makes one attempt of n and records its outcome; a delivery is
// recorded by markUntil (within n's lease) or not at all. The attempt and its
// mark outlive ctx (bounded by Timeout and markUntil), so a stop does not
// leave a delivered notification unmarked.
func (l *Loop) deliver(ctx context.Context, n alert.Notification, markUntil time.Time) {
	base := context.WithoutCancel(ctx)
	log := l.log.With("notification_id", n.ID, "incident_id", n.IncidentID, "event", string(n.Event),
		"channel", string(n.Channel), "attempt", n.Attempt)
	var err error
	s, ok := l.senders[n.Channel]
	if !ok {
		err = errors.New("channel " + string(n.Channel) + " is not configured")
	} else {
		log = log.With("receiver", s.Receiver())
		sctx, cancel := context.WithTimeout(base, l.opts.Timeout)
		err = s.Send(sctx, Delivery{Key: strconv.FormatInt(n.ID, 10), Message: n.Message})
		cancel()
	}
	if err == nil {
		marked, merr := l.markDelivered(base, log, n, markUntil)
		switch {
		case merr != nil:
			// The lease runs out and it is sent again: at least once.
			l.unrecorded.Add(1)
			log.Warn("delivered, but cannot record it within its lease; it will be sent again", "err", merr)
		case !marked:
			l.stale.Add(1)
			l.unrecorded.Add(1)
			log.Warn("delivered after its lease ran out; another attempt may repeat it")
		default:
			l.count(l.delivered, n.Channel)
			log.Info("notification delivered")
		}
		return
	}
	mctx, cancel := context.WithTimeout(base, l.opts.DBTimeout)
	defer cancel()
	delay := l.opts.Backoff.Delay(n.Attempt - 1)
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > delay {
		delay = min(se.RetryAfter, l.opts.Backoff.Max)
	}
	failed, merr := l.outbox.RetryNotification(mctx, n.ID, n.Attempt, delay, l.opts.GiveUp, err.Error())
	switch {
	case merr != nil:
		log.Warn("notification failed, and cannot record it; retrying after its lease", "err", err, "record_err", merr)
	case failed:
		l.count(l.failed, n.Channel)
		log.Error("notification given up: still failing after the give-up time", "err", err, "give_up", l.opts.GiveUp)
	default:
		l.count(l.retried, n.Channel)
		log.Warn("notification failed, will retry", "err", err, "retry_in", delay)
	}
}

// markDelivered records the delivery of n, trying again after a failure
// (each try bounded by DBTimeout) until until; it returns the last error when
// no try succeeded by then.
func (l *Loop) markDelivered(ctx context.Context, log *slog.Logger, n alert.Notification, until time.Time) (bool, error) {
	for try := 0; ; try++ {
		deadline := time.Now().Add(l.opts.DBTimeout)
		if until.Before(deadline) {
			deadline = until
		}
		tctx, cancel := context.WithDeadline(ctx, deadline)
		marked, err := l.outbox.MarkDelivered(tctx, n.ID, n.Attempt)
		cancel()
		if err == nil {
			return marked, nil
		}
		wait := l.opts.DBBackoff.Delay(try)
		if time.Until(until) < wait {
			return false, err
		}
		l.markRetries.Add(1)
		log.Warn("delivered, cannot record it yet; retrying within its lease", "err", err, "retry_in", wait)
		if !retry.Sleep(ctx, wait) {
			return false, err
		}
	}
}

// healthy reports whether the loop's last claim succeeded within the
// heartbeat interval (or three polls, if longer) and the extra condition
// holds.
func (l *Loop) healthy() bool {
	last := l.lastClaimOK.Load()
	if last == 0 || time.Since(time.Unix(0, last)) > max(l.opts.HeartbeatInterval, 3*l.opts.Poll) {
		return false
	}
	return l.opts.Healthy == nil || l.opts.Healthy()
}

// heartbeat GETs HeartbeatURL every HeartbeatInterval while healthy, the
// first as soon as the loop is.
func (l *Loop) heartbeat(ctx context.Context) {
	recv := Redact(l.opts.HeartbeatURL)
	first := true
	for {
		if first {
			// Wait (at most an interval) for the first successful claim.
			deadline := time.Now().Add(l.opts.HeartbeatInterval)
			for !l.healthy() && time.Now().Before(deadline) {
				if !retry.Sleep(ctx, min(l.opts.Poll, l.opts.HeartbeatInterval)) {
					return
				}
			}
			first = false
		}
		if l.healthy() {
			hctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
			err := Ping(hctx, l.opts.HTTP, l.opts.HeartbeatURL)
			cancel()
			if err != nil && ctx.Err() == nil {
				l.beatErrors.Add(1)
				l.log.Warn("heartbeat failed", "receiver", recv, "err", err)
			} else if err == nil {
				l.beats.Add(1)
			}
		} else {
			l.beatSkip.Add(1)
			l.log.Warn("heartbeat withheld: the notification outbox is unreachable", "receiver", recv)
		}
		if !retry.Sleep(ctx, l.opts.HeartbeatInterval) {
			return
		}
	}
}
