package sink_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/internal/testenv"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/sink"
	"github.com/sitestat/sitestat/store"
)

// The store is the Writer sync runs with.
var _ sink.Writer = (*store.DB)(nil)

// env is one integration test's world: its own database (migrated), its own
// results and dead-letter topics.
type env struct {
	t        testing.TB
	brokers  []string
	dbURL    string
	db       *store.DB
	sql      *sql.DB
	topic    string
	dlqTopic string
	parts    int
	producer sarama.SyncProducer
}

func newEnv(t testing.TB, partitions int) *env {
	t.Helper()
	brokers := testenv.Brokers(t)
	dbURL := testenv.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openStore(t, ctx, dbURL)
	migrate(t, ctx, db)
	e := &env{
		t: t, brokers: brokers, dbURL: dbURL, db: db, sql: db.SQL(),
		topic: testenv.Name("sink"), parts: partitions,
	}
	e.dlqTopic = e.topic + "_dlq"
	createTopic(t, brokers, e.topic, partitions)
	createTopic(t, brokers, e.dlqTopic, 1)
	p, err := kafka.NewSyncProducer(kafka.Options{Brokers: brokers})
	if err != nil {
		t.Fatalf("new producer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	e.producer = p
	return e
}

func openStore(t testing.TB, ctx context.Context, dbURL string) *store.DB {
	t.Helper()
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func migrate(t testing.TB, ctx context.Context, db *store.DB) {
	t.Helper()
	schema, err := os.ReadFile("../schema.sql")
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	if _, err := db.Migrate(ctx, string(schema), store.MigrateOptions{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

func baseConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.ClientID = "sitestat-sink-test"
	cfg.Metadata.AllowAutoTopicCreation = false
	return cfg
}

// newGroup returns a member of consumer group group as `sitestat sync`
// makes it (kafka.NewConsumerGroup).
func newGroup(tb testing.TB, brokers []string, group string) sarama.ConsumerGroup {
	tb.Helper()
	g, err := kafka.NewConsumerGroup(kafka.Options{Brokers: brokers}, group)
	if err != nil {
		tb.Fatalf("new consumer group: %v", err)
	}
	return g
}

func createTopic(t testing.TB, brokers []string, name string, partitions int) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, baseConfig())
	if err != nil {
		t.Fatalf("cluster admin: %v", err)
	}
	defer admin.Close()
	err = admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: 1}, false)
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	t.Cleanup(func() {
		admin, err := sarama.NewClusterAdmin(brokers, baseConfig())
		if err != nil {
			return
		}
		defer admin.Close()
		_ = admin.DeleteTopic(name)
	})
}

// otherDatabase returns a second fresh database, migrated, with websites of
// the given ids (a fresh database numbers them 1, 2, …).
func (e *env) otherDatabase(ids []int64) *store.DB {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openStore(e.t, ctx, testenv.NewDatabase(e.t))
	migrate(e.t, ctx, db)
	for _, id := range ids {
		if _, err := db.SQL().ExecContext(ctx, "INSERT INTO websites (id, url) VALUES ($1, 'https://x.example/')", id); err != nil {
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

// newSync returns a Sync on the env's topics in consumer group group, with
// its own ConsumerGroup (closed at cleanup).
func (e *env) newSync(group string, opts sink.Options) (*sink.Sync, sarama.ConsumerGroup) {
	e.t.Helper()
	g := e.newGroup(group)
	opts.Topic, opts.DLQTopic = e.topic, e.dlqTopic
	if opts.Logger == nil {
		opts.Logger = testLogger(e.t)
	}
	return sink.New(e.db, g, e.producer, opts), g
}

// newGroup returns a member of consumer group group, closed at cleanup.
func (e *env) newGroup(group string) sarama.ConsumerGroup {
	e.t.Helper()
	g := newGroup(e.t, e.brokers, group)
	e.t.Cleanup(func() { g.Close() })
	return g
}

// running is a Sync being Run in the background.
type running struct {
	t      testing.TB
	s      *sink.Sync
	group  sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan error

	once sync.Once
	err  error
}

// start runs a new Sync in group until stop or the end of the test.
func (e *env) start(group string, opts sink.Options) *running {
	e.t.Helper()
	s, g := e.newSync(group, opts)
	return e.run(s, g)
}

func (e *env) run(s *sink.Sync, g sarama.ConsumerGroup) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: e.t, s: s, group: g, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	e.t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels the Run, waits for it to return, closes the group and
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
		r.group.Close()
	})
	return r.err
}

// wait waits for Run to return by itself and returns its error.
func (r *running) wait(timeout time.Duration) error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.once.Do(func() { r.err = err; r.group.Close() })
		return err
	case <-time.After(timeout):
		r.t.Fatalf("Run did not return within %s", timeout)
		return nil
	}
}

// produce sends the messages and waits for the broker's acks.
func (e *env) produce(msgs []*sarama.ProducerMessage) {
	e.t.Helper()
	for len(msgs) > 0 {
		n := min(len(msgs), 5000)
		if err := e.producer.SendMessages(msgs[:n]); err != nil {
			e.t.Fatalf("produce: %v", err)
		}
		msgs = msgs[n:]
	}
}

// message is a message of the results topic.
func (e *env) message(key, value []byte) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: e.topic}
	if key != nil {
		m.Key = sarama.ByteEncoder(key)
	}
	if value != nil {
		m.Value = sarama.ByteEncoder(value)
	}
	return m
}

// resultMessage is r as `check` produces it.
func (e *env) resultMessage(r checker.Result) *sarama.ProducerMessage {
	e.t.Helper()
	v, err := r.Encode()
	if err != nil {
		e.t.Fatalf("encode: %v", err)
	}
	return e.message(r.Key(), v)
}

func (e *env) produceResults(rs []checker.Result) {
	e.t.Helper()
	msgs := make([]*sarama.ProducerMessage, len(rs))
	for i, r := range rs {
		msgs[i] = e.resultMessage(r)
	}
	e.produce(msgs)
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
func (e *env) readDLQ(n int, timeout time.Duration) []kafka.DeadLetter {
	e.t.Helper()
	var msgs []*sarama.ConsumerMessage
	testenv.Eventually(e.t, timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		msgs, err = kafka.ReadAll(ctx, kafka.Options{Brokers: e.brokers}, e.dlqTopic, 0)
		if err != nil {
			e.t.Logf("read %s: %v", e.dlqTopic, err)
		}
		return len(msgs) >= n
	}, "%d messages in %s (have %d)", n, e.dlqTopic, len(msgs))
	if len(msgs) != n {
		e.t.Errorf("%s holds %d messages, want %d", e.dlqTopic, len(msgs), n)
	}
	out := make([]kafka.DeadLetter, len(msgs))
	for i, m := range msgs {
		out[i] = kafka.ParseDeadLetter(m)
	}
	return out
}

// lag returns, per partition, the high water mark minus the group's
// committed offset.
func (e *env) lag(group string) map[int32]int64 {
	e.t.Helper()
	client, err := sarama.NewClient(e.brokers, baseConfig())
	if err != nil {
		e.t.Fatalf("new client: %v", err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		e.t.Fatalf("cluster admin: %v", err)
	}
	parts := make([]int32, e.parts)
	for i := range parts {
		parts[i] = int32(i)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{e.topic: parts})
	if err != nil {
		e.t.Fatalf("list group offsets: %v", err)
	}
	lag := make(map[int32]int64)
	for _, p := range parts {
		hw, err := client.GetOffset(e.topic, p, sarama.OffsetNewest)
		if err != nil {
			e.t.Fatalf("high water mark: %v", err)
		}
		committed := int64(0)
		if b := resp.GetBlock(e.topic, p); b != nil && b.Offset >= 0 {
			committed = b.Offset
		}
		lag[p] = hw - committed
	}
	return lag
}

// randomResult returns a valid result for site with random contents: every
// reason, nil and non-nil pointers, TLS fields or not, nanosecond times.
func randomResult(rng *rand.Rand, site int64) checker.Result {
	reason := checker.Reasons[rng.IntN(len(checker.Reasons))]
	r := checker.Result{
		V:              checker.Version,
		CheckID:        uuid.NewString(),
		WebsiteID:      site,
		URL:            "https://site.example/path?q=" + strconv.Itoa(rng.IntN(1000)),
		CheckedAt:      time.Unix(1700000000+rng.Int64N(100000000), rng.Int64N(1e9)).UTC(),
		Probe:          "probe-" + strconv.Itoa(rng.IntN(5)),
		Up:             reason == checker.ReasonOK,
		Reason:         reason,
		ResponseTimeMs: rng.Float64() * 5000,
		PhasesMs: checker.Phases{
			DNSMs: rng.Float64() * 10, ConnectMs: rng.Float64() * 10, TLSMs: rng.Float64() * 30,
			TTFBMs: rng.Float64() * 300, TransferMs: rng.Float64() * 100,
		},
		Redirects: rng.IntN(4),
		FinalURL:  "https://site.example/final",
		BodyBytes: rng.Int64N(1 << 20),
	}
	if reason != checker.ReasonOK {
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
func validResult(site int64) checker.Result {
	code := 200
	return checker.Result{
		V: checker.Version, CheckID: uuid.NewString(), WebsiteID: site, URL: "https://site.example/",
		CheckedAt: time.Now().UTC(), Probe: "test", Up: true, Reason: checker.ReasonOK,
		StatusCode: &code, ResponseTimeMs: 42.5, FinalURL: "https://site.example/",
	}
}
