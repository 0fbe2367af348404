package store_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/store"
)

func TestValidateSiteInput(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", store.MaxURLLength-len("https://example.com/"))
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
		{long + "a", 5, "", "longer than 2048"},
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
	want := []checker.Site{
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
		want    checker.Site
		wantErr error
	}{
		{"url", a, store.SiteUpdate{URL: &url}, checker.Site{ID: a, URL: url, Interval: 30 * time.Second, Regex: "Welcome"}, nil},
		{"interval and regex", a, store.SiteUpdate{Interval: &interval, Regex: &regex}, checker.Site{ID: a, URL: url, Interval: 2 * time.Minute, Regex: "Hello"}, nil},
		{"clear regex", a, store.SiteUpdate{ClearRegex: true}, checker.Site{ID: a, URL: url, Interval: 2 * time.Minute}, nil},
		{"bad interval changes nothing", a, store.SiteUpdate{Interval: ptr(0), URL: ptr("https://a3.example/")}, checker.Site{ID: a, URL: url, Interval: 2 * time.Minute}, store.ErrInvalidSite},
		{"bad regex", a, store.SiteUpdate{Regex: ptr("(")}, checker.Site{ID: a, URL: url, Interval: 2 * time.Minute}, store.ErrInvalidSite},
		{"missing site", b + 100, store.SiteUpdate{URL: &url}, checker.Site{}, store.ErrNotFound},
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

	if _, err := db.InsertResults(ctx, []checker.Result{newResult(a, time.Now(), true, 200, 1), newResult(a, time.Now(), true, 200, 1)}); err != nil {
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
	if n := mustCount(t, db, "SELECT count(*) FROM websites"); n != 2 {
		t.Errorf("a failed RemoveSites left %d websites, want 2", n)
	}
	if err := db.RemoveSites(ctx, []int64{a}); err != nil {
		t.Fatalf("RemoveSites: %v", err)
	}
	if n := mustCount(t, db, "SELECT count(*) FROM website_status"); n != 0 {
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
