package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/api"
	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/internal/redact"
	"github.com/sitestat/sitestat/internal/text"
	"github.com/sitestat/sitestat/store"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "list every website: up or down and why, response times, uptime; or one website in detail",
		ArgsUsage: "[ID]",
		Description: `One line per website: id, url, its state with the reason of the last check, its
status code and response time, when it was checked, and over --window the uptime,
the 95th percentile response time and the number of checks. The state is UP,
DOWN only while the site has an open down incident (see sitestat incidents),
FAILING n/N when its last checks failed but fewer than its threshold N in a row
(or the quorum of probes is not met), and MAINT before it during a maintenance
window. With several probes the state is shown per probe. A site whose latest
check is older than three intervals (at least a minute) shows as STALE with its
age: nobody checks it.
The state comes from site_probe_state, uptime and p95 from the hourly and daily
rollups (the window starts at a whole hour; p95 within 5%, over whole UTC days
for windows of two days or more), so the time it takes does not grow with the
history kept. A long window's first run of the day caches its merged days in
website_status_window.

With an ID: that website in detail — URL, interval, regex, the latest check per
probe with its error, uptime over 24h, 7d, 30d and 90d, a 90-day strip of daily
uptime (one character per day), daily p50/p95 for the last 14 days, and its last
10 failed checks. Reads PostgreSQL only.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "window", Aliases: []string{"w"}, Value: "24h", Usage: "period of uptime, p95 and checks: 24h, 7d, 30d, 90d, any Go duration or Nd"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"},
			&cli.BoolFlag{Name: "watch", Usage: "refresh in place until interrupted"},
			&cli.DurationFlag{Name: "every", Value: 2 * time.Second, Usage: "refresh period of --watch"},
			&cli.BoolFlag{Name: "no-color", Usage: "no colour even on a terminal (also NO_COLOR=1)"},
		},
		Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
			window, err := config.ParseDays(c.String("window"))
			if err != nil || window <= 0 || c.Duration("every") <= 0 {
				return usagef("--window (e.g. 24h, 7d) and --every must be positive")
			}
			var id int64
			if c.NArg() > 1 {
				return usagef("status takes at most one website id")
			}
			if c.NArg() == 1 {
				if id, err = strconv.ParseInt(c.Args().First(), 10, 64); err != nil || id <= 0 {
					return usagef("%q is not a website id", c.Args().First())
				}
			}
			tty := isTerminal(e.stdout)
			color := tty && !c.Bool("no-color") && os.Getenv("NO_COLOR") == ""
			show := func(ctx context.Context) error {
				now := time.Now()
				if id > 0 {
					d, err := db.SiteDetail(ctx, id, now)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return writeDetailJSON(e.stdout, d, now)
					}
					return writeDetail(e.stdout, d, now, color)
				}
				sts, err := db.Status(ctx, window, now)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return writeStatusJSON(e.stdout, sts, window, now)
				}
				return writeStatusTable(e.stdout, sts, now, window, color)
			}
			if !c.Bool("watch") {
				return show(c.Context)
			}
			t := time.NewTicker(c.Duration("every"))
			defer t.Stop()
			for {
				if tty {
					fmt.Fprint(e.stdout, "\x1b[H\x1b[2J") // home, clear screen
				}
				if err := show(c.Context); err != nil {
					if c.Context.Err() != nil {
						return nil
					}
					return err
				}
				select {
				case <-c.Context.Done():
					return nil
				case <-t.C:
				}
			}
		}),
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const (
	ansiGreen = "\x1b[32m"
	ansiRed   = "\x1b[31m"
	ansiGrey  = "\x1b[90m"
	ansiReset = "\x1b[0m"
)

func writeStatusTable(w io.Writer, sts []store.SiteStatus, now time.Time, window time.Duration, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tURL\tSTATE\tCODE\tTIME\tCHECKED\tUPTIME %s\tAVAIL\tP95\tCHECKS\n", shortDuration(window))
	up, down, failing, stale := 0, 0, 0, 0
	for _, s := range sts {
		state, code, rt, checked := paint(ansiGrey, "NEVER"), "-", "-", "never"
		if l := s.Last; l != nil {
			switch {
			case s.Stale:
				state = paint(ansiGrey, "STALE "+strings.TrimSuffix(text.Ago(now.Sub(l.CheckedAt)), " ago"))
				stale++
			case s.Incident != nil:
				state = paint(ansiRed, "DOWN "+text.Terminal(string(l.Reason)))
				if l.Up {
					state = paint(ansiRed, "DOWN recovering")
				}
				down++
			case l.Up:
				state = paint(ansiGreen, "UP")
				up++
			default:
				state = paint(ansiRed, failingState(s, s.Probes[0])+" "+text.Terminal(string(l.Reason)))
				failing++
			}
			if len(s.Probes) > 1 {
				state = probeStates(s, now, paint)
			}
			if s.Maintenance {
				state = paint(ansiGrey, "MAINT ") + state
			}
			if l.StatusCode != nil {
				code = fmt.Sprint(*l.StatusCode)
			}
			if l.ResponseTimeMs != nil {
				rt = formatMs(*l.ResponseTimeMs)
			}
			checked = text.Ago(now.Sub(l.CheckedAt))
		}
		uptime, avail, p95 := "-", "-", "-"
		if s.UptimePct != nil {
			uptime = fmt.Sprintf("%.2f%%", *s.UptimePct)
		}
		if s.AvailabilityPct != nil {
			avail = fmt.Sprintf("%.2f%%", *s.AvailabilityPct)
		}
		if s.P95ResponseMs != nil {
			p95 = formatMs(*s.P95ResponseMs)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", s.ID, truncateURL(redact.URL(s.URL, redact.KeepQuery), 60), state, code, rt, checked, uptime, avail, p95, s.Checks)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d websites: %d up, %d down, %d failing, %d stale, %d never checked\n",
		len(sts), up, down, failing, stale, len(sts)-up-down-failing-stale)
	return err
}

// failingState renders a failing probe that has no open incident (yet):
// "FAILING 1/3", its failed checks in a row against the site's threshold,
// or "FAILING 2 (alerts off)".
func failingState(s store.SiteStatus, p store.ProbeStatus) string {
	if s.AlertAfter == 0 {
		return fmt.Sprintf("FAILING %d (alerts off)", p.FailStreak)
	}
	return fmt.Sprintf("FAILING %d/%d", p.FailStreak, s.AlertAfter)
}

// probeLabel renders the state of one probe's latest check: DOWN only
// while the site has an open incident the probe is failing in.
func probeLabel(s store.SiteStatus, p store.ProbeStatus) (string, string) {
	switch {
	case p.Last.Up:
		return ansiGreen, "UP"
	case s.Incident != nil && p.Failing:
		return ansiRed, "DOWN " + text.Terminal(string(p.Last.Reason))
	case s.AlertAfter == 0:
		return ansiRed, fmt.Sprintf("FAILING %d (alerts off) %s", p.FailStreak, text.Terminal(string(p.Last.Reason)))
	default:
		return ansiRed, fmt.Sprintf("FAILING %d/%d %s", p.FailStreak, s.AlertAfter, text.Terminal(string(p.Last.Reason)))
	}
}

// probeStates renders the state per probe, e.g. "eu UP, us DOWN timeout".
func probeStates(s store.SiteStatus, now time.Time, paint func(code, s string) string) string {
	var parts []string
	for _, p := range s.Probes {
		switch {
		case p.Stale:
			parts = append(parts, text.Terminal(p.Probe)+" "+paint(ansiGrey, "STALE "+strings.TrimSuffix(text.Ago(now.Sub(p.Last.CheckedAt)), " ago")))
		default:
			code, label := probeLabel(s, p)
			parts = append(parts, text.Terminal(p.Probe)+" "+paint(code, label))
		}
	}
	return strings.Join(parts, ", ")
}

// jsonShow is what --json shows: URLs and error texts through the
// redaction functions (query values kept: the terminal is the operator's),
// checker hosts, values as read.
func jsonShow() api.Show {
	return api.Show{URL: func(u string) string { return redact.URL(u, redact.KeepQuery) },
		Text: func(t string) string { return redact.Text(t, redact.KeepQuery) }, Hosts: true}
}

func writeStatusJSON(w io.Writer, sts []store.SiteStatus, window time.Duration, now time.Time) error {
	out := make([]api.Site, 0, len(sts))
	for _, s := range sts {
		out = append(out, api.SiteOf(s, window, api.OpenDownOf(s), now, jsonShow()))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func formatMs(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2fs", ms/1000)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func shortDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

// truncateURL returns u fit for a table column on a terminal: its control
// characters and escape sequences replaced, then cut to n characters.
func truncateURL(u string, n int) string {
	return text.Truncate(text.Terminal(u), n)
}
