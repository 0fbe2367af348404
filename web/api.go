package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sitestat/sitestat/api"
	"github.com/sitestat/sitestat/store"
)

// show is what the API shows: URLs through publicURL, error texts through
// scrub, no checker hosts, percentages and p95s rounded.
func (s *Server) show() api.Show {
	return api.Show{URL: s.publicURL, Text: s.scrub, Round: true}
}

// apiSites serves /api/v1/sites: every website, its state and 24 h uptime
// (its p95 is in /api/v1/sites/{id}: merging 10,000 websites' histograms
// would cost the list seconds).
func (s *Server) apiSites(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now().UTC()
	sites, err := s.st.StatusNoP95(r.Context(), 24*time.Hour, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sites = s.visibleSites(r, sites)
	open, err := s.openDown(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]api.Site, 0, len(sites))
	for _, site := range sites {
		out = append(out, api.SiteOf(site, 24*time.Hour, open[site.ID], now, s.show()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": out})
}

// apiSite serves /api/v1/sites/{id}: the website, its windows and TLS.
func (s *Server) apiSite(w http.ResponseWriter, r *http.Request) {
	id, ok := siteID(r)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "no such website")
		return
	}
	ctx, now := r.Context(), s.opts.Now().UTC()
	d, err := s.st.SiteDetailWith(ctx, id, now, store.DetailOptions{Windows: siteWindows, Failed: 20, NoCache: true})
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.visible(r, d.SiteStatus)) {
		writeJSONError(w, http.StatusNotFound, "no such website")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	open, err := s.openDown(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tls, err := s.st.SiteTLS(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.DetailOf(d, open[id], now, s.show())
	if tls != nil {
		out.TLSVersion, out.CertNotAfter = tls.Version, tls.CertNotAfter
	}
	writeJSON(w, http.StatusOK, out)
}

// uptimeOf reads the uptime of website id over win; found is false when
// there is no such website.
func (s *Server) uptimeOf(r *http.Request, id int64, win time.Duration) (store.WindowStatus, bool, error) {
	now := s.opts.Now().UTC()
	site, err := s.st.SiteState(r.Context(), id, now)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.visible(r, site)) {
		return store.WindowStatus{}, false, nil
	}
	if err != nil {
		return store.WindowStatus{}, false, err
	}
	sums, err := s.st.SiteSummaries(r.Context(), []int64{id}, win, 0, now)
	if err != nil {
		return store.WindowStatus{}, false, err
	}
	ws := sums[id].Window
	ws.Window = win
	return ws, true, nil
}

// apiUptime serves /api/v1/sites/{id}/uptime?window=30d (default 24h).
func (s *Server) apiUptime(w http.ResponseWriter, r *http.Request) {
	id, ok := siteID(r)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "no such website")
		return
	}
	ws := r.URL.Query().Get("window")
	if ws == "" {
		ws = "24h"
	}
	win, ok := parseWindow(ws)
	if !ok {
		writeJSONError(w, http.StatusBadRequest, "window must be 1h..8760h or 1d..365d, e.g. 30d")
		return
	}
	up, found, err := s.uptimeOf(r, id, win)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		writeJSONError(w, http.StatusNotFound, "no such website")
		return
	}
	writeJSON(w, http.StatusOK, api.UptimeOf(id, up, s.show()))
}

// maxChecks is the largest page of /api/v1/sites/{id}/checks.
const maxChecks = 1000

// apiChecks serves /api/v1/sites/{id}/checks?since=T&limit=N: raw checks
// after since (RFC 3339; default 24 h ago), oldest first, with the URL of the
// next page.
func (s *Server) apiChecks(w http.ResponseWriter, r *http.Request) {
	id, ok := siteID(r)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "no such website")
		return
	}
	now := s.opts.Now().UTC()
	q := r.URL.Query()
	since := now.Add(-24 * time.Hour)
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, "since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
			return
		}
		since = t
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxChecks {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("limit must be 1..%d", maxChecks))
			return
		}
		limit = n
	}
	site, err := s.st.SiteState(r.Context(), id, now)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.visible(r, site)) {
		writeJSONError(w, http.StatusNotFound, "no such website")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	checks, err := s.st.Checks(r.Context(), id, since, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Checks []api.Check `json:"checks"`
		Next   string      `json:"next,omitempty"`
	}{Checks: []api.Check{}}
	for _, c := range checks {
		out.Checks = append(out.Checks, api.CheckOf(c, s.show()))
	}
	if len(checks) == limit {
		v := url.Values{"since": {checks[len(checks)-1].CheckedAt.Format(time.RFC3339Nano)}, "limit": {strconv.Itoa(limit)}}
		out.Next = fmt.Sprintf("/api/v1/sites/%d/checks?%s", id, v.Encode())
	}
	writeJSON(w, http.StatusOK, out)
}

// apiIncidents serves /api/v1/incidents[?open=true]: open first, then the
// 200 most recent.
func (s *Server) apiIncidents(w http.ResponseWriter, r *http.Request) {
	q := store.IncidentQuery{Limit: 200}
	switch v := r.URL.Query().Get("open"); v {
	case "", "false":
	case "true":
		q.Open = true
	default:
		writeJSONError(w, http.StatusBadRequest, "open must be true or false")
		return
	}
	ins, err := s.st.Incidents(r.Context(), s.incidentQuery(r, q))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.opts.Now().UTC()
	out := make([]api.Incident, 0, len(ins))
	for _, in := range ins {
		out = append(out, api.IncidentOf(in, "", now, s.show()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": out})
}

// writeJSON answers v as indented JSON (read by people with curl as much as
// by programs). <, > and & stay escaped as \u003c…: a browser tricked into
// reading the JSON as HTML still finds no markup in it.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"encode response","status":500}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

// writeJSONError answers {"error": msg, "status": code}.
func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": msg, "status": code})
}

// badgeCache is the Cache-Control of badges: a README embedding one asks at
// most once a minute per viewer (and shields.io caches it as long).
const badgeCache = "public, max-age=60"

var badgeColors = map[string]string{
	KindUp: "#2ea043", KindDown: "#cf222e", KindFailing: "#bf8700", KindStale: "#6e7781", KindMaintenance: "#6e7781", KindNever: "#6e7781",
}

// badgeStatus serves /badge/{id}/status.svg.
func (s *Server) badgeStatus(w http.ResponseWriter, r *http.Request) {
	id, ok := siteID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	site, err := s.st.SiteState(r.Context(), id, s.opts.Now().UTC())
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.visible(r, site)) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ins, err := s.st.Incidents(r.Context(), store.IncidentQuery{WebsiteID: id, Open: true, Kind: "down", Limit: 1})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var open *store.Incident
	if len(ins) > 0 {
		open = &ins[0]
	}
	st := stateOf(site, open)
	msg := st.Kind
	if st.Kind == KindNever {
		msg = "never checked"
	}
	writeBadge(w, "status", msg, badgeColors[st.Kind])
}

// badgeUptime serves /badge/{id}/uptime/{24h|7d|30d|90d}.svg and .json (the
// shields.io endpoint form).
func (s *Server) badgeUptime(w http.ResponseWriter, r *http.Request) {
	id, ok := siteID(r)
	file := r.PathValue("file")
	name, ext, _ := strings.Cut(file, ".")
	win, wok := parseWindow(name)
	if !ok || (ext != "svg" && ext != "json") || !wok || (name != "24h" && name != "7d" && name != "30d" && name != "90d") {
		http.NotFound(w, r)
		return
	}
	ws, found, err := s.uptimeOf(r, id, win)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	up := api.WindowOf(ws, s.show())
	label, msg := "uptime "+name, "no data"
	color := "#6e7781"
	if up.UptimePct != nil {
		msg = pct(up.UptimePct)
		switch band(up.UptimePct) {
		case "b100":
			color = "#2ea043"
		case "b99":
			color = "#4ac26b"
		case "b95":
			color = "#bf8700"
		default:
			color = "#cf222e"
		}
	}
	if ext == "json" {
		w.Header().Set("Cache-Control", badgeCache)
		b, _ := json.Marshal(map[string]any{"schemaVersion": 1, "label": label, "message": msg, "color": strings.TrimPrefix(color, "#"),
			"cacheSeconds": 60})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
		return
	}
	writeBadge(w, label, msg, color)
}

// writeBadge writes a flat shields-style SVG badge. Text widths are
// estimated at 6.5 px per character (Verdana 11 px averages about that).
func writeBadge(w http.ResponseWriter, label, msg, color string) {
	lw, mw := 10+int(6.5*float64(len([]rune(label)))), 10+int(6.5*float64(len([]rune(msg))))
	e := template.HTMLEscapeString
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`+
		`<title>%s: %s</title><rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%d" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`,
		lw+mw, e(label), e(msg), e(label), e(msg), lw, lw, mw, e(color), lw/2, e(label), lw+mw/2, e(msg))
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", badgeCache)
	_, _ = w.Write([]byte(svg))
}
