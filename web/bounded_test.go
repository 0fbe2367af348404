package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/web"
)

// manySites is a web.Store with n websites in memory; the methods the
// overview does not call are left to the embedded nil interface. block makes
// SiteStates wait for its context to end.
type manySites struct {
	web.Store
	n     int
	block bool
}

func (m manySites) SiteStates(ctx context.Context, _ time.Time) ([]store.SiteStatus, error) {
	if m.block {
		<-ctx.Done()
		return nil, fmt.Errorf("site states: %w", ctx.Err())
	}
	out := make([]store.SiteStatus, m.n)
	for i := range out {
		out[i] = store.SiteStatus{ID: int64(i + 1), Name: fmt.Sprintf("Shop number %d", i+1),
			URL: fmt.Sprintf("https://shop%d.example/health", i+1), Interval: time.Minute, Public: true}
	}
	return out, nil
}

func (m manySites) StatusNoP95(ctx context.Context, _ time.Duration, now time.Time) ([]store.SiteStatus, error) {
	return m.SiteStates(ctx, now)
}

func (m manySites) Incidents(context.Context, store.IncidentQuery) ([]store.Incident, error) {
	return nil, nil
}

func (m manySites) SiteSummaries(_ context.Context, ids []int64, _ time.Duration, _ int, _ time.Time) (map[int64]store.SiteSummary, error) {
	return map[int64]store.SiteSummary{}, nil
}

// TestSearchIsBounded: a 1 MiB q is refused at once with one clear line; a
// q at the cap is served over 10,000 websites quickly.
func TestSearchIsBounded(t *testing.T) {
	h := web.New(manySites{n: 10000}, web.Options{PublicURLs: true})
	done := make(chan struct{})
	var code int
	var body string
	go func() {
		defer close(done)
		res, b := get(t, h, "/?q="+strings.Repeat("a", 1<<20))
		code, body = res.StatusCode, b
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a 1 MiB q was not answered within 5 s")
	}
	if code != http.StatusBadRequest || !strings.Contains(body, "q must be at most 200 bytes") {
		t.Errorf("1 MiB q: status %d, body %q; want 400 saying the cap", code, body)
	}
	start := time.Now()
	res, body := get(t, h, "/?q="+strings.Repeat("A", 199)+"9")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Status") {
		t.Errorf("200-byte q: status %d", res.StatusCode)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a 200-byte q over 10,000 websites took %s", d)
	}
	if res, body := get(t, h, "/?q=NUMBER+42"); res.StatusCode != 200 || !strings.Contains(body, "Shop number 42<") {
		t.Errorf("q=NUMBER 42: status %d, the site not found case-insensitively", res.StatusCode)
	}
}

// TestHandlersStopWithTheirContext: a handler stops when its request's
// context ends — a client gone (the in-memory loop over the websites stops)
// or the server's request timeout (a slow query is cancelled) — and answers
// 503.
func TestHandlersStopWithTheirContext(t *testing.T) {
	h := web.New(manySites{n: 10000}, web.Options{PublicURLs: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?q=shop", nil).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("overview with its context ended: status %d, want 503", rec.Code)
	}

	slow := web.New(manySites{block: true}, web.Options{RequestTimeout: 200 * time.Millisecond})
	srv := httptest.NewServer(slow)
	t.Cleanup(srv.Close)
	for _, path := range []string{"/", "/api/v1/sites"} {
		client := &http.Client{Timeout: 5 * time.Second}
		start := time.Now()
		res, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("%s: %v (the handler did not stop at the request timeout)", path, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || time.Since(start) > 3*time.Second {
			t.Errorf("%s: status %d after %s, want 503 soon after the 200 ms timeout", path, res.StatusCode, time.Since(start))
		}
	}
}
