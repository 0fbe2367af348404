package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/sitestat/sitestat/store"
)

// dayBar draws the daily uptime bar: one rect per day, coloured by band,
// with a title (date, uptime, checks) that a pointer or a screen reader
// shows. Text is escaped by template.HTMLEscapeString: nothing in it comes
// from the database but numbers and dates.
func dayBar(days []store.DayStatus) template.HTML {
	const w, gap, h = 4, 1, 24
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" role="img" aria-label="daily uptime, %d days" viewBox="0 0 %d %d" width="%d" height="%d" preserveAspectRatio="none">`,
		len(days), len(days)*(w+gap), h, len(days)*(w+gap), h)
	for i, d := range days {
		fmt.Fprintf(&b, `<rect class="%s" x="%d" width="%d" height="%d"><title>%s</title></rect>`,
			band(d.UptimePct()), i*(w+gap), w, h, template.HTMLEscapeString(dayTitle(d)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: built from numbers and escaped text only
}

// chart draws the response time of the hours from..now: the p50 and p95 of
// each hour as two lines with a point per hour, and a mark at the top of
// each hour with failed checks (its title says how many).
func chart(hours []store.HourStatus, from, now time.Time, caption string) template.HTML {
	const W, H, left, top, bottom = 720.0, 180.0, 48.0, 12.0, 20.0
	var in []store.HourStatus
	maxMs := 0.0
	for _, h := range hours {
		if h.Hour.Before(from.Truncate(time.Hour)) || h.Hour.After(now) {
			continue
		}
		in = append(in, h)
		if h.P95Ms != nil && *h.P95Ms > maxMs {
			maxMs = *h.P95Ms
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart"><svg role="img" aria-label="response time, %s" viewBox="0 0 %.0f %.0f">`,
		template.HTMLEscapeString(caption), W, H)
	if len(in) == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="axis">no checks in the %s</text></svg></figure>`, W/2-80, H/2, template.HTMLEscapeString(caption))
		return template.HTML(b.String())
	}
	if maxMs == 0 {
		maxMs = 1
	}
	maxMs *= 1.1
	span := now.Sub(from.Truncate(time.Hour)).Hours()
	x := func(t time.Time) float64 { return left + (W-left-8)*t.Sub(from.Truncate(time.Hour)).Hours()/span }
	y := func(v float64) float64 { return top + (H-top-bottom)*(1-v/maxMs) }
	// Axes and labels.
	fmt.Fprintf(&b, `<line class="grid" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, left, H-bottom, W-8, H-bottom)
	for _, f := range []float64{0.5, 1} {
		v := maxMs * f / 1.1
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/><text class="axis" x="2" y="%.1f">%s</text>`,
			left, y(v), W-8, y(v), y(v)+4, template.HTMLEscapeString(ms(&v)))
	}
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f">%s</text><text class="axis" x="%.0f" y="%.0f" text-anchor="end">now</text>`,
		left, H-4, from.UTC().Format("Jan 2 15:04"), W-8, H-4)
	for _, q := range []struct {
		class string
		get   func(store.HourStatus) *float64
	}{{"p95", func(h store.HourStatus) *float64 { return h.P95Ms }}, {"p50", func(h store.HourStatus) *float64 { return h.P50Ms }}} {
		var pts []string
		for _, h := range in {
			if v := q.get(h); v != nil {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(h.Hour), y(*v)))
			}
		}
		fmt.Fprintf(&b, `<polyline class="line %s" points="%s"/>`, q.class, strings.Join(pts, " "))
		for _, h := range in {
			if v := q.get(h); v != nil {
				fmt.Fprintf(&b, `<circle class="pt %s" cx="%.1f" cy="%.1f" r="2"><title>%s %s: %s</title></circle>`,
					q.class, x(h.Hour), y(*v), h.Hour.Format("Jan 2 15:00"), q.class, template.HTMLEscapeString(ms(v)))
			}
		}
	}
	for _, h := range in {
		if failed := h.Checks - h.UpChecks; failed > 0 {
			fmt.Fprintf(&b, `<path class="fail" d="M%.1f %.1f l-4 -8 h8 z"><title>%s: %d of %d checks failed</title></path>`,
				x(h.Hour), top+8, h.Hour.Format("Jan 2 15:00"), failed, h.Checks)
		}
	}
	fmt.Fprintf(&b, `</svg><figcaption>%s: <span class="k p50">━ p50</span> <span class="k p95">━ p95</span> per hour, <span class="k fail">▼ failed checks</span></figcaption></figure>`,
		template.HTMLEscapeString(caption))
	return template.HTML(b.String())
}
