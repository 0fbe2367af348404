package notify_test

// Integration tests of the delivery loop: the real PostgreSQL outbox
// (store.DB) and local receivers, every waiting time shortened.

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/notify"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// Compile-time check: the store is an outbox.
var _ notify.Outbox = (*store.DB)(nil)

// fastOptions are loop options with every wait shortened.
func fastOptions(log *slog.Logger) notify.LoopOptions {
	return notify.LoopOptions{
		Backoff:   retry.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		DBBackoff: retry.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		GiveUp:    time.Hour,
		Timeout:   2 * time.Second,
		Poll:      20 * time.Millisecond,
		Logger:    log,
	}
}

// logBuffer is a goroutine-safe log sink.
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

func newLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	t.Helper()
	b := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", b.String())
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// newServer is a local receiver with handler h.
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// startLoop runs l until the test ends and waits for Run to return.
func startLoop(t *testing.T, l *notify.Loop) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30 s of its context ending")
		}
	})
}

// incident inserts an incident (resolved or not) and enqueues its event for channels.
func incident(t *testing.T, db *store.DB, resolved bool, event alert.Event, chs ...alert.Channel) int64 {
	t.Helper()
	var id int64
	err := db.SQL().QueryRowContext(testContext(t), `
		INSERT INTO incidents (kind, started_at, resolved_at, reason, error, probes)
		VALUES ('down', now() - interval '1 minute', CASE WHEN $1 THEN now() END, 'http_status', 'HTTP 500', '{edge-1}')
		RETURNING id`, resolved).Scan(&id)
	if err != nil {
		t.Fatalf("insert incident: %v", err)
	}
	if _, err := db.Enqueue(testContext(t), id, event, chs); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return id
}

type row struct {
	attempts            int
	delivered, failed   bool
	lastError           string
	event, channel, key string
}

func rows(t *testing.T, db *store.DB) map[int64]row {
	t.Helper()
	rs, err := db.SQL().QueryContext(testContext(t), `
		SELECT id, attempts, delivered_at IS NOT NULL, failed_at IS NOT NULL, coalesce(last_error, ''), event, channel
		FROM notifications`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[int64]row{}
	for rs.Next() {
		var id int64
		var r row
		if err := rs.Scan(&id, &r.attempts, &r.delivered, &r.failed, &r.lastError, &r.event, &r.channel); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

func TestLoopDeliversAfterTheReceiverRecovers(t *testing.T) {
	db, _ := fixture.MigratedDB(t)
	log, _ := newLogger(t)
	rc := newReceiver(t, func(n int, _ request) (int, string) {
		if n <= 3 {
			return http.StatusInternalServerError, "busy"
		}
		return http.StatusOK, "ok"
	})
	incident(t, db, false, alert.EventDown, alert.ChannelWebhook)
	l := notify.NewLoop(db, []notify.Sender{notify.NewWebhook(rc.URL+"/hook", "k", notify.Options{})}, fastOptions(log))
	startLoop(t, l)

	testenv.Eventually(t, 20*time.Second, func() bool {
		for _, r := range rows(t, db) {
			return r.delivered
		}
		return false
	}, "the notification is not delivered")
	reqs := rc.got()
	if len(reqs) != 4 {
		t.Errorf("receiver got %d requests, want 4 (3 failures, then the delivery)", len(reqs))
	}
	for _, r := range reqs {
		if k := r.header.Get(notify.HeaderIdempotencyKey); k != reqs[0].header.Get(notify.HeaderIdempotencyKey) || k == "" {
			t.Errorf("idempotency keys differ between repeats: %q vs %q", k, reqs[0].header.Get(notify.HeaderIdempotencyKey))
		}
		if !bytes.Equal(r.body, reqs[0].body) {
			t.Error("bodies differ between repeats")
		}
	}
	for _, r := range rows(t, db) {
		if r.attempts != 4 || !strings.Contains(r.lastError, "HTTP 500") {
			t.Errorf("row %+v, want 4 attempts and the last error", r)
		}
	}
	st := l.Stats()
	if st.Delivered[alert.ChannelWebhook] != 1 || st.Retried[alert.ChannelWebhook] != 3 || st.Failed[alert.ChannelWebhook] != 0 {
		t.Errorf("stats %+v, want 1 delivered, 3 retried", st)
	}
}

func TestLoopGivesUpOnAReceiverThatNeverAnswers(t *testing.T) {
	db, _ := fixture.MigratedDB(t)
	log, logs := newLogger(t)
	var calls atomic.Int64
	stop := make(chan struct{})
	hang := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client hanging up
		select {                           // never answers
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop) }) // runs before the server's Close
	incident(t, db, false, alert.EventDown, alert.ChannelWebhook)
	opts := fastOptions(log)
	opts.Timeout = 150 * time.Millisecond
	opts.GiveUp = time.Second
	l := notify.NewLoop(db, []notify.Sender{notify.NewWebhook(hang.URL, "", notify.Options{})}, opts)
	startLoop(t, l)

	testenv.Eventually(t, 20*time.Second, func() bool {
		for _, r := range rows(t, db) {
			return r.failed
		}
		return false
	}, "the notification is not marked failed")
	for _, r := range rows(t, db) {
		if r.delivered || r.attempts < 2 || !strings.Contains(r.lastError, "deadline exceeded") {
			t.Errorf("row %+v, want failed after several timed-out attempts", r)
		}
	}
	if n := calls.Load(); n < 2 {
		t.Errorf("receiver called %d times, want several", n)
	}
	if st := l.Stats(); st.Failed[alert.ChannelWebhook] != 1 || st.Delivered[alert.ChannelWebhook] != 0 {
		t.Errorf("stats %+v, want 1 failed", st)
	}
	if !strings.Contains(logs.String(), "notification given up") {
		t.Error("the give-up is not logged")
	}
}

// TestTwoLoopsNeverDeliverOneNotificationTwice runs two loops, each with its
// own connection pool, on one database against a slow receiver that fails a
// third of the first attempts: every notification is delivered exactly once,
// and no notification is ever in flight twice at the same time.
func TestTwoLoopsNeverDeliverOneNotificationTwice(t *testing.T) {
	db, dbURL := fixture.MigratedDB(t)
	log, _ := newLogger(t)
	const n = 30
	for range n {
		incident(t, db, false, alert.EventDown, alert.ChannelWebhook)
	}
	var mu sync.Mutex
	inFlight := map[string]bool{}
	delivered := map[string]int{}
	attempts := map[string]int{}
	overlaps := 0
	rc := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(notify.HeaderIdempotencyKey)
		mu.Lock()
		if inFlight[key] {
			overlaps++
		}
		inFlight[key] = true
		attempts[key]++
		first := attempts[key] == 1
		mu.Unlock()
		time.Sleep(15 * time.Millisecond) // slow receiver: widens any race
		mu.Lock()
		inFlight[key] = false
		code := http.StatusOK
		if id, _ := strconv.Atoi(key); first && id%3 == 0 {
			code = http.StatusServiceUnavailable
		} else {
			delivered[key]++
		}
		mu.Unlock()
		w.WriteHeader(code)
	}))
	var loops []*notify.Loop
	for range 2 {
		pool, err := store.Open(testContext(t), dbURL, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pool.Close() })
		opts := fastOptions(log)
		opts.Workers = 4
		l := notify.NewLoop(pool, []notify.Sender{notify.NewWebhook(rc.URL, "", notify.Options{})}, opts)
		loops = append(loops, l)
		startLoop(t, l)
	}
	testenv.Eventually(t, 60*time.Second, func() bool {
		for _, r := range rows(t, db) {
			if !r.delivered {
				return false
			}
		}
		return true
	}, "not every notification is delivered")
	mu.Lock()
	defer mu.Unlock()
	retried := 0
	for _, a := range attempts {
		retried += a - 1
	}
	if retried != n/3 {
		t.Errorf("%d notifications were retried, want %d", retried, n/3)
	}
	if overlaps != 0 {
		t.Errorf("%d deliveries overlapped another of the same notification", overlaps)
	}
	if len(delivered) != n {
		t.Errorf("receiver got %d distinct notifications, want %d", len(delivered), n)
	}
	for key, c := range delivered {
		if c != 1 {
			t.Errorf("notification %s delivered %d times", key, c)
		}
	}
	var total uint64
	for _, l := range loops {
		total += l.Stats().Delivered[alert.ChannelWebhook]
	}
	if total != n {
		t.Errorf("loops counted %d deliveries, want %d", total, n)
	}
}

// TestWakeDeliversAtOnce: with a poll far longer than the test, a
// notification enqueued after the loop's first read goes out on Wake.
func TestWakeDeliversAtOnce(t *testing.T) {
	db, _ := fixture.MigratedDB(t)
	log, _ := newLogger(t)
	rc := newReceiver(t, ok)
	opts := fastOptions(log)
	opts.Poll = time.Hour
	l := notify.NewLoop(db, []notify.Sender{notify.NewWebhook(rc.URL, "", notify.Options{})}, opts)
	startLoop(t, l)
	// The first read happens at start; wait until it is behind us.
	testenv.Eventually(t, 10*time.Second, func() bool {
		var n int64
		_ = db.SQL().QueryRowContext(testContext(t), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%WITH due AS%'").Scan(&n)
		return n > 0
	}, "the loop never read the outbox")
	incident(t, db, false, alert.EventDown, alert.ChannelWebhook)
	l.Wake()
	testenv.Eventually(t, 10*time.Second, func() bool { return len(rc.got()) == 1 }, "not delivered after Wake")
}

// TestLoopDeliversWhatADeadProcessClaimed: a sync killed after claiming a
// notification (and perhaps after sending it) leaves it claimed; once the
// lease runs out another loop delivers it, with the same idempotency key.
func TestLoopDeliversWhatADeadProcessClaimed(t *testing.T) {
	db, _ := fixture.MigratedDB(t)
	log, _ := newLogger(t)
	rc := newReceiver(t, ok)
	incident(t, db, false, alert.EventDown, alert.ChannelWebhook)
	claimed, err := db.ClaimNotifications(testContext(t), 10, 500*time.Millisecond)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	// The dead process got as far as sending it.
	hook := notify.NewWebhook(rc.URL, "", notify.Options{})
	if err := hook.Send(testContext(t), notify.Delivery{Key: strconv.FormatInt(claimed[0].ID, 10), Message: claimed[0].Message}); err != nil {
		t.Fatal(err)
	}
	l := notify.NewLoop(db, []notify.Sender{hook}, fastOptions(log))
	startLoop(t, l)
	testenv.Eventually(t, 20*time.Second, func() bool { return l.Stats().Delivered[alert.ChannelWebhook] == 1 }, "not delivered after the lease")
	reqs := rc.got()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests, want 2 (the dead process's and the repeat)", len(reqs))
	}
	if a, b := reqs[0].header.Get(notify.HeaderIdempotencyKey), reqs[1].header.Get(notify.HeaderIdempotencyKey); a != b || !bytes.Equal(reqs[0].body, reqs[1].body) {
		t.Errorf("the repeat differs: key %q vs %q", a, b)
	}
	for _, r := range rows(t, db) {
		if !r.delivered || r.attempts != 2 {
			t.Errorf("row %+v, want delivered at attempt 2", r)
		}
	}
}

// TestRecoveredFollowsItsDown: a quick outage enqueues down and recovered
// together; PagerDuty fails the trigger twice, and still gets the trigger
// before the resolve, once each.
func TestRecoveredFollowsItsDown(t *testing.T) {
	db, _ := fixture.MigratedDB(t)
	log, _ := newLogger(t)
	var triggers atomic.Int64
	rc := newReceiver(t, func(_ int, r request) (int, string) {
		if strings.Contains(string(r.body), `"trigger"`) && triggers.Add(1) <= 2 {
			return http.StatusTooManyRequests, "slow down"
		}
		return http.StatusAccepted, `{"status":"success"}`
	})
	id := incident(t, db, true, alert.EventDown, alert.ChannelPagerDuty)
	if _, err := db.Enqueue(testContext(t), id, alert.EventRecovered, nil); err != nil {
		t.Fatal(err)
	}
	l := notify.NewLoop(db, []notify.Sender{notify.NewPagerDuty(rc.URL, "routing-key", notify.Options{})}, fastOptions(log))
	startLoop(t, l)
	testenv.Eventually(t, 20*time.Second, func() bool {
		rs := rows(t, db)
		for _, r := range rs {
			if !r.delivered {
				return false
			}
		}
		return len(rs) == 2
	}, "down and recovered are not both delivered")
	var actions []string
	for _, r := range rc.got() {
		switch {
		case strings.Contains(string(r.body), `"trigger"`):
			actions = append(actions, "trigger")
		case strings.Contains(string(r.body), `"resolve"`):
			actions = append(actions, "resolve")
		}
	}
	if got, want := strings.Join(actions, ","), "trigger,trigger,trigger,resolve"; got != want {
		t.Errorf("receiver got %s, want %s", got, want)
	}
}

func TestHeartbeatStopsWhenTheDatabaseIsGone(t *testing.T) {
	db, dbURL := fixture.MigratedDB(t)
	log, _ := newLogger(t)
	var beats atomic.Int64
	hb := newReceiver(t, func(_ int, r request) (int, string) {
		if r.method == http.MethodGet && r.path == "/ping/uuid-secret" {
			beats.Add(1)
		}
		return http.StatusOK, "OK"
	})
	opts := fastOptions(log)
	opts.HeartbeatURL = hb.URL + "/ping/uuid-secret"
	opts.HeartbeatInterval = 50 * time.Millisecond
	opts.DBTimeout = 2 * time.Second
	l := notify.NewLoop(db, nil, opts)
	startLoop(t, l)
	testenv.Eventually(t, 10*time.Second, func() bool { return beats.Load() >= 3 }, "no heartbeats while healthy")

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	testenv.DropDatabase(t, strings.TrimPrefix(u.Path, "/"))
	testenv.Eventually(t, 10*time.Second, func() bool { return l.Stats().ClaimErrors > 0 }, "the loop did not notice the database is gone")
	before := beats.Load()
	testenv.Eventually(t, 10*time.Second, func() bool { return l.Stats().HeartbeatsSkipped >= 5 }, "heartbeats are not withheld")
	// At most one heartbeat was already on its way when the claim failed.
	if after := beats.Load(); after > before+1 {
		t.Errorf("%d heartbeats after the database went away", after-before)
	}
}

// TestNoSecretInLogs runs the loop against receivers that fail and echo what
// they got, and checks that the log never holds a secret, only the redacted
// receivers.
func TestNoSecretInLogs(t *testing.T) {
	const (
		slackPath = "/services/T0SECRET/B0SECRET/slacktokenvalue"
		hookPath  = "/hooks/webhook-path-secret"
		hmacKey   = "hmac-secret-value"
		pdKey     = "pagerduty-routing-key-value"
		beatPath  = "/ping/heartbeat-uuid-secret"
	)
	db, _ := fixture.MigratedDB(t)
	log, logs := newLogger(t)
	echo := newReceiver(t, func(_ int, r request) (int, string) {
		return http.StatusInternalServerError, r.path + " " + string(r.body) + " " + r.header.Get(notify.HeaderSignature)
	})
	senders := []notify.Sender{
		notify.NewWebhook(echo.URL+hookPath+"?sig="+hmacKey, hmacKey, notify.Options{}),
		notify.NewSlack(echo.URL+slackPath, notify.Options{}),
		notify.NewPagerDuty(echo.URL+"/v2/enqueue", pdKey, notify.Options{}),
	}
	incident(t, db, false, alert.EventDown, alert.ChannelWebhook, alert.ChannelSlack, alert.ChannelPagerDuty)
	opts := fastOptions(log)
	opts.HeartbeatURL = echo.URL + beatPath
	opts.HeartbeatInterval = 30 * time.Millisecond
	opts.GiveUp = 500 * time.Millisecond
	l := notify.NewLoop(db, senders, opts)
	startLoop(t, l)
	testenv.Eventually(t, 20*time.Second, func() bool {
		st := l.Stats()
		return st.Failed[alert.ChannelWebhook] == 1 && st.Failed[alert.ChannelSlack] == 1 &&
			st.Failed[alert.ChannelPagerDuty] == 1 && st.HeartbeatErrors > 0
	}, "the channels have not all failed")
	out := logs.String()
	for _, s := range []string{"T0SECRET", "slacktokenvalue", "webhook-path-secret", hmacKey, pdKey, "heartbeat-uuid-secret"} {
		if strings.Contains(out, s) {
			t.Errorf("the log holds the secret %q", s)
		}
	}
	for _, r := range rows(t, db) {
		for _, s := range []string{"slacktokenvalue", "webhook-path-secret", hmacKey, pdKey} {
			if strings.Contains(r.lastError, s) {
				t.Errorf("last_error %q holds the secret %q", r.lastError, s)
			}
		}
	}
	if !strings.Contains(out, "receiver="+echo.URL) || !strings.Contains(out, "HTTP 500") {
		t.Errorf("the log does not name the redacted receiver %s and its answer", echo.URL)
	}
}

// TestLoopFailsAnUnreadablePayloadAndDeliversTheRest: a notification whose
// payload does not decode (written by hand) is marked failed with the
// reason, with the recovered waiting behind it, and counted; the good ones
// claimed with it are delivered by that same claim, not after a lease.
func TestLoopFailsAnUnreadablePayloadAndDeliversTheRest(t *testing.T) {
	db, _ := fixture.MigratedDB(t)
	log, logs := newLogger(t)
	rc := newReceiver(t, ok)
	incident(t, db, false, alert.EventDown, alert.ChannelWebhook)
	bad := incident(t, db, true, alert.EventDown, alert.ChannelWebhook)
	if _, err := db.Enqueue(testContext(t), bad, alert.EventRecovered, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(testContext(t), `UPDATE notifications SET payload = '{"v": 1, "started_at": "yesterday"}'
		WHERE incident_id = $1 AND event = 'down'`, bad); err != nil {
		t.Fatal(err)
	}
	incident(t, db, false, alert.EventDown, alert.ChannelWebhook)
	opts := fastOptions(log)
	opts.Lease = time.Minute // a good row delivered only after a lease would take a minute
	l := notify.NewLoop(db, []notify.Sender{notify.NewWebhook(rc.URL, "", notify.Options{})}, opts)
	startLoop(t, l)

	testenv.Eventually(t, 20*time.Second, func() bool {
		done := 0
		for _, r := range rows(t, db) {
			if r.delivered || r.failed {
				done++
			}
		}
		return done == 4
	}, "not every notification is delivered or failed")
	delivered := 0
	for id, r := range rows(t, db) {
		switch {
		case r.delivered:
			delivered++
			if r.attempts != 1 {
				t.Errorf("notification %d delivered at attempt %d, want 1 (the claim that met the bad one)", id, r.attempts)
			}
		case r.event == "down":
			if !strings.Contains(r.lastError, "unreadable payload") {
				t.Errorf("the bad notification's last error %q, want the reason", r.lastError)
			}
		case !strings.Contains(r.lastError, "down notification of this incident failed"):
			t.Errorf("the recovered of the bad one: last error %q, want failed with its down", r.lastError)
		}
	}
	if delivered != 2 || len(rc.got()) != 2 {
		t.Errorf("%d delivered, receiver got %d requests, want 2 and 2", delivered, len(rc.got()))
	}
	if n := l.Stats().Unreadable; n != 1 {
		t.Errorf("Stats().Unreadable = %d, want 1", n)
	}
	if !strings.Contains(logs.String(), "unreadable payload marked failed") {
		t.Error("the unreadable notification is not logged")
	}
}

// TestLoopMarkOutlastsASlowDatabase: while a delivered notification is
// marked, another connection holds a lock on its row for longer than one
// outbox call may take (DBTimeout): the loop keeps trying within the lease,
// records the delivery once the lock goes, and never sends it a second time.
func TestLoopMarkOutlastsASlowDatabase(t *testing.T) {
	db, dbURL := fixture.MigratedDB(t)
	log, _ := newLogger(t)
	incident(t, db, false, alert.EventDown, alert.ChannelWebhook)
	var id int64
	for k := range rows(t, db) {
		id = k
	}
	locker := testenv.OpenDB(t, dbURL)
	locked := make(chan *sql.Tx, 1)
	rc := newReceiver(t, func(n int, _ request) (int, string) {
		if n == 1 { // the row is claimed: lock it before answering
			tx, err := locker.BeginTx(context.Background(), nil)
			if err == nil {
				_, err = tx.Exec(`SELECT 1 FROM notifications WHERE id = $1 FOR UPDATE`, id)
			}
			if err != nil {
				t.Errorf("lock the notification: %v", err)
			}
			locked <- tx
		}
		return http.StatusOK, "ok"
	})
	opts := fastOptions(log)
	opts.Timeout = 500 * time.Millisecond
	opts.DBTimeout = 300 * time.Millisecond
	l := notify.NewLoop(db, []notify.Sender{notify.NewWebhook(rc.URL, "", notify.Options{})}, opts)
	startLoop(t, l)

	var tx *sql.Tx
	select {
	case tx = <-locked:
	case <-time.After(20 * time.Second):
		t.Fatal("the notification is not sent")
	}
	// The mark waits behind the lock; keep it waiting three DBTimeouts.
	testenv.Eventually(t, 10*time.Second, func() bool {
		var n int
		err := locker.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'
			  AND query LIKE '%SET delivered_at%'`).Scan(&n)
		return err == nil && n > 0
	}, "the mark does not wait behind the lock")
	time.Sleep(3 * opts.DBTimeout) // the slow database
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { return rows(t, db)[id].delivered }, "the delivery is not recorded")
	if r := rows(t, db)[id]; r.attempts != 1 {
		t.Errorf("delivered at attempt %d, want 1", r.attempts)
	}
	if n := len(rc.got()); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
	if st := l.Stats(); st.MarkRetries == 0 || st.Unrecorded != 0 || st.Delivered[alert.ChannelWebhook] != 1 {
		t.Errorf("stats %+v, want the mark retried, then the delivery recorded", st)
	}
}
