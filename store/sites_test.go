package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

func TestValidateSiteInput(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", store.MaxURLLength-len("https://example.com/"))
	// 2048 characters but 4076 bytes: varchar(2048) takes it.
	longWide := "https://example.com/" + strings.Repeat("é", store.MaxURLLength-len("https://example.com/"))
	tests := []struct {
		url      string
		interval int
		regex    string
		wantErr  string // substring, "" for valid
	}{
		{"https://example.com/", 5, "", ""},
		{"http://example.com:8080/path?q=1", 1, `(?i)ok\s+\d+`, ""},
		{"HTTPS://EXAMPLE.COM", 86400, "", ""},
		{long, 5, "", ""},
		{long + "a", 5, "", "2049 characters long, longer than 2048"},
		{longWide, 5, "", ""},
		{longWide + "é", 5, "", "2049 characters long, longer than 2048"},
		{"https://example.com/\xff", 5, "", "not valid UTF-8"},
		{"https://user:s3cret@exa mple.com/", 5, "", `"https://exa mple.com/" contains a space`},
		{"https://example.com/", 5, `\pL{1000}X`, "1003 instructions, more than 100"},
		{"https://example.com/", 5, `"status"\s*:\s*"(ok|healthy|up)"`, ""},
		{"", 5, "", "url is empty"},
		{"ftp://example.com/", 5, "", "is not http or https"},
		{"example.com", 5, "", "is not http or https"},
		{"https://", 5, "", "no host"},
		{"https:///path", 5, "", "no host"},
		{"https://example.com:99999/", 5, "", "port \"99999\" out of range"},
		{"https://exa mple.com/", 5, "", "space or control character"},
		{"https://example.com/\n", 5, "", "space or control character"},
		{"https://example.com/%zz", 5, "", "invalid URL escape"},
		{"https://example.com/", 0, "", "interval 0 s is out of range 1..86400"},
		{"https://example.com/", 86401, "", "out of range"},
		{"https://example.com/", -5, "", "out of range"},
		{"https://example.com/", 5, "(unclosed", "regex"},
		{"https://example.com/", 5, `(?<=look)behind`, "regex"},
	}
	for _, tt := range tests {
		err := store.ValidateSiteInput(tt.url, tt.interval, tt.regex)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateSiteInput(%.40q, %d, %q) = %v, want nil", tt.url, tt.interval, tt.regex, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, store.ErrInvalidSite)):
			t.Errorf("ValidateSiteInput(%.40q, %d, %q) = %v, want ErrInvalidSite containing %q", tt.url, tt.interval, tt.regex, err, tt.wantErr)
		}
	}
}

func TestSites(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)

	a, err := db.AddSite(ctx, store.SiteInput{URL: "https://a.example/", Interval: 30, Regex: "Welcome"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.AddSite(ctx, store.SiteInput{URL: "http://b.example/"}) // default interval
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddSite(ctx, store.SiteInput{URL: "gopher://c.example/", Interval: 5}); !errors.Is(err, store.ErrInvalidSite) {
		t.Errorf("AddSite(gopher) = %v, want ErrInvalidSite", err)
	}
	sites, err := db.Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []contract.Site{
		{ID: a, URL: "https://a.example/", Interval: 30 * time.Second, Regex: "Welcome"},
		{ID: b, URL: "http://b.example/", Interval: 5 * time.Second},
	}
	if !reflect.DeepEqual(sites, want) {
		t.Fatalf("Sites = %+v, want %+v", sites, want)
	}

	url, interval, regex := "https://a2.example/", 120, "Hello"
	steps := []struct {
		name    string
		id      int64
		update  store.SiteUpdate
		want    contract.Site
		wantErr error
	}{
		{"url", a, store.SiteUpdate{URL: &url}, contract.Site{ID: a, URL: url, Interval: 30 * time.Second, Regex: "Welcome"}, nil},
		{"interval and regex", a, store.SiteUpdate{Interval: &interval, Regex: &regex}, contract.Site{ID: a, URL: url, Interval: 2 * time.Minute, Regex: "Hello"}, nil},
		{"clear regex", a, store.SiteUpdate{ClearRegex: true}, contract.Site{ID: a, URL: url, Interval: 2 * time.Minute}, nil},
		{"bad interval changes nothing", a, store.SiteUpdate{Interval: ptr(0), URL: ptr("https://a3.example/")}, contract.Site{ID: a, URL: url, Interval: 2 * time.Minute}, store.ErrInvalidSite},
		{"bad regex", a, store.SiteUpdate{Regex: ptr("(")}, contract.Site{ID: a, URL: url, Interval: 2 * time.Minute}, store.ErrInvalidSite},
		{"missing site", b + 100, store.SiteUpdate{URL: &url}, contract.Site{}, store.ErrNotFound},
	}
	for _, s := range steps {
		err := db.UpdateSite(ctx, s.id, s.update)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
			t.Errorf("%s: UpdateSite = %v, want %v", s.name, err, s.wantErr)
		}
		if s.wantErr == store.ErrNotFound {
			continue
		}
		got, err := db.GetSite(ctx, s.id)
		if err != nil {
			t.Fatalf("%s: GetSite: %v", s.name, err)
		}
		if got != s.want {
			t.Errorf("%s: site = %+v, want %+v", s.name, got, s.want)
		}
	}
	if _, err := db.GetSite(ctx, b+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSite(missing) = %v, want ErrNotFound", err)
	}

	if _, err := db.InsertResults(ctx, []contract.Result{newResult(a, time.Now(), true, 200, 1), newResult(a, time.Now(), true, 200, 1)}); err != nil {
		t.Fatal(err)
	}
	counts, err := db.SiteResultCounts(ctx, []int64{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int64]int64{a: 2, b: 0}; !reflect.DeepEqual(counts, want) {
		t.Errorf("SiteResultCounts = %v, want %v", counts, want)
	}

	if err := db.RemoveSites(ctx, []int64{a, b + 100}); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "websites [") {
		t.Errorf("RemoveSites with a missing id = %v, want ErrNotFound naming it", err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM websites"); n != 2 {
		t.Errorf("a failed RemoveSites left %d websites, want 2", n)
	}
	if err := db.RemoveSites(ctx, []int64{a}); err != nil {
		t.Fatalf("RemoveSites: %v", err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status"); n != 0 {
		t.Errorf("removing a site left %d of its results", n)
	}
	sites, err = db.Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 || sites[0].ID != b {
		t.Errorf("Sites after remove = %+v, want only %d", sites, b)
	}
}

func ptr[T any](v T) *T { return &v }

// publisher keeps the Results a Runner publishes.
type publisher struct {
	mu      sync.Mutex
	results []contract.Result
}

func (p *publisher) Publish(_ context.Context, key, value []byte) {
	r, err := contract.Decode(key, value)
	if err != nil {
		panic(fmt.Sprintf("published record is not a result: %v", err))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.results = append(p.results, r)
}

// of returns the results of site id.
func (p *publisher) of(id int64) []contract.Result {
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

// countingSource counts the loads of the site list.
type countingSource struct {
	db    *store.DB
	loads atomic.Int64
}

func (c *countingSource) Sites(ctx context.Context) ([]contract.Site, error) {
	defer c.loads.Add(1)
	return c.db.Sites(ctx)
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSitesWithBadRows: a websites table altered by hand holds rows with a
// NULL url, a NULL check_interval, a NULL id and a costly regex. Loading the
// list must not fail: the rows without an id or a url are skipped with one
// warning each, the others give invalid_config results, and every other
// site is checked, at start and after a reload.
func TestSitesWithBadRows(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	t.Cleanup(srv.Close)

	good := fixture.AddSite(t, db, srv.URL+"/good")
	fixture.Exec(t, db, `ALTER TABLE websites DROP CONSTRAINT websites_pkey CASCADE,
		ALTER COLUMN id DROP NOT NULL, ALTER COLUMN url DROP NOT NULL, ALTER COLUMN check_interval DROP NOT NULL`)
	insert := func(query string, args ...any) int64 {
		t.Helper()
		var id sql.NullInt64
		if err := db.SQL().QueryRowContext(ctx, query+" RETURNING id", args...).Scan(&id); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return id.Int64
	}
	noURL := insert(`INSERT INTO websites (url, check_interval) VALUES (NULL, 5)`)
	noInterval := insert(`INSERT INTO websites (url, check_interval) VALUES ($1, NULL)`, srv.URL+"/no-interval")
	insert(`INSERT INTO websites (id, url, check_interval) VALUES (NULL, $1, 5)`, srv.URL+"/no-id")
	costly := insert(`INSERT INTO websites (url, check_interval, up_regex) VALUES ($1, 5, $2)`, srv.URL+"/costly", `\pL{1000}X`)

	sites, err := db.Sites(ctx)
	if err != nil {
		t.Fatalf("Sites with bad rows: %v", err)
	}
	if len(sites) != 5 {
		t.Errorf("Sites = %+v, want all 5 rows", sites)
	}

	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	opts := checker.RunnerOptions{Probe: checker.ProbeOptions{Timeout: 5 * time.Second}, Logger: log}

	// At start, once.
	pub := &publisher{}
	if err := checker.NewRunner(db, pub, opts).Once(ctx); err != nil {
		t.Fatalf("Once: %v", err)
	}
	wantReasons := func(pub *publisher) {
		t.Helper()
		for id, want := range map[int64]contract.Reason{good: contract.ReasonOK, noInterval: contract.ReasonInvalidConfig, costly: contract.ReasonInvalidConfig} {
			rs := pub.of(id)
			if len(rs) == 0 || rs[0].Reason != want {
				t.Errorf("site %d: results %+v, want %s", id, rs, want)
			}
		}
		if rs := pub.of(noURL); len(rs) != 0 {
			t.Errorf("the site without a url was checked: %+v", rs)
		}
		if rs := pub.of(0); len(rs) != 0 {
			t.Errorf("the site without an id was checked: %+v", rs)
		}
	}
	wantReasons(pub)

	// Running, across reloads: the same, one warning per skipped row, and a
	// site added meanwhile is checked.
	logs = syncBuffer{}
	src := &countingSource{db: db}
	opts.Refresh = 50 * time.Millisecond
	pub = &publisher{}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- checker.NewRunner(src, pub, opts).Run(runCtx) }()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	defer stop()
	testenv.Eventually(t, 20*time.Second, func() bool { return len(pub.of(good)) > 0 && len(pub.of(costly)) > 0 }, "the good sites checked")
	added := fixture.AddSite(t, db, srv.URL+"/added")
	testenv.Eventually(t, 20*time.Second, func() bool { return len(pub.of(added)) > 0 }, "a site added while running is checked")
	loads := src.loads.Load()
	testenv.Eventually(t, 20*time.Second, func() bool { return src.loads.Load() >= loads+3 }, "three more reloads")
	stop()
	wantReasons(pub)
	out := logs.String()
	for _, want := range []string{fmt.Sprintf("site_id=%d why=\"no url\"", noURL), `site_id=0 why="no id"`} {
		if n := strings.Count(out, want); n != 1 {
			t.Errorf("log has %d warnings with %s, want one over every reload:\n%s", n, want, out)
		}
	}
	if rs := pub.of(added); rs[0].Reason != contract.ReasonOK {
		t.Errorf("added site: %+v, want ok", rs[0])
	}

	// sites update repairs such a row.
	fixed, iv := srv.URL+"/fixed", 30
	if err := db.UpdateSite(ctx, noURL, store.SiteUpdate{URL: &fixed}); err != nil {
		t.Errorf("UpdateSite(the row without a url): %v", err)
	}
	if err := db.UpdateSite(ctx, noInterval, store.SiteUpdate{Interval: &iv}); err != nil {
		t.Errorf("UpdateSite(the row without an interval): %v", err)
	}
	for id, want := range map[int64]contract.Site{
		noURL:      {ID: noURL, URL: fixed, Interval: 5 * time.Second},
		noInterval: {ID: noInterval, URL: srv.URL + "/no-interval", Interval: 30 * time.Second},
	} {
		if got, err := db.GetSite(ctx, id); err != nil || got != want {
			t.Errorf("GetSite(%d) after the repair = %+v, %v; want %+v", id, got, err, want)
		}
	}
}

// TestAddSiteWithID re-creates a removed site under its old id, refuses a
// taken one, and keeps the sequence ahead so later adds do not collide.
func TestAddSiteWithID(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	a := fixture.AddSite(t, db, "https://a.example/")
	b := fixture.AddSite(t, db, "https://b.example/")
	if err := db.RemoveSites(ctx, []int64{a}); err != nil {
		t.Fatal(err)
	}

	got, err := db.AddSite(ctx, store.SiteInput{ID: a, URL: "https://a-again.example/", Interval: 30})
	if err != nil || got != a {
		t.Fatalf("AddSite(id %d, removed) = %d, %v; want the old id back", a, got, err)
	}
	if s, err := db.GetSite(ctx, a); err != nil || s.URL != "https://a-again.example/" || s.Interval != 30*time.Second {
		t.Errorf("GetSite(%d) = %+v, %v", a, s, err)
	}
	for _, id := range []int64{a, b} {
		_, err := db.AddSite(ctx, store.SiteInput{ID: id, URL: "https://taken.example/"})
		if !errors.Is(err, store.ErrIDTaken) || !errors.Is(err, store.ErrInvalidSite) || !strings.Contains(err.Error(), fmt.Sprint(id)) {
			t.Errorf("AddSite(id %d, taken) = %v, want ErrIDTaken naming it", id, err)
		}
	}
	for _, id := range []int64{-1, store.MaxSiteID + 1} {
		if _, err := db.AddSite(ctx, store.SiteInput{ID: id, URL: "https://x.example/"}); !errors.Is(err, store.ErrInvalidSite) {
			t.Errorf("AddSite(id %d) = %v, want ErrInvalidSite", id, err)
		}
	}

	// Far ahead of the sequence: later adds go past it.
	const far = 1000
	if got, err := db.AddSite(ctx, store.SiteInput{ID: far, URL: "https://far.example/"}); err != nil || got != far {
		t.Fatalf("AddSite(id %d) = %d, %v", far, got, err)
	}
	for range 3 {
		if id := fixture.AddSite(t, db, "https://later.example/"); id <= far {
			t.Errorf("a later add got id %d, not past %d", id, far)
		}
	}
	// Behind the sequence: the sequence is not moved back.
	last := fixture.AddSite(t, db, "https://last.example/")
	if err := db.RemoveSites(ctx, []int64{b}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddSite(ctx, store.SiteInput{ID: b, URL: "https://b-again.example/"}); err != nil {
		t.Fatal(err)
	}
	if id := fixture.AddSite(t, db, "https://after.example/"); id <= last {
		t.Errorf("after re-adding %d, an add got id %d, not past %d", b, id, last)
	}
}
