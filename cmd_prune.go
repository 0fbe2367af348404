package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/config"
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
			for _, l := range pruneLines(rep) {
				fmt.Fprintln(e.stdout, l)
			}
			return nil
		}),
	}
}

// retention turns the configuration into the store's retention.
func retention(cfg config.Config) store.Retention {
	return store.Retention{
		Raw:    cfg.RetentionRaw.Duration(),
		Hourly: cfg.RetentionHourly.Duration(),
		Daily:  cfg.RetentionDaily.Duration(),
	}
}

// pruneLines says what a pruning pass did, one line each.
func pruneLines(rep store.PruneReport) []string {
	if rep.Skipped {
		return []string{"another process is pruning; nothing done"}
	}
	verb, prefix := "dropped", ""
	if rep.DryRun {
		verb, prefix = "would drop", "would "
	}
	var lines []string
	for _, p := range rep.Partitions {
		rows := "rows unknown"
		if p.Rows >= 0 {
			rows = fmt.Sprintf("about %d rows", p.Rows)
		}
		span := ""
		if !p.From.IsZero() {
			span = fmt.Sprintf(" (%s to %s, %s, %.1f MB)", p.From.Format("2006-01-02"), p.To.Format("2006-01-02"), rows, float64(p.Bytes)/1e6)
		}
		lines = append(lines, fmt.Sprintf("%s partition %s%s", verb, p.Name, span))
	}
	cut := func(t time.Time) string {
		if t.IsZero() {
			return "kept forever"
		}
		return "before " + t.Format(time.RFC3339)
	}
	lines = append(lines,
		fmt.Sprintf("raw: %s %d partition(s), about %d rows (%s)", verb, len(rep.Partitions), rep.RawRows(), cut(rep.RawBefore)),
		fmt.Sprintf("hourly rollups: %sdelete %d rows (%s)", prefix, rep.HourlyRows, cut(rep.HourlyBefore)),
		fmt.Sprintf("daily rollups: %sdelete %d rows (%s)", prefix, rep.DailyRows, cut(rep.DailyBefore)))
	if rep.DryRun {
		lines = append(lines, "dry run: nothing was changed")
	}
	return lines
}
