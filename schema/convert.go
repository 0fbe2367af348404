package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// phase1Name is the partition a version 1 website_status becomes.
const phase1Name = "website_status_phase1"

// conversion is a version 1 (unpartitioned) website_status found by Migrate,
// prepared to become the partition phase1Name.
type conversion struct {
	empty    bool      // no rows: it is dropped and created anew
	dryRun   bool      // nothing was prepared
	adopting bool      // a dry run on the brief's table, which adoption would reshape
	rows     int64     // rows it holds
	from     time.Time // the range it is attached for, [from, to)
	to       time.Time
}

// phase1Columns are the columns a version 1 website_status must have, as the
// partitioned table has them, to be attached.
var phase1Columns = []string{"website_id", "timestamp_utc", "request_info", "check_id", "up", "reason", "status_code", "response_time_ms"}

// prepareConversion finds a version 1 website_status and, outside any
// transaction, builds what attaching it needs without blocking its writers:
// the unique index on (check_id, timestamp_utc), built CONCURRENTLY (an
// invalid one left by an interrupted run is dropped and built again), and a
// validated CHECK of its time range, so that ATTACH PARTITION need not scan
// it. It returns nil when website_status is missing or already partitioned.
func prepareConversion(ctx context.Context, conn *sql.Conn, opts MigrateOptions) (*conversion, error) {
	var kind sql.NullString
	if err := conn.QueryRowContext(ctx, `
		SELECT c.relkind::text FROM pg_catalog.pg_class c
		WHERE c.oid = to_regclass('website_status')`).Scan(&kind); err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read website_status: %w", err)
	}
	if kind.String != "r" {
		return nil, nil
	}
	live, err := inspect(ctx, conn)
	if err != nil {
		return nil, err
	}
	exp := Expected().table("website_status")
	for _, c := range exp.Columns {
		lc, ok := live.column("website_status", c.Name)
		if !contains(phase1Columns, c.Name) {
			continue
		}
		if !ok || lc.udt != c.UDT || (c.NotNull && !lc.notNull) {
			return nil, fmt.Errorf("the version 1 table website_status does not have column %s %s NOT NULL as version 1 made it; "+
				"repair it first with the previous release's sitestat migrate (--fix-types)", c.Name, c.Type)
		}
	}
	var empty bool
	if err := conn.QueryRowContext(ctx, "SELECT NOT EXISTS (SELECT 1 FROM website_status)").Scan(&empty); err != nil {
		return nil, fmt.Errorf("read website_status: %w", err)
	}
	if empty {
		return &conversion{empty: true}, nil
	}
	if opts.DryRun {
		return &conversion{dryRun: true}, nil
	}

	opts.Progress("converting the version 1 website_status into a partitioned table: reading its time range")
	start := time.Now()
	var c conversion
	var lo, hi time.Time
	if err := conn.QueryRowContext(ctx, "SELECT count(*), min(timestamp_utc), max(timestamp_utc) FROM website_status").
		Scan(&c.rows, &lo, &hi); err != nil {
		return nil, fmt.Errorf("read time range: %w", err)
	}
	// The range covers the rows and the days a version 1 sync still running
	// may write (today and tomorrow); new day partitions begin after it.
	c.from = utcDay(lo)
	c.to = utcDay(hi).Add(day)
	if soon := utcDay(time.Now()).Add(2 * day); c.to.Before(soon) {
		c.to = soon
	}
	opts.Progress(fmt.Sprintf("website_status: %d rows from %s to %s (%s)", c.rows,
		lo.UTC().Format(time.RFC3339), hi.UTC().Format(time.RFC3339), time.Since(start).Round(time.Millisecond)))

	// The indexes the partitioned table has that version 1 lacks, built
	// without blocking writes; an invalid one is what an interrupted build
	// leaves, dropped and built again.
	for _, x := range []struct{ name, def string }{
		{phase1Name + "_check_id_timestamp_utc_key", "UNIQUE INDEX CONCURRENTLY %s ON website_status (check_id, timestamp_utc)"},
		{phase1Name + "_failed_idx", "INDEX CONCURRENTLY %s ON website_status (website_id, timestamp_utc DESC) WHERE NOT up"},
	} {
		var valid sql.NullBool
		if err := conn.QueryRowContext(ctx, `
			SELECT x.indisvalid FROM pg_catalog.pg_index x WHERE x.indexrelid = to_regclass($1)`, x.name).Scan(&valid); err != nil && err != sql.ErrNoRows {
			return nil, fmt.Errorf("read index %s: %w", x.name, err)
		}
		if valid.Valid && !valid.Bool {
			opts.Progress("dropping the invalid index " + x.name + " an interrupted run left")
			if _, err := conn.ExecContext(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+x.name); err != nil {
				return nil, fmt.Errorf("drop invalid index %s: %w", x.name, err)
			}
		}
		if valid.Bool {
			continue
		}
		opts.Progress(fmt.Sprintf("building index %s on %d rows, without blocking writes", x.name, c.rows))
		start = time.Now()
		if _, err := conn.ExecContext(ctx, "CREATE "+fmt.Sprintf(x.def, x.name)); err != nil {
			return nil, fmt.Errorf("build index %s: %w", x.name, err)
		}
		opts.Progress(fmt.Sprintf("built %s in %s", x.name, time.Since(start).Round(time.Millisecond)))
	}

	// A validated CHECK of the range lets ATTACH PARTITION skip its scan.
	// VALIDATE takes a lock that lets writes through.
	check := phase1Name + "_bounds"
	start = time.Now()
	opts.Progress("checking the time range of every row, without blocking writes")
	for _, stmt := range []string{
		"ALTER TABLE website_status DROP CONSTRAINT IF EXISTS " + check,
		fmt.Sprintf("ALTER TABLE website_status ADD CONSTRAINT %s CHECK (timestamp_utc >= %s AND timestamp_utc < %s) NOT VALID",
			check, quoteTime(c.from), quoteTime(c.to)),
		"ALTER TABLE website_status VALIDATE CONSTRAINT " + check,
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	opts.Progress(fmt.Sprintf("checked in %s", time.Since(start).Round(time.Millisecond)))
	return &c, nil
}

// detachPhase1 moves a version 1 website_status aside inside the migration's
// transaction: an empty one is dropped; one with rows is renamed phase1Name,
// with its indexes and constraints, gains the columns version 2 added, and
// has its prebuilt index made its unique key.
func (m *migration) detachPhase1(ctx context.Context) error {
	c := m.conv
	if c == nil {
		return nil
	}
	if c.empty {
		return m.exec(ctx, "drop the empty version 1 website_status (it is created partitioned)", "DROP TABLE website_status")
	}
	if c.adopting {
		// A dry run: the table has not been adopted; move it aside as it is.
		_, err := m.tx.ExecContext(ctx, "ALTER TABLE website_status RENAME TO "+phase1Name)
		return err
	}
	stmts := []string{
		"ALTER TABLE website_status RENAME TO " + phase1Name,
		"ALTER INDEX IF EXISTS website_status_site_time_idx RENAME TO " + phase1Name + "_site_time_idx",
	}
	live, err := inspect(ctx, m.tx)
	if err != nil {
		return err
	}
	for _, k := range []string{"website_status_check_id_key", "website_status_website_id_fkey"} {
		if _, ok := live.constraints["website_status."+k]; ok {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s RENAME CONSTRAINT %s TO %s", phase1Name, k,
				strings.Replace(k, "website_status", phase1Name, 1)))
		}
	}
	stmts = append(stmts,
		"ALTER TABLE "+phase1Name+" ADD COLUMN IF NOT EXISTS probe text NOT NULL DEFAULT 'default', "+
			"ADD COLUMN IF NOT EXISTS host text NOT NULL DEFAULT ''")
	if !c.dryRun {
		idx := phase1Name + "_check_id_timestamp_utc_key"
		if _, ok := live.constraints["website_status."+idx]; !ok {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s UNIQUE USING INDEX %s", phase1Name, idx, idx))
		}
	}
	for _, s := range stmts {
		if _, err := m.tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		m.report.Statements = append(m.report.Statements, s)
	}
	m.report.Actions = append(m.report.Actions, "rename the version 1 website_status to "+phase1Name)
	return nil
}

// attachPhase1 makes the renamed version 1 table a partition of the new
// website_status, for its time range. Its CHECK spares the scan and its
// indexes match the parent's, so it takes a moment whatever its size.
func (m *migration) attachPhase1(ctx context.Context) error {
	c := m.conv
	if c == nil || c.empty {
		return nil
	}
	if c.dryRun {
		m.report.Actions = append(m.report.Actions, "attach "+phase1Name+" as a partition of website_status, keeping every row")
		return nil
	}
	stmt := fmt.Sprintf("ALTER TABLE website_status ATTACH PARTITION %s FOR VALUES FROM (%s) TO (%s)",
		phase1Name, quoteTime(c.from), quoteTime(c.to))
	if err := m.exec(ctx, fmt.Sprintf("attach %s (%d rows, %s to %s) as a partition of website_status",
		phase1Name, c.rows, c.from.Format("2006-01-02"), c.to.Format("2006-01-02")), stmt); err != nil {
		return err
	}
	return m.exec(ctx, "drop the range check of "+phase1Name+" (the partition bound replaces it)",
		"ALTER TABLE "+phase1Name+" DROP CONSTRAINT IF EXISTS "+phase1Name+"_bounds")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
