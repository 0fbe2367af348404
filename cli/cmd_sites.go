package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/api"
	"github.com/sitestat/sitestat/internal/redact"
	"github.com/sitestat/sitestat/internal/text"
	"github.com/sitestat/sitestat/store"
)

//nolint:funlen // a declarative command: its subcommands, flags and usage text.
func sitesCommand() *cli.Command {
	intervalFlag := &cli.IntFlag{Name: "interval", Aliases: []string{"i"}, Value: 5,
		Usage: fmt.Sprintf("seconds between checks (%d..%d)", store.MinInterval, store.MaxInterval)}
	alertAfterFlag := &cli.IntFlag{Name: "alert-after",
		Usage: "failed checks in a row before a probe is failing (0 turns alerting off; default SITESTAT_ALERT_AFTER)"}
	recoverAfterFlag := &cli.IntFlag{Name: "recover-after",
		Usage: "passed checks in a row before a failing probe passes again (default SITESTAT_ALERT_RECOVER_AFTER)"}
	regexFlag := &cli.StringFlag{Name: "regex", Aliases: []string{"r"}, Usage: "Go RE2 pattern the body must match for the site to count as up"}
	privateFlag := &cli.BoolFlag{Name: "private", Usage: "show the site on sitestat serve to authenticated requests only"}
	return &cli.Command{
		Name:  "sites",
		Usage: "add, list, update or remove the websites to check",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add a website; prints its id",
				ArgsUsage: "URL",
				Description: `Validates before writing: an http or https URL with a host, at most 2048
characters; an interval within 1..86400 seconds; a regex that compiles as Go RE2
into at most 100 instructions. --id N re-creates a removed website under its old
id (so its dead letters can be replayed); it is refused when the id is taken.
A running check picks the site up at its next reload (SITESTAT_CHECK_REFRESH).
--private keeps it off every unauthenticated page, API answer and badge of
sitestat serve (without SITESTAT_HTTP_BASIC_AUTH it never appears there).`,
				Flags: []cli.Flag{intervalFlag, regexFlag,
					&cli.StringFlag{Name: "name", Usage: "name shown by the status page (sitestat serve) instead of the URL"},
					privateFlag,
					&cli.Int64Flag{Name: "id", Usage: "give the website this id (re-create a removed site); refused if taken"},
					alertAfterFlag, recoverAfterFlag},
				Before: checkArgs(siteInputArgs),
				Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
					in, err := siteInputArgs(c)
					if err != nil {
						return err
					}
					id, err := db.AddSite(c.Context, in)
					if err != nil {
						return err
					}
					fmt.Fprintln(e.stdout, id)
					return nil
				}),
			},
			{
				Name:        "update",
				Usage:       "change a website's url, interval, regex, name, alert thresholds or visibility",
				ArgsUsage:   "ID",
				Description: `Same validation as add. A running check picks the change up at its next reload.`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "url", Usage: "new URL"},
					&cli.IntFlag{Name: "interval", Aliases: []string{"i"}, Usage: "new interval in seconds"},
					&cli.StringFlag{Name: "regex", Aliases: []string{"r"}, Usage: "new regex"},
					&cli.BoolFlag{Name: "no-regex", Usage: "remove the regex"},
					&cli.StringFlag{Name: "name", Usage: "new name shown by the status page (\"\" removes it)"},
					alertAfterFlag, recoverAfterFlag, privateFlag,
					&cli.BoolFlag{Name: "public", Usage: "show the site on sitestat serve to everyone who can reach it"},
				},
				Before: func(c *cli.Context) error { _, _, err := siteUpdateArgs(c); return err },
				Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
					id, u, err := siteUpdateArgs(c)
					if err != nil {
						return err
					}
					if err := db.UpdateSite(c.Context, id, u); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "website %d updated\n", id)
					return nil
				}),
			},
			{
				Name:  "list",
				Usage: "list the websites",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}},
				Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
					sites, err := db.Sites(c.Context)
					if err != nil {
						return err
					}
					names, err := db.SiteNames(c.Context)
					if err != nil {
						return err
					}
					private, err := db.PrivateSiteIDs(c.Context)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						out := make([]api.SiteConfig, 0, len(sites))
						for _, s := range sites {
							out = append(out, api.SiteConfig{ID: s.ID, Name: names[s.ID], URL: redact.URL(s.URL, redact.KeepQuery),
								IntervalSeconds: int(s.Interval.Seconds()), Regex: s.Regex, Public: !private[s.ID]})
						}
						enc := json.NewEncoder(e.stdout)
						enc.SetIndent("", "  ")
						return enc.Encode(out)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tURL\tINTERVAL\tREGEX\tNAME\tVISIBILITY")
					for _, s := range sites {
						re, name := text.Terminal(s.Regex), text.Terminal(names[s.ID])
						if re == "" {
							re = "-"
						}
						if name == "" {
							name = "-"
						}
						visibility := "public"
						if private[s.ID] {
							visibility = "private"
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, text.Terminal(redact.URL(s.URL, redact.KeepQuery)), s.Interval, re, name, visibility)
					}
					return tw.Flush()
				}),
			},
			{
				Name:      "remove",
				Usage:     "remove websites and their stored results",
				ArgsUsage: "ID...",
				Description: `Removes the websites and, by the schema's ON DELETE CASCADE, every stored result
of them; a site that has results asks for --yes. Results of a removed site still
in Kafka are not lost and never make sync stuck: they land in the dead-letter
topic as unknown_site (replay them with sitestat dlq replay if you add it back).`,
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "also remove websites that have stored results"}},
				Before: checkArgs(siteIDsArgs),
				Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
					ids, err := siteIDsArgs(c)
					if err != nil {
						return err
					}
					if !c.Bool("yes") {
						counts, err := db.SiteResultCounts(c.Context, ids)
						if err != nil {
							return err
						}
						for _, id := range ids {
							if counts[id] > 0 {
								return usagef("website %d has %d stored results, removed with it; run again with --yes", id, counts[id])
							}
						}
					}
					if err := db.RemoveSites(c.Context, ids); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "removed %d website(s)\n", len(ids))
					return nil
				}),
			},
		},
	}
}

func siteIDArg(c *cli.Context) (int64, error) {
	if c.NArg() != 1 {
		return 0, usagef("expected one website id, got %d arguments", c.NArg())
	}
	id, err := strconv.ParseInt(c.Args().First(), 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%q is not a website id", c.Args().First())
	}
	return id, nil
}

// The argument parsers below run twice: in the command's Before, so bad input
// fails (exit 2) before any connection is made, and in its Action.

// siteInputArgs reads and validates `sites add URL --interval --regex`.
func siteInputArgs(c *cli.Context) (store.SiteInput, error) {
	if c.NArg() != 1 {
		return store.SiteInput{}, usagef("sites add takes one URL, got %d arguments", c.NArg())
	}
	in := store.SiteInput{URL: c.Args().First(), Interval: c.Int("interval"), Regex: c.String("regex"), ID: c.Int64("id"),
		Name: c.String("name"), Private: c.Bool("private")}
	if c.IsSet("id") && (in.ID < 1 || in.ID > store.MaxSiteID) {
		return in, usagef("--id %d is out of range 1..%d", in.ID, store.MaxSiteID)
	}
	if err := store.ValidateName(in.Name); err != nil {
		return in, err
	}
	in.AlertAfter, in.RecoverAfter = thresholdArgs(c)
	if err := store.ValidateThresholds(in.AlertAfter, in.RecoverAfter); err != nil {
		return in, err
	}
	return in, store.ValidateSiteInput(in.URL, in.Interval, in.Regex)
}

// siteUpdateArgs reads `sites update ID [--url] [--interval] [--regex|--no-regex]`;
// the merged row is validated by the store, as add's is.
func siteUpdateArgs(c *cli.Context) (int64, store.SiteUpdate, error) {
	var u store.SiteUpdate
	id, err := siteIDArg(c)
	if err != nil {
		return 0, u, err
	}
	if c.IsSet("url") {
		v := c.String("url")
		u.URL = &v
	}
	if c.IsSet("interval") {
		v := c.Int("interval")
		u.Interval = &v
	}
	if c.IsSet("regex") && c.Bool("no-regex") {
		return 0, u, usagef("--regex and --no-regex exclude each other")
	}
	if c.IsSet("regex") {
		v := c.String("regex")
		u.Regex = &v
	}
	u.ClearRegex = c.Bool("no-regex")
	if c.IsSet("name") {
		v := c.String("name")
		if err := store.ValidateName(v); err != nil {
			return 0, u, err
		}
		u.Name = &v
	}
	u.AlertAfter, u.RecoverAfter = thresholdArgs(c)
	if u.Public, err = visibilityArgs(c); err != nil {
		return 0, u, err
	}
	if u.URL == nil && u.Interval == nil && u.Regex == nil && !u.ClearRegex && u.Name == nil && u.AlertAfter == nil && u.RecoverAfter == nil &&
		u.Public == nil {
		return 0, u, usagef("nothing to change: give --url, --interval, --regex, --no-regex, --name, --alert-after, --recover-after, --private or --public")
	}
	return id, u, store.ValidateThresholds(u.AlertAfter, u.RecoverAfter)
}

// visibilityArgs reads --private and --public of sites update: nil when
// neither is given.
func visibilityArgs(c *cli.Context) (*bool, error) {
	private, public := c.IsSet("private") && c.Bool("private"), c.IsSet("public") && c.Bool("public")
	switch {
	case private && public:
		return nil, usagef("--private and --public exclude each other")
	case private, public:
		return &public, nil
	}
	return nil, nil
}

// thresholdArgs reads --alert-after and --recover-after: nil when not given.
func thresholdArgs(c *cli.Context) (alertAfter, recoverAfter *int) {
	if c.IsSet("alert-after") {
		v := c.Int("alert-after")
		alertAfter = &v
	}
	if c.IsSet("recover-after") {
		v := c.Int("recover-after")
		recoverAfter = &v
	}
	return alertAfter, recoverAfter
}

// siteIDsArgs reads the ids of `sites remove ID...`.
func siteIDsArgs(c *cli.Context) ([]int64, error) {
	if c.NArg() == 0 {
		return nil, usagef("sites remove takes one or more ids")
	}
	var ids []int64
	for _, a := range c.Args().Slice() {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return nil, usagef("%q is not a website id", a)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
