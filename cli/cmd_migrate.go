package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
)

func migrateCommand(schemaSQL string) *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "create the schema, or repair it (missing tables, columns, indexes)",
		Description: `Applies the embedded schema.sql in one transaction under an advisory lock, so
concurrent runs do not race, and records the schema version. Running it twice
changes nothing. It also compares the live schema with the expected one and
restores missing tables, columns and indexes. A column of the wrong type is
reported with the statement that would fix it; --fix-types applies it.

A version 1 database (website_status not partitioned) is converted keeping
every row: the old table becomes one partition covering its days, after its
unique index on (check_id, timestamp_utc) is built concurrently (writes go
on); progress goes to stderr. The rollups are then rebuilt from the raw rows.
An interrupted run leaves a working database; running it again completes it.
Day partitions are created a week ahead.

A website_status as the brief defines it (request_info json, no check_id,
website_id nullable), holding rows of an earlier tool, is adopted: json
becomes jsonb, every row gets a check_id, probe "legacy" and up, reason,
status_code and response_time_ms derived from its request_info (see the
README); rows sitestat cannot store go untouched to website_status_rejected,
counted in the output.

Needs SITESTAT_DATABASE_URL.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be done, change nothing"},
			&cli.BoolFlag{Name: "fix-types", Usage: "also change columns of the wrong type (may rewrite the table)"},
		},
		Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
			rep, err := schema.Migrate(c.Context, db, schemaSQL, schema.MigrateOptions{
				DryRun: c.Bool("dry-run"), FixTypes: c.Bool("fix-types"), RawRetention: e.cfg.RetentionRaw.Duration(),
				Progress: func(l string) { fmt.Fprintln(e.stderr, l) },
			})
			if err != nil {
				return err
			}
			for _, line := range rep.Lines() {
				fmt.Fprintln(e.stdout, line)
			}
			if len(rep.Problems) > 0 && !c.Bool("dry-run") {
				return schemaProblems{len(rep.Problems)}
			}
			return nil
		}),
	}
}

// schemaProblems says migrate left problems it only reports (wrong types):
// exit 78, like sync on drift, until --fix-types is given.
type schemaProblems struct{ n int }

func (e schemaProblems) Error() string {
	return fmt.Sprintf("%d schema problem(s) left; see above, or run: sitestat migrate --fix-types", e.n)
}

func (e schemaProblems) ExitCode() int { return exitSchemaDrift }
