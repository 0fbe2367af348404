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

// The chart's plot area in SVG user units: W×H with margins at the top (for
// the failed-check marks), left and right (so the first and latest points
// show whole) and the bottom (for the time labels, which are HTML over it).
const chartW, chartH, chartTop, chartLeft, chartRight, chartBottom = 672.0, 180.0, 12.0, 4.0, 8.0, 20.0

// chart draws the response time of the hours from..now: the p50 and p95 of
// each hour as two lines with a point per hour, and a mark at the top of
// each hour with failed checks (its title says how many). The SVG stretches
// to its box (wide on a desktop, taller for its width on a phone); the axis
// labels are HTML laid over it, so they keep their CSS size at any width.
func chart(hours []store.HourStatus, from, now time.Time, caption string) template.HTML {
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
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart"><div class="plot"><svg role="img" aria-label="response time, %s" viewBox="0 0 %.0f %.0f" preserveAspectRatio="none">`,
		esc(caption), chartW, chartH)
	if len(in) == 0 {
		fmt.Fprintf(&b, `</svg><span class="axis none">no checks in the %s</span></div></figure>`, esc(caption))
		return template.HTML(b.String()) // #nosec: escaped text only
	}
	if maxMs == 0 {
		maxMs = 1
	}
	maxMs *= 1.1
	span := now.Sub(from.Truncate(time.Hour)).Hours()
	x := func(t time.Time) float64 {
		return chartLeft + (chartW-chartLeft-chartRight)*t.Sub(from.Truncate(time.Hour)).Hours()/span
	}
	y := func(v float64) float64 { return chartTop + (chartH-chartTop-chartBottom)*(1-v/maxMs) }
	var labels strings.Builder
	fmt.Fprintf(&b, `<line class="grid" x1="0" y1="%.0f" x2="%.0f" y2="%.0f"/>`, chartH-chartBottom, chartW-chartRight, chartH-chartBottom)
	for _, f := range []float64{0.5, 1} {
		v := maxMs * f / 1.1
		fmt.Fprintf(&b, `<line class="grid" x1="0" y1="%.1f" x2="%.0f" y2="%.1f"/>`, y(v), chartW-chartRight, y(v))
		fmt.Fprintf(&labels, `<span class="axis y" style="top:%.1f%%">%s</span>`, 100*y(v)/chartH, esc(ms(&v)))
	}
	fmt.Fprintf(&labels, `<span class="axis x0">%s</span><span class="axis x1">now</span>`, from.UTC().Format("Jan 2 15:04"))
	chartSeries(&b, in, x, y)
	fmt.Fprintf(&b, `</svg>%s</div><figcaption>%s: <span class="k p50">━ p50</span> <span class="k p95">━ p95</span> per hour, <span class="k fail">▼ failed checks</span></figcaption></figure>`,
		labels.String(), esc(caption))
	return template.HTML(b.String()) // #nosec: built from numbers and escaped text only
}

// chartSeries writes the p95 and p50 lines with their points, and the marks
// of the hours with failed checks, placed by x and y.
func chartSeries(b *strings.Builder, in []store.HourStatus, x func(time.Time) float64, y func(float64) float64) {
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
		fmt.Fprintf(b, `<polyline class="line %s" points="%s"/>`, q.class, strings.Join(pts, " "))
		for _, h := range in {
			if v := q.get(h); v != nil {
				fmt.Fprintf(b, `<circle class="pt %s" cx="%.1f" cy="%.1f" r="2"><title>%s %s: %s</title></circle>`,
					q.class, x(h.Hour), y(*v), h.Hour.Format("Jan 2 15:00"), q.class, template.HTMLEscapeString(ms(v)))
			}
		}
	}
	for _, h := range in {
		if failed := h.Checks - h.UpChecks; failed > 0 {
			fmt.Fprintf(b, `<path class="fail" d="M%.1f %.1f l-4 -8 h8 z"><title>%s: %d of %d checks failed</title></path>`,
				x(h.Hour), chartTop+8, h.Hour.Format("Jan 2 15:00"), failed, h.Checks)
		}
	}
}
