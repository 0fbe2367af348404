package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sitestat/sitestat/internal/text"
	"github.com/sitestat/sitestat/store"
)

// The windows of the website page; the overview shows 24 h (exact to the
// hour, with its p95) and overviewDays (to the day, from the daily bar's rows).
var (
	siteWindows  = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour, 365 * 24 * time.Hour}
	overviewDays = []int{30, 90}
)

// barDays is the length of the daily uptime bar.
const barDays = 90

type probeView struct {
	Probe, Checked, Code, Time, Error string
	State                             State
}

type siteRow struct {
	ID         int64
	Label, URL string
	State      State
	Probes     []probeView
	Checked    string
	Uptime     []string
	P95        string
	Bar        template.HTML
}

// kindCount is how many websites are in a state other than up or down.
type kindCount struct {
	N    int
	Text string
}

type overviewPage struct {
	Title, Query     string
	Rows             []siteRow
	Total, Up, Down  int
	Counts           []kindCount
	OpenIncidents    int
	Page, Pages      int
	PrevURL, NextURL string
	WindowNames      []string
}

// overview serves /: one row per website, down first, paginated, searchable.
//
//nolint:funlen // filter, count, sort and page the overview in one pass over the websites.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), s.opts.Now().UTC()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > maxQuery {
		s.htmlError(w, r, http.StatusBadRequest, fmt.Sprintf("q must be at most %d bytes", maxQuery))
		return
	}
	needle := strings.ToLower(q)
	sites, err := s.st.SiteStates(ctx, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sites = s.visibleSites(r, sites)
	all, err := s.st.Incidents(ctx, s.incidentQuery(r, store.IncidentQuery{Open: true}))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	open := openDownOf(all)
	page := overviewPage{Title: "Status", Query: q, OpenIncidents: len(all)}
	type entry struct {
		site  store.SiteStatus
		state State
	}
	var list []entry
	others := map[string]int{}
	for i, site := range sites {
		if i%256 == 0 && ctx.Err() != nil {
			s.fail(w, r, fmt.Errorf("overview: %w", context.Cause(ctx)))
			return
		}
		st := stateOf(site, open[site.ID])
		switch st.Kind {
		case KindUp:
			page.Up++
		case KindDown:
			page.Down++
		default:
			others[st.Kind]++
		}
		page.Total++
		if needle != "" && !s.matches(site, needle) {
			continue
		}
		list = append(list, entry{site, st})
	}
	for _, k := range []struct{ kind, text string }{{KindFailing, "failing"}, {KindStale, "stale"},
		{KindMaintenance, "in maintenance"}, {KindNever, "never checked"}} {
		if n := others[k.kind]; n > 0 {
			page.Counts = append(page.Counts, kindCount{N: n, Text: k.text})
		}
	}
	slices.SortStableFunc(list, func(a, b entry) int {
		if a.state.Rank != b.state.Rank {
			return a.state.Rank - b.state.Rank
		}
		return int(a.site.ID - b.site.ID)
	})
	page.Pages = max(1, (len(list)+s.opts.PageSize-1)/s.opts.PageSize)
	page.Page = 1
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.htmlError(w, r, http.StatusBadRequest, "page must be a positive number")
			return
		}
		page.Page = min(n, page.Pages)
	}
	from := (page.Page - 1) * s.opts.PageSize
	list = list[from:min(len(list), from+s.opts.PageSize)]
	ids := make([]int64, len(list))
	for i, e := range list {
		ids[i] = e.site.ID
	}
	sums, err := s.st.SiteSummaries(ctx, ids, 24*time.Hour, barDays, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page.WindowNames = []string{"24h"}
	for _, n := range overviewDays {
		page.WindowNames = append(page.WindowNames, fmt.Sprintf("%dd", n))
	}
	for _, e := range list {
		sum := sums[e.site.ID]
		row := siteRow{ID: e.site.ID, Label: s.label(e.site.ID, e.site.Name, e.site.URL), URL: s.publicURL(e.site.URL),
			State: e.state, Checked: "never", P95: "–", Bar: dayBar(sum.Days)}
		if e.site.Last != nil {
			row.Checked = text.Ago(now.Sub(e.site.Last.CheckedAt))
		}
		if len(e.site.Probes) > 1 {
			row.Probes = s.probeViews(e.site, now)
		}
		row.Uptime = append(row.Uptime, pct(sum.Window.UptimePct))
		row.P95 = ms(sum.Window.P95ResponseMs)
		for _, n := range overviewDays {
			row.Uptime = append(row.Uptime, pct(sum.LastDays(n).UptimePct))
		}
		page.Rows = append(page.Rows, row)
	}
	link := func(p int) string {
		v := url.Values{}
		if q != "" {
			v.Set("q", q)
		}
		v.Set("page", strconv.Itoa(p))
		return "/?" + v.Encode()
	}
	if page.Page > 1 {
		page.PrevURL = link(page.Page - 1)
	}
	if page.Page < page.Pages {
		page.NextURL = link(page.Page + 1)
	}
	s.render(w, r, "overview", page)
}

// maxQuery caps the search q, in bytes: matching costs len(q) per website.
const maxQuery = 200

// matches reports whether the website's name, id or (public) URL contains
// needle, which is lowercase already.
func (s *Server) matches(site store.SiteStatus, needle string) bool {
	if strings.Contains(strings.ToLower(site.Name), needle) || strconv.FormatInt(site.ID, 10) == needle {
		return true
	}
	return s.opts.PublicURLs && strings.Contains(strings.ToLower(s.publicURL(site.URL)), needle)
}

// openDown returns the open down incidents by website.
func (s *Server) openDown(r *http.Request) (map[int64]*store.Incident, error) {
	ins, err := s.st.Incidents(r.Context(), s.incidentQuery(r, store.IncidentQuery{Open: true, Kind: "down"}))
	if err != nil {
		return nil, err
	}
	return openDownOf(ins), nil
}

// openDownOf picks the open down incidents of ins, by website.
func openDownOf(ins []store.Incident) map[int64]*store.Incident {
	out := map[int64]*store.Incident{}
	for i := range ins {
		if in := &ins[i]; in.Kind == "down" && in.ResolvedAt == nil && in.WebsiteID != 0 && out[in.WebsiteID] == nil {
			out[in.WebsiteID] = in
		}
	}
	return out
}

func (s *Server) probeViews(site store.SiteStatus, now time.Time) []probeView {
	var out []probeView
	for _, p := range site.Probes {
		v := probeView{Probe: p.Probe, State: probeState(p, site.AlertAfter), Checked: text.Ago(now.Sub(p.Last.CheckedAt)), Code: "–",
			Time: ms(p.Last.ResponseTimeMs), Error: s.scrub(p.Last.Error)}
		if p.Last.StatusCode != nil {
			v.Code = strconv.Itoa(*p.Last.StatusCode)
		}
		out = append(out, v)
	}
	return out
}

type windowView struct{ Name, Uptime, Availability, Downtime, P95, Checks, ByProbe string }

type incidentView struct {
	ID                          int64
	SiteID                      int64
	Site, Kind, Reason, Error   string
	Started, Resolved, Duration string
	Open                        bool
	Probes                      string
	Notes                       []string
}

type failedView struct{ At, Probe, Reason, Code, Error string }

type sitePage struct {
	Title, URL, Interval, Regex string
	ID                          int64
	State                       State
	Probes                      []probeView
	Windows                     []windowView
	Chart24, Chart7             template.HTML
	Bar                         template.HTML
	TLS, Cert                   string
	Incidents                   []incidentView
	Failed                      []failedView
}

// sitePage serves /sites/{id}.
func (s *Server) sitePage(w http.ResponseWriter, r *http.Request) {
	id, ok := siteID(r)
	if !ok {
		s.htmlError(w, r, http.StatusNotFound, "no such website")
		return
	}
	ctx, now := r.Context(), s.opts.Now().UTC()
	d, err := s.st.SiteDetailWith(ctx, id, now, store.DetailOptions{Windows: siteWindows, Failed: 20, NoCache: true})
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.visible(r, d.SiteStatus)) {
		s.htmlError(w, r, http.StatusNotFound, "no such website")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hours, err := s.st.SiteHours(ctx, id, now.Add(-7*24*time.Hour), now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tls, err := s.st.SiteTLS(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ins, err := s.st.Incidents(ctx, store.IncidentQuery{WebsiteID: id, Limit: 50})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var openDown *store.Incident
	for i := range ins {
		if ins[i].Kind == "down" && ins[i].ResolvedAt == nil && openDown == nil {
			openDown = &ins[i]
		}
	}
	p := sitePage{Title: s.label(d.ID, d.Name, d.URL), URL: s.publicURL(d.URL), ID: d.ID,
		Interval: d.Interval.String(), Regex: d.Regex, State: stateOf(d.SiteStatus, openDown),
		Probes: s.probeViews(d.SiteStatus, now), Bar: dayBar(d.Days),
		Chart24: chart(hours, now.Add(-24*time.Hour), now, "last 24 hours"),
		Chart7:  chart(hours, now.Add(-7*24*time.Hour), now, "last 7 days"),
		TLS:     "–", Cert: "–"}
	if !s.opts.PublicURLs {
		p.Regex = "" // a regex may tell what the page is
	}
	for _, win := range d.Windows {
		v := windowView{Name: windowName(win.Window), Uptime: pct(win.UptimePct), Availability: pct(win.AvailabilityPct),
			Downtime: "–", P95: ms(win.P95ResponseMs), Checks: strconv.FormatInt(win.Checks, 10)}
		if win.Downtime > 0 {
			v.Downtime = duration(win.Downtime)
		}
		if len(win.Probes) > 1 {
			var parts []string
			for _, pu := range win.Probes {
				parts = append(parts, pu.Probe+" "+pct(pu.UptimePct))
			}
			v.ByProbe = strings.Join(parts, ", ")
		}
		p.Windows = append(p.Windows, v)
	}
	if tls != nil {
		p.TLS = tls.Version
		if tls.CertNotAfter != nil {
			left := tls.CertNotAfter.Sub(now)
			p.Cert = tls.CertNotAfter.Format("2006-01-02 15:04 UTC")
			if left < 0 {
				p.Cert += " (expired)"
			} else {
				p.Cert += fmt.Sprintf(" (in %d days)", int(left.Hours()/24))
			}
		}
	}
	for _, in := range ins {
		p.Incidents = append(p.Incidents, s.incidentView(in, p.Title, now))
	}
	for _, f := range d.Failed {
		v := failedView{At: f.CheckedAt.Format("2006-01-02 15:04:05"), Probe: f.Probe, Reason: string(f.Reason), Code: "–",
			Error: s.scrub(f.Error)}
		if f.StatusCode != nil {
			v.Code = strconv.Itoa(*f.StatusCode)
		}
		p.Failed = append(p.Failed, v)
	}
	s.render(w, r, "site", p)
}

func (s *Server) incidentView(in store.Incident, site string, now time.Time) incidentView {
	v := incidentView{ID: in.ID, SiteID: in.WebsiteID, Site: site, Kind: in.Kind, Reason: in.Reason,
		Error: s.scrub(in.Error), Started: in.StartedAt.Format("2006-01-02 15:04"),
		Open: in.ResolvedAt == nil, Probes: strings.Join(in.Probes, ", ")}
	end := now
	if in.ResolvedAt != nil {
		end = *in.ResolvedAt
		v.Resolved = in.ResolvedAt.Format("2006-01-02 15:04")
	}
	v.Duration = duration(end.Sub(in.StartedAt))
	for _, n := range in.Notifications {
		v.Notes = append(v.Notes, fmt.Sprintf("%s %s: %s", n.Event, n.Channel, n.State()))
	}
	return v
}

type incidentsPage struct {
	Title     string
	Incidents []incidentView
}

// incidentsPage serves /incidents: open first, then the 200 most recent.
func (s *Server) incidentsPage(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), s.opts.Now().UTC()
	ins, err := s.st.Incidents(ctx, s.incidentQuery(r, store.IncidentQuery{Limit: 200}))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sites, err := s.st.SiteStates(ctx, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	byID := map[int64]store.SiteStatus{}
	for _, st := range sites {
		byID[st.ID] = st
	}
	p := incidentsPage{Title: "Incidents"}
	for _, in := range ins {
		name := "all websites"
		if site, ok := byID[in.WebsiteID]; ok {
			name = s.label(site.ID, site.Name, site.URL)
		}
		p.Incidents = append(p.Incidents, s.incidentView(in, name, now))
	}
	s.render(w, r, "incidents", p)
}

// siteID reads the {id} of the path: a positive integer.
func siteID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0 && id <= store.MaxSiteID
}

// render executes the page template name into a buffer first, so that a
// failure yields a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.fail(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = buf.WriteTo(w)
}

type errorPage struct {
	Title, Message string
	Code           int
}

// htmlError answers with an HTML error page.
func (s *Server) htmlError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	var buf bytes.Buffer
	_ = pages.ExecuteTemplate(&buf, "error", errorPage{Title: http.StatusText(code), Message: msg, Code: code})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

// fail logs err and answers 500, or 503 when the request's context ended
// (the client went away, or the request timeout passed).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		s.log.Warn("request stopped", "path", r.URL.Path, "err", err)
		const msg = "the request took too long; try again"
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeJSONError(w, http.StatusServiceUnavailable, msg)
			return
		}
		s.htmlError(w, r, http.StatusServiceUnavailable, msg)
		return
	}
	s.log.Error("request failed", "path", r.URL.Path, "err", err)
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSONError(w, http.StatusInternalServerError, "internal error; see the server log")
		return
	}
	s.htmlError(w, r, http.StatusInternalServerError, "internal error; see the server log")
}
