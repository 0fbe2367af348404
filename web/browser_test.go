package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/web"
)

// chromium returns the path of Debian's chromium; it skips the test when
// there is none, and fails it under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: under CI the browser test must run (make test-tools installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium, or make test-tools)")
	return ""
}

// demoSites are the websites of the browser test and of make screenshots.
type demoSites struct {
	shop, api, blog, docs, mirror, intranet int64
}

// seedDemo fills db with six websites — up, down (an open incident), stale,
// never checked, failing on one of two probes, in maintenance — with 7 days
// of checks and 90 days of daily rollups.
func seedDemo(t *testing.T, db *store.DB) demoSites {
	t.Helper()
	ctx := context.Background()
	add := func(name, url string) int64 {
		id, err := db.AddSite(ctx, store.SiteInput{URL: url, Name: name, Interval: 60})
		if err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
		return id
	}
	s := demoSites{
		shop:     add("Shop", "https://shop.example.com/"),
		api:      add("Public API", "https://api.example.com/health"),
		blog:     add("Blog", "https://blog.example.com/"),
		docs:     add("Docs", "https://docs.example.com/"),
		mirror:   add("Status mirror", "https://mirror.example.com/"),
		intranet: add("Intranet", "https://intranet.example.com/"),
	}
	now := time.Now().UTC().Truncate(time.Minute)
	from := now.Add(-7 * 24 * time.Hour)
	// The sites were added before the history below (availability counts
	// from a site's creation).
	if _, err := db.SQL().ExecContext(ctx, "UPDATE websites SET created_at = $1", now.Add(-90*24*time.Hour)); err != nil {
		t.Fatalf("backdate websites: %v", err)
	}
	if _, err := db.EnsurePartitions(ctx, from, now); err != nil {
		t.Fatalf("partitions: %v", err)
	}
	var rs []contract.Result
	result := func(id int64, probe string, at time.Time, rt float64, reason contract.Reason) {
		r := fixture.Result(id)
		r.Probe, r.CheckedAt, r.ResponseTimeMs = probe, at, rt
		tls := "TLS 1.3"
		exp := now.Add(45 * 24 * time.Hour)
		r.TLSVersion, r.CertNotAfter = tls, &exp
		if reason != contract.ReasonOK {
			r.Up, r.Reason, r.StatusCode, r.Error = false, reason, nil, string(reason)+" after "+strconv.Itoa(int(rt))+" ms"
		}
		rs = append(rs, r)
	}
	for i, at := 0, from; at.Before(now); i, at = i+1, at.Add(20*time.Minute) {
		wave := float64(i%72) * 2
		reason := contract.ReasonOK
		if i%97 == 13 {
			reason = contract.ReasonTimeout
		}
		result(s.shop, "eu", at, 80+wave+float64(i%7)*9, reason)
		apiReason := contract.ReasonOK
		if now.Sub(at) < 2*time.Hour {
			apiReason = contract.ReasonHTTPStatus
		}
		result(s.api, "eu", at, 40+wave/2, apiReason)
		if now.Sub(at) > 3*time.Hour {
			result(s.blog, "eu", at, 150+wave, contract.ReasonOK)
		}
		result(s.mirror, "eu", at, 60+wave, contract.ReasonOK)
		mirrorReason := contract.ReasonOK
		if now.Sub(at) < 40*time.Minute {
			mirrorReason = contract.ReasonConnectionRefused
		}
		result(s.mirror, "us", at, 120+wave, mirrorReason)
		result(s.intranet, "eu", at, 70+wave, contract.ReasonOK)
	}
	// The latest check of each live site is a minute old, so none is stale.
	result(s.shop, "eu", now.Add(-time.Minute), 90, contract.ReasonOK)
	result(s.api, "eu", now.Add(-time.Minute), 41, contract.ReasonHTTPStatus)
	result(s.mirror, "eu", now.Add(-time.Minute), 61, contract.ReasonOK)
	result(s.mirror, "us", now.Add(-time.Minute), 0, contract.ReasonConnectionRefused)
	result(s.intranet, "eu", now.Add(-time.Minute), 0, contract.ReasonConnectionRefused)
	if _, err := db.AddMaintenance(ctx, store.MaintenanceWindow{WebsiteID: s.intranet, From: now.Add(-30 * time.Minute),
		Until: now.Add(2 * time.Hour), Reason: "network upgrade"}, now); err != nil {
		t.Fatalf("add maintenance: %v", err)
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatalf("insert results: %v", err)
	}
	// Days 8 to 89 ago, as daily rollups: mostly up, a few bad days (written
	// as sitestat's merge writes them: website_status_daily refuses others).
	ids := strings.Join([]string{itoa(s.shop), itoa(s.api), itoa(s.blog), itoa(s.mirror)}, ",")
	if _, err := db.SQL().ExecContext(ctx, `
		SELECT set_config('sitestat.writer_version', '3', true);
		INSERT INTO website_status_daily (website_id, probe, day, checks, up_checks)
		SELECT w, 'eu', (now() AT TIME ZONE 'UTC')::date - d, 1440,
		       1440 - CASE WHEN (w * 7 + d) % 23 = 0 THEN 200 WHEN (w + d) % 11 = 0 THEN 5 ELSE 0 END
		FROM unnest('{`+ids+`}'::int[]) w, generate_series(8, 89) d
		ON CONFLICT DO NOTHING`); err != nil {
		t.Fatalf("insert daily rollups: %v", err)
	}
	// InsertResults may have opened the site's down incident already: give
	// it the demo's start, error and probes.
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO incidents (website_id, kind, started_at, reason, error, probes)
		VALUES ($1, 'down', $2, 'http_status', 'status 503', '{eu}')
		ON CONFLICT (website_id, kind) WHERE resolved_at IS NULL AND website_id IS NOT NULL
		DO UPDATE SET started_at = excluded.started_at, reason = excluded.reason, error = excluded.error, probes = excluded.probes`,
		s.api, now.Add(-2*time.Hour)); err != nil {
		t.Fatalf("insert incident: %v", err)
	}
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO incidents (website_id, kind, started_at, resolved_at, reason, probes)
		VALUES ($1, 'down', $2, $3, 'timeout', '{eu}')`, s.shop, now.Add(-50*time.Hour), now.Add(-49*time.Hour)); err != nil {
		t.Fatalf("insert incident: %v", err)
	}
	return s
}

// TestBrowser opens the status page in headless Chromium: every website has
// a row with a 90-day bar, no console error, a site link leads to a chart
// with points, the dark scheme renders, and at 360 px (a phone) the pages
// fit without sideways scrolling (fitJS). Screenshots go to
// SITESTAT_SCREENSHOT_DIR (make screenshots: docs/) or a temporary folder.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	db, _ := fixture.MigratedDB(t)
	sites := seedDemo(t, db)
	srv := httptest.NewServer(web.New(db, web.Options{PublicURLs: true}))
	defer srv.Close()

	dir := os.Getenv("SITESTAT_SCREENSHOT_DIR")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "sitestat-screenshots-"); err != nil {
			t.Fatal(err)
		}
	}
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 1000))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console."+string(ev.Type))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(bctx, cdplog.Enable, struct{}{}); err != nil {
		t.Fatalf("enable log: %v", err)
	}
	if _, err := chromedp.Call(bctx, runtime.Enable, struct{}{}); err != nil {
		t.Fatalf("enable runtime: %v", err)
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	// The overview: one row per website, each with 90 days.
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("sites"))); err != nil {
		t.Fatalf("open overview: %v", err)
	}
	type row struct {
		Name  string `json:"name"`
		State string `json:"state"`
		Days  int    `json:"days"`
		Text  string `json:"text"`
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]row](`[...document.querySelectorAll("tr.site")].map(r => ({
		name: r.querySelector("a").textContent, state: r.dataset.state,
		days: r.querySelectorAll("svg.bar rect").length, text: r.innerText}))`))
	if err != nil {
		t.Fatalf("read rows: %v", err)
	}
	want := map[string]string{"Shop": "up", "Public API": "down", "Blog": "stale", "Docs": "never", "Status mirror": "failing",
		"Intranet": "maintenance"}
	if len(rows) != len(want) {
		t.Errorf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for _, r := range rows {
		if want[r.Name] != r.State {
			t.Errorf("row %q: state %q, want %q", r.Name, r.State, want[r.Name])
		}
		if r.Days != 90 {
			t.Errorf("row %q: %d days in its bar, want 90", r.Name, r.Days)
		}
	}
	if len(rows) > 0 && rows[0].State != "down" {
		t.Errorf("first row is %q (%s), want the down one first", rows[0].Name, rows[0].State)
	}
	fitCheck(bctx, t, "overview at 1280 px", 1280)
	// The desktop keeps its table: a header row and one line per site.
	heads, err := chromedp.Run(bctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#sites thead th")].filter(th => th.getBoundingClientRect().height > 0).length`))
	if err != nil || heads < 6 {
		t.Errorf("at 1280 px the overview shows %d column headers (%v), want the table's", heads, err)
	}
	shot("overview.png")

	// Follow the link to a website: its charts have points.
	link := fmt.Sprintf(`a[href="/sites/%d"]`, sites.shop)
	if _, err := chromedp.Run(bctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(link)))); err != nil {
		t.Fatalf("follow %s: %v", link, err)
	}
	path, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil || path != "/sites/"+itoa(sites.shop) {
		t.Fatalf("after the click: at %q (%v)", path, err)
	}
	points, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[...document.querySelectorAll("figure.chart svg")].map(s =>
		s.querySelectorAll("circle.pt").length + (s.querySelector("polyline.p95")?.points.numberOfItems || 0))`))
	if err != nil {
		t.Fatalf("read charts: %v", err)
	}
	if len(points) != 2 || points[0] == 0 || points[1] < 7*24 {
		t.Errorf("chart points %v, want two charts, the 7-day one with a point per hour", points)
	}
	fitCheck(bctx, t, "site page at 1280 px", 1280)
	shot("site.png")

	// A phone, 360 px wide: the overview, a site page and the incidents
	// fit without sideways scrolling, each site's state and 90-day bar are
	// on screen, and the chart labels are legible.
	phone(bctx, t, 360)
	for _, p := range []struct{ path, css, shot string }{
		{"/", "#sites", "overview-360.png"},
		{"/sites/" + itoa(sites.shop), "#uptime", "site-360.png"},
		{"/incidents", "table.incidents", ""},
	} {
		load(bctx, t, srv.URL+p.path, p.css)
		fitCheck(bctx, t, p.path+" at 360 px", 360)
		if p.shot != "" {
			shot(p.shot)
		}
	}
	if _, err := chromedp.Call(bctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatalf("clear the phone: %v", err)
	}

	// The dark scheme.
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatalf("emulate dark: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("sites"))); err != nil {
		t.Fatalf("open overview: %v", err)
	}
	bg, err := chromedp.Run(bctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if err != nil || bg != "rgb(13, 17, 23)" {
		t.Errorf("dark background %q (%v), want rgb(13, 17, 23)", bg, err)
	}
	shot("overview-dark.png")
	phone(bctx, t, 360)
	load(bctx, t, srv.URL+"/", "#sites")
	fitCheck(bctx, t, "dark overview at 360 px", 360)
	shot("overview-360-dark.png")

	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("console errors: %s", strings.Join(problems, "; "))
	}
}

// phone makes the page a phone's: width CSS pixels wide, the viewport meta
// tag honoured, overlay scrollbars.
func phone(bctx context.Context, t *testing.T, width int64) {
	t.Helper()
	if _, err := chromedp.Call(bctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: 800, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatalf("emulate a %d px phone: %v", width, err)
	}
}

// load loads url and waits for the element that css selects.
func load(bctx context.Context, t *testing.T, url, css string) {
	t.Helper()
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(css))); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// fitJS lists, in the browser, what does not fit a window of width px: a
// page or an element that scrolls sideways, a site row whose state or
// 90-day bar is not wholly on screen (or is clipped by a scroller), a bar
// narrower than a pixel a day, a chart label rendered under 10 px.
const fitJS = `(width) => {
	const p = [], de = document.documentElement;
	if (window.innerWidth !== width) p.push("the window is " + window.innerWidth + " px wide (zoomed out to fit?)");
	if (de.scrollWidth > width) p.push("the page is " + de.scrollWidth + " px wide");
	const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.classList.length ? "." + [...el.classList].join(".") : "");
	for (const el of document.body.querySelectorAll("*")) {
		const ox = getComputedStyle(el).overflowX;
		if (ox !== "visible" && el.scrollWidth > el.clientWidth + 1) p.push(name(el) + " scrolls sideways: " + el.scrollWidth + " px in " + el.clientWidth);
	}
	const shown = (el, what) => {
		const r = el.getBoundingClientRect();
		if (r.width === 0 || r.height === 0) { p.push(what + " is not shown"); return r; }
		if (r.left < -0.5 || r.right > width + 0.5) p.push(what + " spans x " + Math.round(r.left) + ".." + Math.round(r.right));
		for (let a = el.parentElement; a; a = a.parentElement) {
			if (getComputedStyle(a).overflowX === "visible") continue;
			const c = a.getBoundingClientRect();
			if (r.left < c.left - 0.5 || r.right > c.right + 0.5) p.push(what + " is clipped by " + name(a));
		}
		return r;
	};
	for (const row of document.querySelectorAll("tr.site")) {
		const site = row.querySelector("a").textContent;
		const st = row.querySelector(".state");
		shown(st, site + ": state " + JSON.stringify(st.textContent));
		const bar = row.querySelector("svg.bar");
		if (shown(bar, site + ": 90-day bar").width < 90) p.push(site + ": 90-day bar " + Math.round(bar.getBoundingClientRect().width) + " px wide");
	}
	const labels = [...document.querySelectorAll("figure.chart .axis")];
	if (document.querySelector("figure.chart") && labels.length === 0) p.push("charts without labels");
	for (const l of labels) {
		const m = l.getScreenCTM ? l.getScreenCTM() : null;
		const px = parseFloat(getComputedStyle(l).fontSize) * (m ? Math.hypot(m.a, m.b) : 1);
		if (px < 10) p.push("chart label " + JSON.stringify(l.textContent) + " is " + px.toFixed(1) + " px");
		shown(l, "chart label " + JSON.stringify(l.textContent));
	}
	return p;
}`

// fitCheck fails the test with what fitJS finds on the page now.
func fitCheck(bctx context.Context, t *testing.T, what string, width int) {
	t.Helper()
	problems, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](fmt.Sprintf("(%s)(%d)", fitJS, width)))
	if err != nil {
		t.Fatalf("%s: measure: %v", what, err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", what, p)
	}
}
