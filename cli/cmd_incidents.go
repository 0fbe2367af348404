package cli

import (
	"encoding/json"
	"fmt"
	"io"
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

func incidentsCommand() *cli.Command {
	return &cli.Command{
		Name:  "incidents",
		Usage: "list incidents with their durations and notification status",
		Description: `One line per incident, the open ones first, then the latest started: id, kind (down,
cert_expiry, probe_silent), website, when it started, how long it lasted (or has
lasted, while open), the reason and probes that opened it, and each
notification as event:channel:state (state delivered, pending or failed, with
the last error of a failed one in --json).

--since T keeps the incidents open at any time since T: an RFC 3339 time, a
day (YYYY-MM-DD, UTC) or an age (24h, 7d).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "open", Usage: "only the open incidents"},
			&cli.Int64Flag{Name: "site", Usage: "only this website's"},
			&cli.StringFlag{Name: "since", Usage: "only those open at any time since: RFC 3339, YYYY-MM-DD or an age like 7d"},
			&cli.IntFlag{Name: "limit", Value: 100, Usage: "at most this many, newest first"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"},
		},
		Before: checkArgs(incidentFilterArgs),
		Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
			f, err := incidentFilterArgs(c)
			if err != nil {
				return err
			}
			ins, err := db.Incidents(c.Context, f)
			if err != nil {
				return err
			}
			sites, err := db.Sites(c.Context)
			if err != nil {
				return err
			}
			urls := make(map[int64]string, len(sites))
			for _, s := range sites {
				urls[s.ID] = s.URL
			}
			now := time.Now()
			if c.Bool("json") {
				return writeIncidentsJSON(e.stdout, ins, urls, now)
			}
			return writeIncidentsTable(e.stdout, ins, urls, now)
		}),
	}
}

// incidentFilterArgs reads `incidents [--open] [--site ID] [--since T] [--limit N]`.
func incidentFilterArgs(c *cli.Context) (store.IncidentQuery, error) {
	f := store.IncidentQuery{Open: c.Bool("open"), WebsiteID: c.Int64("site"), Limit: c.Int("limit")}
	if c.NArg() > 0 {
		return f, usagef("incidents takes no arguments, got %q", c.Args().First())
	}
	if c.IsSet("site") && (f.WebsiteID < 1 || f.WebsiteID > store.MaxSiteID) {
		return f, usagef("--site %d is out of range 1..%d", f.WebsiteID, store.MaxSiteID)
	}
	if f.Limit < 1 {
		return f, usagef("--limit must be positive")
	}
	if s := c.String("since"); s != "" {
		t, err := parseSince(s, time.Now())
		if err != nil {
			return f, err
		}
		f.Since = t
	}
	return f, nil
}

// parseSince reads a point in time: RFC 3339, a UTC day, or an age before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := config.ParseDays(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--since %q is not RFC 3339, YYYY-MM-DD or an age like 24h or 7d", s)
}

// incidentDuration renders how long an incident lasted, or has lasted.
func incidentDuration(in store.Incident, now time.Time) string {
	end := now
	if in.ResolvedAt != nil {
		end = *in.ResolvedAt
	}
	d := max(0, end.Sub(in.StartedAt)).Round(time.Second)
	if in.ResolvedAt == nil {
		return d.String() + " (open)"
	}
	return d.String()
}

func writeIncidentsTable(w io.Writer, ins []store.Incident, urls map[int64]string, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSITE\tURL\tSTARTED\tDURATION\tREASON\tPROBES\tNOTIFICATIONS")
	open := 0
	for _, in := range ins {
		site := "-"
		if in.WebsiteID != 0 {
			site = fmt.Sprint(in.WebsiteID)
		}
		if in.ResolvedAt == nil {
			open++
		}
		var notes []string
		for _, n := range in.Notifications {
			notes = append(notes, string(n.Event)+":"+string(n.Channel)+":"+n.State())
		}
		if len(notes) == 0 {
			notes = []string{"none"}
		}
		reason := in.Reason
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.Kind, site,
			truncateURL(redact.URL(urls[in.WebsiteID], redact.KeepQuery), 50), in.StartedAt.Format(time.RFC3339), incidentDuration(in, now),
			text.Terminal(reason), text.Terminal(strings.Join(in.Probes, ",")), strings.Join(notes, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d incidents, %d open\n", len(ins), open)
	return err
}

func writeIncidentsJSON(w io.Writer, ins []store.Incident, urls map[int64]string, now time.Time) error {
	out := make([]api.IncidentNotices, 0, len(ins))
	for _, in := range ins {
		out = append(out, api.IncidentNoticesOf(in, urls[in.WebsiteID], now, jsonShow()))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
