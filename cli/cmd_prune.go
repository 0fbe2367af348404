package cli

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/prune"
	"github.com/sitestat/sitestat/store"
)

func pruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "drop history older than its retention (SITESTAT_RETENTION_*)",
		Description: `One pruning pass, as sync runs it periodically: raw rows go by whole UTC-day
partitions (detached concurrently, then dropped; never DELETE) once all of a
day is older than SITESTAT_RETENTION_RAW; hourly and daily rollup rows older
than SITESTAT_RETENTION_HOURLY and SITESTAT_RETENTION_DAILY are deleted. 0
keeps a kind forever. One pass runs at a time across processes: when another
holds the lock, this one says so and does nothing. --dry-run shows what would
go.

Needs SITESTAT_DATABASE_URL.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be dropped, change nothing"},
		},
		Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
			rep, err := db.Prune(c.Context, retention(e.cfg), time.Now(), c.Bool("dry-run"))
			if err != nil {
				return err
			}
			for _, l := range prune.Lines(rep) {
				fmt.Fprintln(e.stdout, l)
			}
			return nil
		}),
	}
}
