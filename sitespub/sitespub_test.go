package sitespub

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// propagation is the bound: a change to websites reaches the topic
// within 5 s.
const propagation = 5 * time.Second

// startPublisher runs a publisher over db until the test ends (or stop is
// called).
func startPublisher(t *testing.T, db *store.DB, opts kafka.Options, topic string) (p *Publisher, stop func()) {
	t.Helper()
	p = New(Options{DB: db, Kafka: opts, Topic: topic, Reconcile: time.Hour, LockRetry: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(ctx) })
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return p, stop
}

// waitSite waits until the topic holds want for site id ("" = no record),
// and returns how long that took.
func waitSite(t *testing.T, opts kafka.Options, topic string, id int64, want string, what string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(propagation)
	for {
		got, ok := fixture.SitesTopic(t, opts, topic)[id]
		if (want == "" && !ok) || (want != "" && got == want) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: site %d on the topic is %q after %v, want %q", what, id, got, propagation, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func encoded(t *testing.T, db *store.DB, id int64) string {
	t.Helper()
	s, ok, err := db.LookupSite(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("look up site %d: %v, %v", id, ok, err)
	}
	return string(contract.EncodeSite(s))
}

// TestSitesPublisher: the start reconciles (a site already in the table is
// published, a site only on the topic gets a tombstone), then every change,
// made with the store's methods or by hand in SQL, reaches the topic within
// 5 s (the full reconcile is an hour away: only NOTIFY can do it).
func TestSitesPublisher(t *testing.T) {
	ctx := context.Background()
	db, _ := fixture.MigratedDB(t)
	opts := fixture.Options(t)
	topic := fixture.Topic(t, opts, 12, kafka.CompactedConfigs())

	before, err := db.AddSite(ctx, store.SiteInput{URL: "http://127.0.0.1:1/before", Interval: 5})
	if err != nil {
		t.Fatal(err)
	}
	stale := int64(999)
	if err := kafka.Produce(ctx, opts, []kafka.Record{{Topic: topic, Key: contract.SiteKey(stale),
		Value: contract.EncodeSite(contract.Site{ID: stale, URL: "http://gone/", Interval: time.Second})}}); err != nil {
		t.Fatal(err)
	}

	p, _ := startPublisher(t, db, opts, topic)
	waitSite(t, opts, topic, before, encoded(t, db, before), "reconcile at start")
	waitSite(t, opts, topic, stale, "", "reconcile at start, a site only on the topic")
	if got := p.Stats().Tombstones; got != 1 {
		t.Errorf("tombstones after the start = %d, want 1", got)
	}

	var worst time.Duration
	note := func(d time.Duration) { worst = max(worst, d) }
	id, err := db.AddSite(ctx, store.SiteInput{URL: "http://user:secret@127.0.0.1:1/added", Interval: 2, Regex: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	note(waitSite(t, opts, topic, id, encoded(t, db, id), "sites add"))
	iv := 7
	if err := db.UpdateSite(ctx, id, store.SiteUpdate{Interval: &iv}); err != nil {
		t.Fatal(err)
	}
	want := encoded(t, db, id)
	if got, _ := contract.DecodeSite(id, []byte(want)); got.Interval != 7*time.Second {
		t.Fatalf("updated site decodes as %+v", got)
	}
	note(waitSite(t, opts, topic, id, want, "sites update"))
	if err := db.RemoveSites(ctx, []int64{id}); err != nil {
		t.Fatal(err)
	}
	note(waitSite(t, opts, topic, id, "", "sites remove"))

	sqlDB := db.SQL()
	var byHand int64
	if err := sqlDB.QueryRowContext(ctx, "INSERT INTO websites (url, check_interval) VALUES ('http://127.0.0.1:1/sql', 3) RETURNING id").Scan(&byHand); err != nil {
		t.Fatal(err)
	}
	note(waitSite(t, opts, topic, byHand, encoded(t, db, byHand), "INSERT by hand"))
	if _, err := sqlDB.ExecContext(ctx, "UPDATE websites SET up_regex = 'x+' WHERE id = $1", byHand); err != nil {
		t.Fatal(err)
	}
	note(waitSite(t, opts, topic, byHand, encoded(t, db, byHand), "UPDATE by hand"))
	if _, err := sqlDB.ExecContext(ctx, "DELETE FROM websites WHERE id = $1", byHand); err != nil {
		t.Fatal(err)
	}
	note(waitSite(t, opts, topic, byHand, "", "DELETE by hand"))
	t.Logf("slowest change to reach the topic: %v", worst)

	// A change that leaves the published fields as they are publishes nothing.
	published := p.Stats().Published
	if _, err := sqlDB.ExecContext(ctx, "UPDATE websites SET name = 'renamed' WHERE id = $1", before); err != nil {
		t.Fatal(err)
	}
	marker, err := db.AddSite(ctx, store.SiteInput{URL: "http://127.0.0.1:1/marker", Interval: 5})
	if err != nil {
		t.Fatal(err)
	}
	waitSite(t, opts, topic, marker, encoded(t, db, marker), "marker")
	if got := p.Stats().Published; got != published+1 {
		t.Errorf("published %d records for a rename and an add, want 1 (the add)", got-published)
	}
}

// TestSitesPublisherLock: while one publisher holds the lock a second one
// publishes nothing, though it keeps trying; when the first stops, the
// second takes over.
func TestSitesPublisherLock(t *testing.T) {
	ctx := context.Background()
	db, url := fixture.MigratedDB(t)
	opts := fixture.Options(t)
	topic := fixture.Topic(t, opts, 12, kafka.CompactedConfigs())
	db2, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })

	first, stopFirst := startPublisher(t, db, opts, topic)
	// Reconciled, not only holding: a reconcile that fails (a topic just
	// created may have no leader yet) gives the lock up for a retry.
	waitFor(t, func() bool { return first.Stats().Holding && first.Stats().Reconciles > 0 }, "the first publisher holds the lock and reconciled")
	second, _ := startPublisher(t, db2, opts, topic)

	id, err := db.AddSite(ctx, store.SiteInput{URL: "http://127.0.0.1:1/a", Interval: 5})
	if err != nil {
		t.Fatal(err)
	}
	waitSite(t, opts, topic, id, encoded(t, db, id), "add while the first holds the lock")
	tries := second.Stats().Attempts
	waitFor(t, func() bool { return second.Stats().Attempts >= tries+3 }, "the second publisher keeps trying the lock")
	if second.Stats().Holding || second.Stats().Published != 0 || second.Stats().Tombstones != 0 || second.Stats().Reconciles != 0 {
		t.Fatalf("second publisher while the first holds the lock: holding %v, published %d, tombstones %d, reconciles %d",
			second.Stats().Holding, second.Stats().Published, second.Stats().Tombstones, second.Stats().Reconciles)
	}
	if first.Stats().Published != 1 {
		t.Errorf("first publisher published %d, want 1", first.Stats().Published)
	}

	stopFirst()
	waitFor(t, func() bool { return second.Stats().Holding }, "the second publisher takes over")
	id2, err := db.AddSite(ctx, store.SiteInput{URL: "http://127.0.0.1:1/b", Interval: 5})
	if err != nil {
		t.Fatal(err)
	}
	waitSite(t, opts, topic, id2, encoded(t, db, id2), "add after the takeover")
	if second.Stats().Published != 1 {
		t.Errorf("second publisher published %d after taking over, want 1 (the first site was on the topic already)", second.Stats().Published)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(propagation)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, propagation)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
