package sink_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/sink"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// The store, with the drift check of what sync writes, is the Writer sync
// runs with.
var _ sink.Writer = schema.SyncDB{}

// env is one integration test's world: its own database (migrated), its own
// results and dead-letter topics.
type env struct {
	t        testing.TB
	opts     kafka.Options
	dbURL    string
	db       *store.DB
	sql      *sql.DB
	topic    string
	dlqTopic string
	parts    int
}

func newEnv(t testing.TB, partitions int) *env {
	t.Helper()
	opts := fixture.Options(t)
	db, dbURL := fixture.MigratedDB(t)
	e := &env{t: t, opts: opts, dbURL: dbURL, db: db, sql: db.SQL(), parts: partitions}
	e.topic = fixture.Topic(t, opts, int32(partitions), nil)
	e.dlqTopic = fixture.Topic(t, opts, 1, nil)
	return e
}

// otherDatabase returns a second fresh database, migrated, with websites of
// the given ids.
func (e *env) otherDatabase(ids []int64) *store.DB {
	e.t.Helper()
	db, _ := fixture.MigratedDB(e.t)
	for _, id := range ids {
		if _, err := db.SQL().Exec("INSERT INTO websites (id, url) VALUES ($1, 'https://x.example/')", id); err != nil {
			e.t.Fatalf("add site: %v", err)
		}
	}
	return db
}

// addSites inserts n websites and returns their ids.
func (e *env) addSites(n int) []int64 {
	e.t.Helper()
	var ids []int64
	for i := range n {
		var id int64
		err := e.sql.QueryRow("INSERT INTO websites (url) VALUES ($1) RETURNING id",
			fmt.Sprintf("https://site%d.example/", i)).Scan(&id)
		if err != nil {
			e.t.Fatalf("add site: %v", err)
		}
		ids = append(ids, id)
	}
	return ids
}

// syncOptions are what `sitestat sync` wires: the consumer's and the sink's.
type syncOptions struct {
	consumer kafka.ConsumerOptions
	sink     sink.Options
}

// newSync returns a Sync on the env's topics and a consumer in group group
// (closed at cleanup), wired as `sitestat sync` wires them.
func (e *env) newSync(group string, o syncOptions) (*sink.Sync, *kafka.Consumer) {
	e.t.Helper()
	if o.sink.Logger == nil {
		o.sink.Logger = testLogger(e.t)
	}
	o.consumer.Group, o.consumer.Topics, o.consumer.Logger = group, []string{e.topic}, o.sink.Logger
	c, err := kafka.NewConsumer(e.opts, o.consumer)
	if err != nil {
		e.t.Fatalf("new consumer: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	dlq, err := deadletter.NewWriter(e.opts, e.dlqTopic, o.sink.Logger)
	if err != nil {
		e.t.Fatalf("new dead-letter writer: %v", err)
	}
	e.t.Cleanup(func() { dlq.Close() })
	return sink.New(schema.SyncDB{DB: e.db}, dlq, o.sink), c
}

// running is a Sync being Run in the background.
type running struct {
	t      testing.TB
	s      *sink.Sync
	c      *kafka.Consumer
	cancel context.CancelFunc
	done   chan error

	once sync.Once
	err  error
}

// start runs a new Sync in group until stop or the end of the test.
func (e *env) start(group string, o syncOptions) *running {
	e.t.Helper()
	s, c := e.newSync(group, o)
	return e.run(s, c)
}

func (e *env) run(s *sink.Sync, c *kafka.Consumer) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: e.t, s: s, c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx, c) }()
	e.t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels the Run, waits for it to return, leaves the group and
// returns Run's error.
func (r *running) stop() error {
	r.t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(30 * time.Second):
			r.err = errors.New("Run did not return within 30s of cancel")
		}
		r.c.Close()
	})
	return r.err
}

// wait waits for Run to return by itself and returns its error.
func (r *running) wait(timeout time.Duration) error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.once.Do(func() { r.err = err; r.c.Close() })
		return err
	case <-time.After(timeout):
		r.t.Fatalf("Run did not return within %s", timeout)
		return nil
	}
}

// produce sends the records and waits for the broker's acks.
func (e *env) produce(recs []kafka.Record) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for len(recs) > 0 {
		n := min(len(recs), 5000)
		if err := kafka.Produce(ctx, e.opts, recs[:n]); err != nil {
			e.t.Fatalf("produce: %v", err)
		}
		recs = recs[n:]
	}
}

// message is a record of the results topic.
func (e *env) message(key, value []byte) kafka.Record {
	return kafka.Record{Topic: e.topic, Key: key, Value: value}
}

// resultMessage is r as `check` produces it.
func (e *env) resultMessage(r contract.Result) kafka.Record {
	e.t.Helper()
	return fixture.Record(e.t, e.topic, r)
}

func (e *env) produceResults(rs []contract.Result) {
	e.t.Helper()
	recs := make([]kafka.Record, len(rs))
	for i, r := range rs {
		recs[i] = e.resultMessage(r)
	}
	e.produce(recs)
}

// count returns the number of rows of website_status.
func (e *env) count() int {
	e.t.Helper()
	var n int
	if err := e.sql.QueryRow("SELECT count(*) FROM website_status").Scan(&n); err != nil {
		e.t.Logf("count rows: %v", err)
		return -1
	}
	return n
}

// waitRows waits until website_status holds want rows.
func (e *env) waitRows(want int, timeout time.Duration) {
	e.t.Helper()
	testenv.Eventually(e.t, timeout, func() bool { return e.count() >= want }, "%d rows in website_status (have %d)", want, e.count())
	if got := e.count(); got != want {
		e.t.Fatalf("website_status holds %d rows, want %d", got, want)
	}
}

// assertExactlyOnce checks that website_status holds each of checkIDs once
// and nothing else.
func (e *env) assertExactlyOnce(checkIDs map[string]bool) {
	e.t.Helper()
	var n, distinct int
	if err := e.sql.QueryRow("SELECT count(*), count(DISTINCT check_id) FROM website_status").Scan(&n, &distinct); err != nil {
		e.t.Fatalf("count: %v", err)
	}
	if n != len(checkIDs) || distinct != len(checkIDs) {
		e.t.Errorf("website_status: %d rows, %d distinct check ids; want %d of each", n, distinct, len(checkIDs))
	}
	rows, err := e.sql.Query("SELECT check_id FROM website_status")
	if err != nil {
		e.t.Fatalf("query: %v", err)
	}
	defer rows.Close()
	missing := len(checkIDs)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		if !checkIDs[id] {
			e.t.Errorf("unexpected check id %s stored", id)
			continue
		}
		missing--
	}
	if missing != 0 {
		e.t.Errorf("%d produced check ids are not stored", missing)
	}
}

// readDLQ waits until the dead-letter topic holds n messages and returns
// them parsed, in offset order; more than n is an error.
func (e *env) readDLQ(n int, timeout time.Duration) []deadletter.Letter {
	e.t.Helper()
	var msgs []kafka.Record
	testenv.Eventually(e.t, timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		msgs, err = kafka.ReadAll(ctx, e.opts, e.dlqTopic, 0)
		if err != nil {
			e.t.Logf("read %s: %v", e.dlqTopic, err)
		}
		return len(msgs) >= n
	}, "%d messages in %s (have %d)", n, e.dlqTopic, len(msgs))
	if len(msgs) != n {
		e.t.Errorf("%s holds %d messages, want %d", e.dlqTopic, len(msgs), n)
	}
	out := make([]deadletter.Letter, len(msgs))
	for i, m := range msgs {
		out[i] = deadletter.Parse(m)
	}
	return out
}

// lag returns, per partition, the high water mark minus the group's
// committed offset.
func (e *env) lag(group string) map[int32]int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lag, err := kafka.GroupLag(ctx, e.opts, group, e.topic)
	if err != nil {
		e.t.Fatalf("group lag: %v", err)
	}
	return lag
}

// randomResult returns a valid result for site with random contents: every
// reason, nil and non-nil pointers, TLS fields or not, nanosecond times.
func randomResult(rng *rand.Rand, site int64) contract.Result {
	reason := contract.Reasons[rng.IntN(len(contract.Reasons))]
	r := contract.Result{
		V:              contract.Version,
		CheckID:        uuid.NewString(),
		WebsiteID:      site,
		URL:            "https://site.example/path?q=" + strconv.Itoa(rng.IntN(1000)),
		CheckedAt:      time.Now().Add(-time.Duration(rng.Int64N(int64(5 * 24 * time.Hour)))).UTC(),
		Probe:          "probe-" + strconv.Itoa(rng.IntN(5)),
		Up:             reason == contract.ReasonOK,
		Reason:         reason,
		ResponseTimeMs: rng.Float64() * 5000,
		PhasesMs: contract.Phases{
			DNSMs: rng.Float64() * 10, ConnectMs: rng.Float64() * 10, TLSMs: rng.Float64() * 30,
			TTFBMs: rng.Float64() * 300, TransferMs: rng.Float64() * 100,
		},
		Redirects: rng.IntN(4),
		FinalURL:  "https://site.example/final",
		BodyBytes: rng.Int64N(1 << 20),
	}
	if reason != contract.ReasonOK {
		r.Error = "something went wrong: " + string(reason) + " ünïcödé"
	}
	if rng.IntN(4) > 0 {
		code := []int{200, 204, 301, 404, 500, 503}[rng.IntN(6)]
		r.StatusCode = &code
	}
	switch rng.IntN(3) {
	case 1:
		b := true
		r.RegexMatched = &b
	case 2:
		b := false
		r.RegexMatched = &b
	}
	if rng.IntN(2) == 0 {
		r.TLSVersion = "TLS 1.3"
		na := time.Unix(1800000000+rng.Int64N(1000000), 0).UTC()
		r.CertNotAfter = &na
	}
	return r
}

// validResult returns a valid result for site checked now.
func validResult(site int64) contract.Result { return fixture.Result(site) }
