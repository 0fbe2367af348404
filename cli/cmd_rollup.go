package cli

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/store"
)

func rollupCommand() *cli.Command {
	return &cli.Command{
		Name:  "rollup",
		Usage: "recompute the hourly and daily rollups from the raw rows",
		Description: `With --rebuild, recomputes website_status_hourly and website_status_daily from
the raw rows of website_status, one day partition per transaction (sync's
writes wait for each, then count once), and brings site_probe_state up to
the latest raw row. --since limits it to the days from T on (RFC 3339 or
YYYY-MM-DD, UTC). Rollups of days whose raw rows were pruned are kept.
website_status_daily gets the hours already merged into days (before
rollup_fold.folded_hour); sync merges the later ones when their time comes.

Needs SITESTAT_DATABASE_URL.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "rebuild", Usage: "recompute from raw rows (required)"},
			&cli.StringFlag{Name: "since", Usage: "only from this day on, e.g. 2026-11-01"},
		},
		Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
			if !c.Bool("rebuild") {
				return usagef("rollup needs --rebuild")
			}
			var since time.Time
			if s := c.String("since"); s != "" {
				var err error
				if since, err = time.Parse(time.RFC3339, s); err != nil {
					if since, err = time.Parse("2006-01-02", s); err != nil {
						return usagef("--since %q is not RFC 3339 or YYYY-MM-DD", s)
					}
				}
			}
			rep, err := db.RebuildRollups(c.Context, since, func(l string) { fmt.Fprintln(e.stderr, l) })
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "rebuilt the rollups from %d raw rows in %d partition(s)\n", rep.Rows, rep.Partitions)
			return nil
		}),
	}
}
