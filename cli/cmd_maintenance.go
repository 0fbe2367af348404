package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/internal/text"
	"github.com/sitestat/sitestat/store"
)

//nolint:funlen // a declarative command: its subcommands, flags and usage text.
func maintenanceCommand() *cli.Command {
	return &cli.Command{
		Name:  "maintenance",
		Usage: "plan maintenance windows: no incident opens and no down is sent during one",
		Description: `During a window checks still run and are stored, but no down incident opens
for the websites it covers (a check counts by its checked_at). An incident
already open when a window starts stays open and resolves normally, and its
recovery is sent. A site still failing when the window ends opens its incident
at its next failing check. status shows covered sites as MAINT.

Times are RFC 3339 (2026-11-27T22:00:00Z), "now", or "+DURATION" from now
(+30m, +2h).`,
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add a window; prints its id",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.Int64Flag{Name: "site", Usage: "the website covered"},
					&cli.BoolFlag{Name: "all", Usage: "cover every website"},
					&cli.StringFlag{Name: "from", Usage: "start: RFC 3339, now or +DURATION", Required: true},
					&cli.StringFlag{Name: "until", Usage: "end: RFC 3339 or +DURATION", Required: true},
					&cli.StringFlag{Name: "reason", Usage: "why, shown by list"},
				},
				Before: checkArgs(maintenanceArgs),
				Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
					w, err := maintenanceArgs(c)
					if err != nil {
						return err
					}
					id, err := db.AddMaintenance(c.Context, w, time.Now())
					if err != nil {
						return err
					}
					fmt.Fprintln(e.stdout, id)
					return nil
				}),
			},
			{
				Name:  "list",
				Usage: "list the windows not yet ended",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}},
				Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
					now := time.Now()
					ws, err := db.MaintenanceWindows(c.Context, now)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						type windowJSON struct {
							ID        int64     `json:"id"`
							WebsiteID *int64    `json:"website_id"`
							From      time.Time `json:"from"`
							Until     time.Time `json:"until"`
							Reason    string    `json:"reason"`
							Active    bool      `json:"active"`
						}
						out := []windowJSON{}
						for _, w := range ws {
							j := windowJSON{ID: w.ID, From: w.From, Until: w.Until, Reason: w.Reason, Active: !now.Before(w.From)}
							if w.WebsiteID != 0 {
								j.WebsiteID = &w.WebsiteID
							}
							out = append(out, j)
						}
						enc := json.NewEncoder(e.stdout)
						enc.SetIndent("", "  ")
						return enc.Encode(out)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tSITE\tFROM\tUNTIL\tSTATE\tREASON")
					for _, w := range ws {
						site := "all"
						if w.WebsiteID != 0 {
							site = fmt.Sprint(w.WebsiteID)
						}
						state := "planned"
						if !now.Before(w.From) {
							state = "active"
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", w.ID, site, w.From.Format(time.RFC3339),
							w.Until.Format(time.RFC3339), state, text.Terminal(w.Reason))
					}
					return tw.Flush()
				}),
			},
			{
				Name:      "remove",
				Usage:     "remove a window",
				ArgsUsage: "ID",
				Before:    checkArgs(maintenanceIDArg),
				Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
					id, err := maintenanceIDArg(c)
					if err != nil {
						return err
					}
					if err := db.RemoveMaintenance(c.Context, id); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "maintenance window %d removed\n", id)
					return nil
				}),
			},
		},
	}
}

// maintenanceArgs reads `maintenance add (--site ID | --all) --from T --until T [--reason TEXT]`.
func maintenanceArgs(c *cli.Context) (store.MaintenanceWindow, error) {
	var w store.MaintenanceWindow
	if c.NArg() > 0 {
		return w, usagef("maintenance add takes no arguments, got %q", c.Args().First())
	}
	if c.IsSet("site") == c.Bool("all") {
		return w, usagef("give either --site ID or --all")
	}
	if c.IsSet("site") {
		w.WebsiteID = c.Int64("site")
		if w.WebsiteID < 1 || w.WebsiteID > store.MaxSiteID {
			return w, usagef("--site %d is out of range 1..%d", w.WebsiteID, store.MaxSiteID)
		}
	}
	now := time.Now()
	var err error
	if w.From, err = parseWhen("--from", c.String("from"), now); err != nil {
		return w, err
	}
	if w.Until, err = parseWhen("--until", c.String("until"), now); err != nil {
		return w, err
	}
	if !w.Until.After(w.From) {
		return w, usagef("--until must be after --from")
	}
	w.Reason = c.String("reason")
	return w, nil
}

// parseWhen reads a time: RFC 3339, "now", or "+DURATION" from now.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	switch {
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "+"):
		if d, err := time.ParseDuration(s[1:]); err == nil && d >= 0 {
			return now.Add(d), nil
		}
	default:
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("%s %q is not RFC 3339, now or +DURATION", flag, s)
}

// maintenanceIDArg reads the window id of `maintenance remove ID`.
func maintenanceIDArg(c *cli.Context) (int64, error) {
	if c.NArg() != 1 {
		return 0, usagef("maintenance remove takes one window id, got %d arguments", c.NArg())
	}
	var id int64
	if _, err := fmt.Sscan(c.Args().First(), &id); err != nil || id < 1 || fmt.Sprint(id) != c.Args().First() {
		return 0, usagef("%q is not a window id", c.Args().First())
	}
	return id, nil
}
