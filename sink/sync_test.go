package sink_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/sink"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

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
	want := map[string]contract.Result{}
	var rs []contract.Result
	for range 300 {
		r := randomResult(rng, sites[rng.IntN(len(sites))])
		want[r.CheckID] = r
		rs = append(rs, r)
	}
	e.produceResults(rs)
	run := e.start(testenv.Name("group"), syncOptions{})
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
		var got contract.Result
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
		class      deadletter.Class
	}{
		{"invalid JSON", siteKey, []byte(`{"v":1,"check_id":`), deadletter.ClassDecode},
		{"not an object", siteKey, []byte(`[1,2,3]`), deadletter.ClassDecode},
		{"wrong type", siteKey, replace(fmt.Sprintf(`"website_id":%d`, site), fmt.Sprintf(`"website_id":"%d"`, site)), deadletter.ClassDecode},
		{"wrong type of up", siteKey, replace(`"up":true`, `"up":"yes"`), deadletter.ClassDecode},
		{"missing v", siteKey, without("v"), deadletter.ClassDecode},
		{"missing check_id", siteKey, without("check_id"), deadletter.ClassDecode},
		{"missing website_id", siteKey, without("website_id"), deadletter.ClassDecode},
		{"missing checked_at", siteKey, without("checked_at"), deadletter.ClassDecode},
		{"missing up", siteKey, without("up"), deadletter.ClassDecode},
		{"missing reason", siteKey, without("reason"), deadletter.ClassDecode},
		{"unknown v", siteKey, replace(`"v":1`, `"v":2`), deadletter.ClassDecode},
		{"key mismatch", []byte("999999"), valid, deadletter.ClassDecode},
		{"empty value", siteKey, nil, deadletter.ClassDecode},
		{"unknown site", unknownSite.Key(), unknownValue, deadletter.ClassUnknownSite},
		{"too large", big.Key(), bigValue, deadletter.ClassTooLarge},
	}
	var msgs []kafka.Record
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
	run := e.start(group, syncOptions{sink: sink.Options{MaxMessage: maxMessage}})
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
	if st.Consumed != int64(len(msgs)) || st.Stored != int64(len(ids)) || st.DLQ[deadletter.ClassDecode] != int64(len(bad)-2) ||
		st.DLQ[deadletter.ClassUnknownSite] != 1 || st.DLQ[deadletter.ClassTooLarge] != 1 {
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
	e.produceResults([]contract.Result{a, b, a, a, b})
	run := e.start(testenv.Name("group"), syncOptions{})
	e.waitRows(2, 30*time.Second)
	e.produceResults([]contract.Result{a, c, b, c})
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

	run := e.start(testenv.Name("group"), syncOptions{consumer: kafka.ConsumerOptions{Flush: 50 * time.Millisecond}})
	// Sync learns that doomed exists, then the site is deleted.
	first := validResult(doomed)
	e.produceResults([]contract.Result{first})
	e.waitRows(1, 30*time.Second)
	if _, err := e.sql.Exec("DELETE FROM websites WHERE id = $1", doomed); err != nil {
		t.Fatal(err)
	}

	type badRow struct {
		r     contract.Result
		class deadletter.Class
	}
	status := 70000
	var bads []badRow
	r := validResult(keep)
	r.StatusCode = &status
	bads = append(bads, badRow{r, deadletter.ClassDBData})
	r = validResult(keep)
	r.Up, r.Reason, r.Error = false, contract.ReasonConnectionError, "read: \x00 in the middle"
	bads = append(bads, badRow{r, deadletter.ClassDBData})
	r = validResult(keep)
	r.ResponseTimeMs = 1e300
	bads = append(bads, badRow{r, deadletter.ClassDBData})
	// A site deleted after sync cached it fails on the foreign key: unknown_site, like any result of a removed site.
	bads = append(bads, badRow{validResult(doomed), deadletter.ClassUnknownSite})

	ids := map[string]bool{}
	var rs []contract.Result
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
		{"wrong type", "ALTER TABLE website_status ALTER COLUMN status_code TYPE text", "website_status.status_code"},
		{"dropped table", "DROP TABLE website_status", "website_status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 1)
			if _, err := e.sql.Exec(tt.alter); err != nil {
				t.Fatal(err)
			}
			s, c := e.newSync(testenv.Name("group"), syncOptions{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := s.Run(ctx, c)
			if !errors.Is(err, schema.ErrDrift) {
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
	run := e.start(group, syncOptions{consumer: kafka.ConsumerOptions{Flush: 50 * time.Millisecond}})

	ids := map[string]bool{}
	batch := func(n int) []contract.Result {
		var rs []contract.Result
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
	if !errors.Is(err, schema.ErrDrift) || !strings.Contains(err.Error(), "website_status.request_info") {
		t.Fatalf("Run = %v, want a schema drift naming website_status.request_info", err)
	}
	if lag := e.lag(group)[0]; lag != 50 {
		t.Errorf("lag after the drift = %d, want 50 (nothing committed past it)", lag)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := schema.Migrate(ctx, e.db, fixture.SchemaSQL(t), schema.MigrateOptions{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	run = e.start(group, syncOptions{consumer: kafka.ConsumerOptions{Flush: 50 * time.Millisecond}})
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
	run := e.start(testenv.Name("group"), syncOptions{})
	// The first message waits for the group to form; the second measures.
	e.produceResults([]contract.Result{validResult(site)})
	e.waitRows(1, 30*time.Second)
	start := time.Now()
	e.produceResults([]contract.Result{validResult(site)})
	e.waitRows(2, 2*time.Second)
	t.Logf("lone message stored %v after it was produced", time.Since(start))
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestSyncGracefulStop: cancelling Run while a batch is in hand stores the
// batch, commits it and returns nil.
func TestSyncGracefulStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	site := e.addSites(1)[0]
	group := testenv.Name("group")
	s, c := e.newSync(group, syncOptions{consumer: kafka.ConsumerOptions{Batch: 100000, Flush: time.Hour}})
	run := e.run(s, c)

	ids := map[string]bool{}
	var rs []contract.Result
	for range 500 {
		r := validResult(site)
		ids[r.CheckID] = true
		rs = append(rs, r)
	}
	e.produceResults(rs)
	testenv.Eventually(t, 30*time.Second, func() bool { return c.Read() == int64(len(rs)) }, "sync took %d messages", len(rs))
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
	opts := syncOptions{consumer: kafka.ConsumerOptions{Batch: 200, Flush: 50 * time.Millisecond}}
	a := e.start(group, opts)
	b := e.start(group, opts)

	ids := map[string]bool{}
	send := func(n int) {
		var rs []contract.Result
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

// TestSyncKeepsWhatItDoesNotKnow: a result with a field and a reason this
// build does not know is stored with request_info byte for byte as received
// (as jsonb), and a value that is not valid UTF-8 becomes a decode dead
// letter instead of failing the batch.
func TestSyncKeepsWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	site := e.addSites(1)[0]
	newer := fmt.Sprintf(`{"v":1,"check_id":"6f1c5a52-1d3e-4b8e-9f59-0c7d2a6b9e11","website_id":%d,`+
		`"checked_at":"2026-11-27T05:30:01Z","up":false,"reason":"from_the_future","error":"x",`+
		`"added_later":{"nested":[1,2,3]}}`, site)
	bad := []byte(fmt.Sprintf(`{"v":1,"check_id":"7f1c5a52-1d3e-4b8e-9f59-0c7d2a6b9e11","website_id":%d,`+
		`"checked_at":"2026-11-27T05:30:01Z","up":true,"reason":"ok","url":"`+"\xff\xfe"+`"}`, site))
	key := []byte(fmt.Sprint(site))
	good := validResult(site)
	e.produce([]kafka.Record{e.message(key, []byte(newer)), e.message(key, bad), e.resultMessage(good)})
	run := e.start(testenv.Name("group"), syncOptions{})
	e.waitRows(2, 30*time.Second)
	var same bool
	var reason string
	if err := e.sql.QueryRow(`SELECT request_info = $1::jsonb, reason FROM website_status
		WHERE check_id = '6f1c5a52-1d3e-4b8e-9f59-0c7d2a6b9e11'`, newer).Scan(&same, &reason); err != nil {
		t.Fatalf("read the newer result: %v", err)
	}
	if !same || reason != "from_the_future" {
		t.Errorf("request_info equal to the message: %t, reason %q; want the message as received", same, reason)
	}
	dls := e.readDLQ(1, 30*time.Second)
	if len(dls) == 1 && (dls[0].Class != deadletter.ClassDecode || !strings.Contains(dls[0].Error, "UTF-8") || string(dls[0].Value) != string(bad)) {
		t.Errorf("dead letter = %+v, want the invalid UTF-8 value as a decode letter", dls[0])
	}
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestSyncGiantDeadLetter: a 5 MB value compressed to a few KB on the
// results topic (the broker accepts it), and a 100 KB incompressible one,
// cannot go whole to a dead-letter topic whose max.message.bytes is 16 KB.
// Each becomes a truncated dead letter with its size and SHA-256, the valid
// results around them are stored, and the partition's offset advances.
func TestSyncGiantDeadLetter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	e.dlqTopic = fixture.Topic(t, e.opts, 1, map[string]string{"max.message.bytes": "16384"})
	site := e.addSites(1)[0]
	key := []byte(fmt.Sprint(site))
	giant := []byte(`{"pad":"` + strings.Repeat("0", 5<<20) + `"}`)
	noise := make([]byte, 100<<10)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	ids := map[string]bool{}
	var recs []kafka.Record
	for i := range 3 {
		r := validResult(site)
		ids[r.CheckID] = true
		recs = append(recs, e.resultMessage(r))
		switch i {
		case 0:
			recs = append(recs, e.message(key, giant))
		case 1:
			recs = append(recs, e.message(key, noise))
		}
	}
	e.produce(recs)
	group := testenv.Name("group")
	run := e.start(group, syncOptions{})
	e.waitRows(3, 60*time.Second)
	e.assertExactlyOnce(ids)
	testenv.Eventually(t, 30*time.Second, func() bool { return e.lag(group)[0] == 0 }, "the partition's offset advances past the giants")
	dls := e.readDLQ(2, 30*time.Second)
	for i, want := range [][]byte{giant, noise} {
		if i >= len(dls) {
			break
		}
		d := dls[i]
		sum := sha256.Sum256(want)
		if d.Class != deadletter.ClassTooLarge || !d.Truncated || d.OriginalSize != int64(len(want)) ||
			d.OriginalSHA256 != hex.EncodeToString(sum[:]) || len(d.Value) != deadletter.TruncatedValueBytes ||
			string(d.Value) != string(want[:deadletter.TruncatedValueBytes]) {
			t.Errorf("dead letter %d: class %s truncated %t size %d sha %s value %d bytes; want a truncated too_large letter of %d bytes",
				i, d.Class, d.Truncated, d.OriginalSize, d.OriginalSHA256, len(d.Value), len(want))
		}
	}
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestSyncFutureResultDoesNotFreezeAlerting: one result dated 40 hours ahead
// (a checker whose clock jumped) goes to the dead-letter topic as
// bad_timestamp instead of becoming the probe's latest check; the real
// results after it still move the state and open, then resolve, an incident.
func TestSyncFutureResultDoesNotFreezeAlerting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	site := e.addSites(1)[0]
	now := time.Now().UTC().Truncate(time.Microsecond)
	at := func(d time.Duration, up bool) contract.Result {
		r := validResult(site)
		r.CheckedAt = now.Add(d)
		if !up {
			code := 503
			r.Up, r.Reason, r.StatusCode = false, contract.ReasonHTTPStatus, &code
		}
		return r
	}
	future := at(40*time.Hour, true)
	failing := []contract.Result{at(-3*time.Second, false), at(-2*time.Second, false), at(-time.Second, false)}
	run := e.start(testenv.Name("group"), syncOptions{})
	// The future-dated result in a batch of its own, before the real ones.
	e.produceResults([]contract.Result{future})
	testenv.Eventually(t, 30*time.Second, func() bool { return run.s.Stats().Consumed == 1 }, "the future-dated result is not consumed")
	e.produceResults(failing)

	latest := func() time.Time {
		var ts time.Time
		if err := e.sql.QueryRow(`SELECT max(checked_at) FROM site_probe_state WHERE website_id = $1`, site).Scan(&ts); err != nil {
			t.Logf("read state: %v", err)
		}
		return ts
	}
	incidents := func(open bool) int {
		var n int
		if err := e.sql.QueryRow(`SELECT count(*) FROM incidents WHERE website_id = $1 AND kind = 'down'
			AND (resolved_at IS NULL) = $2`, site, open).Scan(&n); err != nil {
			t.Logf("read incidents: %v", err)
		}
		return n
	}
	testenv.Eventually(t, 30*time.Second, func() bool { return incidents(true) == 1 },
		"no down incident opened by the failing results after the future-dated one")
	if got := latest(); !got.Equal(failing[2].CheckedAt) {
		t.Errorf("state's latest check %s, want the last real result's %s", got, failing[2].CheckedAt)
	}
	dead := e.readDLQ(1, 30*time.Second)
	if len(dead) == 1 && (dead[0].Class != deadletter.ClassBadTimestamp || !strings.Contains(dead[0].Error, "ahead of sync's clock")) {
		t.Errorf("dead letter %q (%q), want bad_timestamp", dead[0].Class, dead[0].Error)
	}
	e.produceResults([]contract.Result{at(time.Second, true), at(2*time.Second, true)})
	testenv.Eventually(t, 30*time.Second, func() bool { return incidents(false) == 1 && incidents(true) == 0 },
		"the incident does not resolve after passing results")
	if got, want := latest(), now.Add(2*time.Second); !got.Equal(want) {
		t.Errorf("state's latest check %s, want %s", got, want)
	}
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := run.s.Stats(); st.DLQ[deadletter.ClassBadTimestamp] != 1 || st.Stored != 5 {
		t.Errorf("stats %+v, want 5 stored and 1 bad_timestamp", st)
	}
}
