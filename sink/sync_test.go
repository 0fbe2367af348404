package sink_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/internal/testenv"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/sink"
	"github.com/sitestat/sitestat/store"
)

// The dead-letter headers sync writes are the ones `sitestat dlq` reads.
func TestHeadersMatchKafka(t *testing.T) {
	pairs := [][2]string{
		{sink.HeaderError, kafka.HeaderError},
		{sink.HeaderErrorClass, kafka.HeaderErrorClass},
		{sink.HeaderSourceTopic, kafka.HeaderSourceTopic},
		{sink.HeaderSourcePartition, kafka.HeaderSourcePartition},
		{sink.HeaderSourceOffset, kafka.HeaderSourceOffset},
	}
	for _, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("sink header %q, kafka header %q", p[0], p[1])
		}
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// TestSyncDataFormat: results go through Kafka into website_status unchanged:
// request_info decodes back to the very Result, the typed columns match it.
func TestSyncDataFormat(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	sites := e.addSites(3)
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	want := map[string]checker.Result{}
	var rs []checker.Result
	for range 300 {
		r := randomResult(rng, sites[rng.IntN(len(sites))])
		want[r.CheckID] = r
		rs = append(rs, r)
	}
	e.produceResults(rs)
	run := e.start(testenv.Name("group"), sink.Options{})
	e.waitRows(len(rs), 30*time.Second)
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	rows, err := e.sql.Query(`SELECT website_id, timestamp_utc, request_info, check_id, up, reason,
		status_code, response_time_ms FROM website_status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var (
			siteID  int64
			ts      time.Time
			info    []byte
			checkID string
			up      bool
			reason  string
			status  sql.NullInt64
			rt      float32
		)
		if err := rows.Scan(&siteID, &ts, &info, &checkID, &up, &reason, &status, &rt); err != nil {
			t.Fatal(err)
		}
		seen++
		w, ok := want[checkID]
		if !ok {
			t.Errorf("unexpected check id %s", checkID)
			continue
		}
		var got checker.Result
		if err := json.Unmarshal(info, &got); err != nil {
			t.Errorf("%s: request_info does not decode: %v", checkID, err)
			continue
		}
		got.CheckedAt = got.CheckedAt.UTC()
		if got.CertNotAfter != nil {
			utc := got.CertNotAfter.UTC()
			got.CertNotAfter = &utc
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: request_info decodes to\n%+v\nwant\n%+v", checkID, got, w)
		}
		if siteID != w.WebsiteID || up != w.Up || reason != string(w.Reason) || rt != float32(w.ResponseTimeMs) {
			t.Errorf("%s: typed columns (%d, %t, %q, %v) differ from the result (%d, %t, %q, %v)",
				checkID, siteID, up, reason, rt, w.WebsiteID, w.Up, w.Reason, float32(w.ResponseTimeMs))
		}
		if (w.StatusCode == nil) != !status.Valid || (w.StatusCode != nil && int64(*w.StatusCode) != status.Int64) {
			t.Errorf("%s: status_code %v, want %v", checkID, status, w.StatusCode)
		}
		// PostgreSQL keeps microseconds, rounding the nanoseconds.
		if d := ts.Sub(w.CheckedAt).Abs(); d > 500*time.Nanosecond {
			t.Errorf("%s: timestamp_utc %s, checked_at %s (off by %v)", checkID, ts.UTC().Format(time.RFC3339Nano),
				w.CheckedAt.Format(time.RFC3339Nano), d)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("read %d rows, want %d", seen, len(want))
	}
	st := run.s.Stats()
	if st.Consumed != int64(len(rs)) || st.Stored != int64(len(rs)) || st.Duplicates != 0 {
		t.Errorf("stats = %+v, want %d consumed and stored", st, len(rs))
	}
}

// TestSyncBadMessages: each kind of bad message, between valid ones, ends in
// the dead-letter topic with its class, original key and value and source
// headers; the valid ones are stored; the partition is committed past all.
func TestSyncBadMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	site := e.addSites(1)[0]
	const maxMessage = 4096

	vr := validResult(site)
	valid, _ := vr.Encode()
	without := func(field string) []byte {
		var m map[string]any
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, field)
		b, _ := json.Marshal(m)
		return b
	}
	replace := func(old, new string) []byte {
		if !strings.Contains(string(valid), old) {
			t.Fatalf("%s not in %s", old, valid)
		}
		return []byte(strings.Replace(string(valid), old, new, 1))
	}
	big := validResult(site)
	big.Error = strings.Repeat("x", maxMessage)
	bigValue, _ := big.Encode()
	unknownSite := validResult(site + 1000)
	unknownValue, _ := unknownSite.Encode()
	siteKey := []byte(strconv.FormatInt(site, 10))

	bad := []struct {
		name       string
		key, value []byte
		class      string
	}{
		{"invalid JSON", siteKey, []byte(`{"v":1,"check_id":`), sink.ClassDecode},
		{"not an object", siteKey, []byte(`[1,2,3]`), sink.ClassDecode},
		{"wrong type", siteKey, replace(fmt.Sprintf(`"website_id":%d`, site), fmt.Sprintf(`"website_id":"%d"`, site)), sink.ClassDecode},
		{"wrong type of up", siteKey, replace(`"up":true`, `"up":"yes"`), sink.ClassDecode},
		{"missing v", siteKey, without("v"), sink.ClassDecode},
		{"missing check_id", siteKey, without("check_id"), sink.ClassDecode},
		{"missing website_id", siteKey, without("website_id"), sink.ClassDecode},
		{"missing checked_at", siteKey, without("checked_at"), sink.ClassDecode},
		{"missing up", siteKey, without("up"), sink.ClassDecode},
		{"missing reason", siteKey, without("reason"), sink.ClassDecode},
		{"unknown v", siteKey, replace(`"v":1`, `"v":2`), sink.ClassDecode},
		{"key mismatch", []byte("999999"), valid, sink.ClassDecode},
		{"empty value", siteKey, nil, sink.ClassDecode},
		{"unknown site", unknownSite.Key(), unknownValue, sink.ClassUnknownSite},
		{"too large", big.Key(), bigValue, sink.ClassTooLarge},
	}
	var msgs []*sarama.ProducerMessage
	ids := map[string]bool{}
	for _, b := range bad {
		r := validResult(site)
		ids[r.CheckID] = true
		msgs = append(msgs, e.resultMessage(r), e.message(b.key, b.value))
	}
	r := validResult(site)
	ids[r.CheckID] = true
	msgs = append(msgs, e.resultMessage(r))
	e.produce(msgs)

	group := testenv.Name("group")
	run := e.start(group, sink.Options{MaxMessage: maxMessage})
	dead := e.readDLQ(len(bad), 30*time.Second)
	e.waitRows(len(ids), 30*time.Second)
	e.assertExactlyOnce(ids)
	testenv.Eventually(t, 10*time.Second, func() bool { return e.lag(group)[0] == 0 }, "group committed past every message")

	for i, d := range dead {
		b := bad[i]
		if d.Class != b.class {
			t.Errorf("%s: class %q, want %q (error %q)", b.name, d.Class, b.class, d.Error)
		}
		if d.Error == "" {
			t.Errorf("%s: no error text", b.name)
		}
		if d.SourceTopic != e.topic || d.SourcePartition != 0 || d.SourceOffset != int64(2*i+1) {
			t.Errorf("%s: source %s/%d/%d, want %s/0/%d", b.name, d.SourceTopic, d.SourcePartition, d.SourceOffset, e.topic, 2*i+1)
		}
		if string(d.Key) != string(b.key) {
			t.Errorf("%s: key %q, want %q", b.name, d.Key, b.key)
		}
		if string(d.Value) != string(b.value) {
			t.Errorf("%s: value %q, want %q", b.name, d.Value, b.value)
		}
	}
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := run.s.Stats()
	if st.Consumed != int64(len(msgs)) || st.Stored != int64(len(ids)) || st.DLQ[sink.ClassDecode] != int64(len(bad)-2) ||
		st.DLQ[sink.ClassUnknownSite] != 1 || st.DLQ[sink.ClassTooLarge] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestSyncDuplicates: a check id sent again, in one batch or later, is
// stored once.
func TestSyncDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	site := e.addSites(1)[0]
	a, b, c := validResult(site), validResult(site), validResult(site)
	e.produceResults([]checker.Result{a, b, a, a, b})
	run := e.start(testenv.Name("group"), sink.Options{})
	e.waitRows(2, 30*time.Second)
	e.produceResults([]checker.Result{a, c, b, c})
	testenv.Eventually(t, 30*time.Second, func() bool { return run.s.Stats().Consumed == 9 }, "9 messages consumed")
	e.assertExactlyOnce(map[string]bool{a.CheckID: true, b.CheckID: true, c.CheckID: true})
	st := run.s.Stats()
	if st.Stored != 3 || st.Duplicates != 6 {
		t.Errorf("stats = %+v, want 3 stored, 6 duplicates", st)
	}
}

// TestSyncDatabaseRejects: rows that decode but that PostgreSQL refuses (a
// status code out of smallint range, a NUL character jsonb cannot hold, a
// response time out of real range, a website deleted since it was cached)
// are found by bisection and dead-lettered; the rows around them are stored.
func TestSyncDatabaseRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	sites := e.addSites(2)
	keep, doomed := sites[0], sites[1]

	run := e.start(testenv.Name("group"), sink.Options{Flush: 50 * time.Millisecond})
	// Sync learns that doomed exists, then the site is deleted.
	first := validResult(doomed)
	e.produceResults([]checker.Result{first})
	e.waitRows(1, 30*time.Second)
	if _, err := e.sql.Exec("DELETE FROM websites WHERE id = $1", doomed); err != nil {
		t.Fatal(err)
	}

	type badRow struct {
		r     checker.Result
		class string
	}
	status := 70000
	var bads []badRow
	r := validResult(keep)
	r.StatusCode = &status
	bads = append(bads, badRow{r, sink.ClassDBData})
	r = validResult(keep)
	r.Up, r.Reason, r.Error = false, checker.ReasonConnectionError, "read: \x00 in the middle"
	bads = append(bads, badRow{r, sink.ClassDBData})
	r = validResult(keep)
	r.ResponseTimeMs = 1e300
	bads = append(bads, badRow{r, sink.ClassDBData})
	// A site deleted after sync cached it fails on the foreign key: unknown_site, like any result of a removed site.
	bads = append(bads, badRow{validResult(doomed), sink.ClassUnknownSite})

	ids := map[string]bool{}
	var rs []checker.Result
	for i := range 40 {
		if i%10 == 3 {
			rs = append(rs, bads[i/10].r)
			continue
		}
		g := validResult(keep)
		ids[g.CheckID] = true
		rs = append(rs, g)
	}
	e.produceResults(rs)
	dead := e.readDLQ(len(bads), 30*time.Second)
	e.waitRows(len(ids), 30*time.Second)
	e.assertExactlyOnce(ids)
	for i, d := range dead {
		v, _ := bads[i].r.Encode()
		if d.Class != bads[i].class || string(d.Value) != string(v) {
			t.Errorf("dead letter %d: class %q, want %q; value %s, want %s", i, d.Class, bads[i].class, d.Value, v)
		}
	}
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestSyncSchemaDriftAtStart: Run refuses to start on a drifted schema, with
// an error naming the table and column.
func TestSyncSchemaDriftAtStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, alter, want string
	}{
		{"dropped column", "ALTER TABLE website_status DROP COLUMN request_info", "website_status.request_info"},
		{"wrong type", "ALTER TABLE website_status ALTER COLUMN timestamp_utc TYPE text", "website_status.timestamp_utc"},
		{"dropped table", "DROP TABLE website_status", "website_status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 1)
			if _, err := e.sql.Exec(tt.alter); err != nil {
				t.Fatal(err)
			}
			s, _ := e.newSync(testenv.Name("group"), sink.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := s.Run(ctx)
			if !errors.Is(err, store.ErrSchemaDrift) {
				t.Fatalf("Run = %v, want a schema drift", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %q, want it to name %s", err, tt.want)
			}
		})
	}
}

// TestSyncSchemaDriftWhileRunning: a column dropped under a running sync
// stops it with the drift, committing nothing past it; after migrate a new
// sync stores the rest, nothing lost.
func TestSyncSchemaDriftWhileRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	site := e.addSites(1)[0]
	group := testenv.Name("group")
	run := e.start(group, sink.Options{Flush: 50 * time.Millisecond})

	ids := map[string]bool{}
	batch := func(n int) []checker.Result {
		var rs []checker.Result
		for range n {
			r := validResult(site)
			ids[r.CheckID] = true
			rs = append(rs, r)
		}
		return rs
	}
	e.produceResults(batch(50))
	e.waitRows(50, 30*time.Second)
	testenv.Eventually(t, 10*time.Second, func() bool { return e.lag(group)[0] == 0 }, "first 50 committed")

	if _, err := e.sql.Exec("ALTER TABLE website_status DROP COLUMN request_info"); err != nil {
		t.Fatal(err)
	}
	e.produceResults(batch(50))
	err := run.wait(30 * time.Second)
	if !errors.Is(err, store.ErrSchemaDrift) || !strings.Contains(err.Error(), "website_status.request_info") {
		t.Fatalf("Run = %v, want a schema drift naming website_status.request_info", err)
	}
	if lag := e.lag(group)[0]; lag != 50 {
		t.Errorf("lag after the drift = %d, want 50 (nothing committed past it)", lag)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	migrate(t, ctx, e.db)
	run = e.start(group, sink.Options{Flush: 50 * time.Millisecond})
	e.waitRows(100, 30*time.Second)
	e.assertExactlyOnce(ids)
	testenv.Eventually(t, 10*time.Second, func() bool { return e.lag(group)[0] == 0 }, "all committed after migrate")
	if err := run.stop(); err != nil {
		t.Fatalf("Run after migrate: %v", err)
	}
}

// TestSyncLoneMessage: a single message is stored within Flush, not held
// back waiting for a full batch.
func TestSyncLoneMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	site := e.addSites(1)[0]
	run := e.start(testenv.Name("group"), sink.Options{})
	// The first message waits for the group to form; the second measures.
	e.produceResults([]checker.Result{validResult(site)})
	e.waitRows(1, 30*time.Second)
	start := time.Now()
	e.produceResults([]checker.Result{validResult(site)})
	e.waitRows(2, 2*time.Second)
	t.Logf("lone message stored %v after it was produced", time.Since(start))
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// countingGroup counts the messages a Sync has taken from its claims, so a
// test knows when they sit in a batch.
type countingGroup struct {
	sarama.ConsumerGroup
	taken atomic.Int64
}

func (g *countingGroup) Consume(ctx context.Context, topics []string, h sarama.ConsumerGroupHandler) error {
	return g.ConsumerGroup.Consume(ctx, topics, countingHandler{h, g})
}

type countingHandler struct {
	sarama.ConsumerGroupHandler
	g *countingGroup
}

func (h countingHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ch := make(chan *sarama.ConsumerMessage)
	go func() {
		defer close(ch)
		for m := range claim.Messages() {
			select {
			case ch <- m:
				h.g.taken.Add(1)
			case <-sess.Context().Done():
				return
			}
		}
	}()
	return h.ConsumerGroupHandler.ConsumeClaim(sess, countingClaim{claim, ch})
}

type countingClaim struct {
	sarama.ConsumerGroupClaim
	ch chan *sarama.ConsumerMessage
}

func (c countingClaim) Messages() <-chan *sarama.ConsumerMessage { return c.ch }

// TestSyncGracefulStop: cancelling Run while a batch is in hand stores the
// batch, commits it and returns nil.
func TestSyncGracefulStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	site := e.addSites(1)[0]
	group := testenv.Name("group")
	cg := &countingGroup{ConsumerGroup: e.newGroup(group)}
	s := sink.New(e.db, cg, e.producer, sink.Options{Topic: e.topic, DLQTopic: e.dlqTopic,
		Batch: 100000, Flush: time.Hour, Logger: testLogger(t)})
	run := e.run(s, cg)

	ids := map[string]bool{}
	var rs []checker.Result
	for range 500 {
		r := validResult(site)
		ids[r.CheckID] = true
		rs = append(rs, r)
	}
	e.produceResults(rs)
	testenv.Eventually(t, 30*time.Second, func() bool { return cg.taken.Load() == int64(len(rs)) }, "sync took %d messages", len(rs))
	if n := e.count(); n != 0 {
		t.Fatalf("%d rows stored before the stop; the batch should still be in hand", n)
	}
	if err := run.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	e.assertExactlyOnce(ids)
	for p, lag := range e.lag(group) {
		if lag != 0 {
			t.Errorf("partition %d: lag %d after the stop, want 0", p, lag)
		}
	}
}

// TestSyncTwoConsumers: two syncs in one group share the partitions; one
// leaves midway (a rebalance) while results keep coming; every result is
// stored exactly once.
func TestSyncTwoConsumers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 4)
	sites := e.addSites(4)
	group := testenv.Name("group")
	opts := sink.Options{Batch: 200, Flush: 50 * time.Millisecond}
	a := e.start(group, opts)
	b := e.start(group, opts)

	ids := map[string]bool{}
	send := func(n int) {
		var rs []checker.Result
		for i := range n {
			r := validResult(sites[i%len(sites)])
			ids[r.CheckID] = true
			rs = append(rs, r)
		}
		e.produceResults(rs)
	}
	// A steady stream until both members have stored some of it.
	deadline := time.Now().Add(30 * time.Second)
	for a.s.Stats().Consumed == 0 || b.s.Stats().Consumed == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("both syncs did not consume within 30s (a %d, b %d)", a.s.Stats().Consumed, b.s.Stats().Consumed)
		}
		send(100)
		time.Sleep(50 * time.Millisecond)
	}
	send(1000)
	if err := b.stop(); err != nil {
		t.Fatalf("Run b: %v", err)
	}
	for range 10 {
		send(200)
		time.Sleep(20 * time.Millisecond)
	}
	e.waitRows(len(ids), 60*time.Second)
	e.assertExactlyOnce(ids)
	testenv.Eventually(t, 20*time.Second, func() bool {
		for _, l := range e.lag(group) {
			if l != 0 {
				return false
			}
		}
		return true
	}, "every partition committed")
	if err := a.stop(); err != nil {
		t.Fatalf("Run a: %v", err)
	}
	sa, sb := a.s.Stats(), b.s.Stats()
	t.Logf("a: %+v; b: %+v", sa, sb)
	if sa.Stored+sb.Stored != int64(len(ids)) {
		t.Errorf("stored %d + %d rows, want %d in all", sa.Stored, sb.Stored, len(ids))
	}
}
