package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sitestat/sitestat/api"
	"github.com/sitestat/sitestat/internal/redact"
	"github.com/sitestat/sitestat/internal/text"
	"github.com/sitestat/sitestat/store"
)

// writeDetail prints one website in detail for `sitestat status ID`.
//
//nolint:funlen // the sections of `status ID` in the order they print.
func writeDetail(w io.Writer, d store.SiteDetail, now time.Time, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	fmt.Fprintf(w, "website %d  %s\n", d.ID, text.Terminal(redact.URL(d.URL, redact.KeepQuery)))
	regex := text.Terminal(d.Regex)
	if regex == "" {
		regex = "(none)"
	}
	fmt.Fprintf(w, "every %s, regex %s\n\n", d.Interval, regex)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROBE\tSTATE\tCODE\tTIME\tCHECKED\tHOST\tERROR")
	if len(d.Probes) == 0 {
		fmt.Fprintln(tw, "-\tNEVER\t-\t-\tnever\t-\t")
	}
	for _, p := range d.Probes {
		l := p.Last
		colour, label := probeLabel(d.SiteStatus, p)
		state := paint(colour, label)
		if p.Stale {
			state = paint(ansiGrey, "STALE")
		}
		code, rt := "-", "-"
		if l.StatusCode != nil {
			code = fmt.Sprint(*l.StatusCode)
		}
		if l.ResponseTimeMs != nil {
			rt = formatMs(*l.ResponseTimeMs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", text.Terminal(p.Probe), state, code, rt, text.Ago(now.Sub(l.CheckedAt)),
			text.Terminal(l.Host), text.Terminal(redact.Text(l.Error, redact.KeepQuery)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	byProbe := false
	for _, win := range d.Windows {
		byProbe = byProbe || len(win.Probes) > 1
	}
	header := "WINDOW\tUPTIME\tAVAIL\tDOWN\tP95\tCHECKS"
	if byProbe {
		header += "\tUPTIME BY PROBE"
	}
	fmt.Fprintln(tw, header)
	for _, win := range d.Windows {
		uptime, avail, p95 := "-", "-", "-"
		if win.UptimePct != nil {
			uptime = fmt.Sprintf("%.3f%%", *win.UptimePct)
		}
		if win.AvailabilityPct != nil {
			avail = fmt.Sprintf("%.3f%%", *win.AvailabilityPct)
		}
		if win.P95ResponseMs != nil {
			p95 = formatMs(*win.P95ResponseMs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d", shortDuration(win.Window), uptime, avail,
			win.Downtime.Round(time.Second), p95, win.Checks)
		if byProbe {
			var parts []string
			for _, p := range win.Probes {
				u := "-"
				if p.UptimePct != nil {
					u = fmt.Sprintf("%.3f%%", *p.UptimePct)
				}
				parts = append(parts, text.Terminal(p.Probe)+" "+u)
			}
			fmt.Fprintf(tw, "\t%s", strings.Join(parts, ", "))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\n90 days (%s … %s; █ 100%%, ▆ ≥ 99%%, ▄ ≥ 95%%, ▂ below, · no checks):\n",
		d.Days[0].Day.Format("2006-01-02"), d.Days[len(d.Days)-1].Day.Format("2006-01-02"))
	var strip strings.Builder
	for _, day := range d.Days {
		strip.WriteString(dayChar(day, paint))
	}
	fmt.Fprintln(w, strip.String())

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DAY\tUPTIME\tP50\tP95\tCHECKS")
	for _, day := range d.Days[len(d.Days)-14:] {
		uptime, p50, p95 := "-", "-", "-"
		if u := day.UptimePct(); u != nil {
			uptime = fmt.Sprintf("%.2f%%", *u)
		}
		if day.P50Ms != nil {
			p50 = formatMs(*day.P50Ms)
		}
		if day.P95Ms != nil {
			p95 = formatMs(*day.P95Ms)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", day.Day.Format("2006-01-02"), uptime, p50, p95, day.Checks)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(d.Failed) == 0 {
		_, err := fmt.Fprintln(w, "no failed checks in the raw history kept")
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAILED AT\tPROBE\tREASON\tCODE\tERROR")
	for _, f := range d.Failed {
		code := "-"
		if f.StatusCode != nil {
			code = fmt.Sprint(*f.StatusCode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.CheckedAt.Format(time.RFC3339), text.Terminal(f.Probe),
			text.Terminal(string(f.Reason)), code, text.Terminal(redact.Text(f.Error, redact.KeepQuery)))
	}
	return tw.Flush()
}

// dayChar is one day of the 90-day strip.
func dayChar(d store.DayStatus, paint func(code, s string) string) string {
	u := d.UptimePct()
	switch {
	case u == nil:
		return paint(ansiGrey, "·")
	case *u >= 100:
		return paint(ansiGreen, "█")
	case *u >= 99:
		return paint(ansiGreen, "▆")
	case *u >= 95:
		return paint(ansiRed, "▄")
	}
	return paint(ansiRed, "▂")
}

func writeDetailJSON(w io.Writer, d store.SiteDetail, now time.Time) error {
	j := api.DetailOf(d, api.OpenDownOf(d.SiteStatus), now, jsonShow())
	j.Regex = d.Regex
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
