package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/store"
)

// migrateLockID is the pg_advisory_xact_lock key that serialises migrations
// ("sitestat" in ASCII).
const migrateLockID int64 = 0x7369746573746174

// MigrateOptions changes what Migrate does.
type MigrateOptions struct {
	// DryRun computes everything Migrate would do, inside the transaction,
	// then rolls it back.
	DryRun bool
	// FixTypes changes columns of the wrong type to the expected type (with
	// ALTER TABLE … TYPE … USING), which may fail when a value does not cast
	// or take long on a big table. Without it a wrong type is only reported.
	FixTypes bool
	// Progress, when set, receives a line at each step of the long parts
	// (converting a version 1 website_status, rebuilding rollups).
	Progress func(line string)
	// DaysAhead is how many UTC days after today get a partition of
	// website_status now; 0 means 7.
	DaysAhead int
	// RawRetention is SITESTAT_RETENTION_RAW (0: forever); adopting legacy
	// rows older than it adds a note that the next prune drops them.
	RawRetention time.Duration
}

// Report is what Migrate did (or, in a dry run, would do).
type Report struct {
	// Version is the schema version recorded after the migration.
	Version int
	// DryRun is whether nothing was committed.
	DryRun bool
	// Actions are human lines, one per change, in the order made, e.g.
	// "create table website_status" or "add column website_status.request_info (jsonb)".
	Actions []string
	// Statements are the SQL statements that made the changes, in order; the
	// whole of schema.sql is one of them when it changed something.
	Statements []string
	// Problems are what is still wrong and was not repaired, each with the
	// statement or option that would repair it.
	Problems []string
	// Notes are things the user should know that are not problems, e.g.
	// adopted rows the next prune will drop.
	Notes []string
}

// UpToDate reports whether the schema needed nothing and has no problems.
func (r Report) UpToDate() bool {
	return len(r.Actions) == 0 && len(r.Problems) == 0 && len(r.Notes) == 0
}

// Lines returns the report as the lines `sitestat migrate` prints.
func (r Report) Lines() []string {
	if r.UpToDate() {
		return []string{fmt.Sprintf("schema is up to date (version %d)", r.Version)}
	}
	var lines []string
	for _, a := range r.Actions {
		if r.DryRun {
			a = "would " + a
		}
		lines = append(lines, a)
	}
	for _, p := range r.Problems {
		lines = append(lines, "problem: "+p)
	}
	for _, n := range r.Notes {
		lines = append(lines, "note: "+n)
	}
	if r.DryRun {
		lines = append(lines, "dry run: nothing was changed")
	}
	return lines
}

// migration is the state of one Migrate call.
type migration struct {
	tx       *sql.Tx
	opts     MigrateOptions
	exp      Schema
	report   *Report
	problems map[string]string // drift key → why it was not repaired
	savept   int
	conv     *conversion // a version 1 website_status to convert, or nil
}

// Migrate brings the database schema to the one schemaSQL (the embedded
// schema.sql) describes. Holding an advisory lock so concurrent runs wait for
// each other, in one transaction, it restores missing columns of existing
// tables, applies schemaSQL (which creates missing tables and indexes), then
// restores missing constraints, indexes and NOT NULLs, and changes columns of
// the wrong type when opts.FixTypes is set. A re-added NOT NULL column is
// filled from request_info when it can be; when rows are left without a value
// the column stays nullable and the report says so. Running it on an
// up-to-date schema changes nothing.
//
// A version 1 website_status (unpartitioned) is converted first, keeping
// every row: its unique index on (check_id, timestamp_utc) and a CHECK of its
// time range are built without blocking writes, then, in the transaction, it
// becomes the partition website_status_phase1 of the new partitioned table,
// which takes no scan. An interruption before that commit leaves the version
// 1 table working; re-running completes it. Then the day partitions from
// yesterday to opts.DaysAhead days ahead are created, and when the schema
// version was older the rollups and site_probe_state are rebuilt from the raw
// rows before Version is recorded in schema_version (an interrupted
// rebuild is redone by the next run). They are rebuilt too when rollup_fold
// was lost: its new row cannot know which hours were merged into days.
func Migrate(ctx context.Context, db *store.DB, schemaSQL string, opts MigrateOptions) (Report, error) {
	report := Report{DryRun: opts.DryRun}
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	if opts.DaysAhead <= 0 {
		opts.DaysAhead = 7
	}
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		return report, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	// A session lock, held across the steps that cannot run in one
	// transaction (CREATE INDEX CONCURRENTLY, the rollup rebuild).
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockID); err != nil {
		return report, fmt.Errorf("migrate: take migration lock: %w", err)
	}
	// The session lock goes with the connection if the unlock fails.
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockID)
	}()

	current, err := schemaVersion(ctx, conn)
	if err != nil {
		return report, fmt.Errorf("migrate: %w", err)
	}
	if current > Version {
		return report, fmt.Errorf("migrate: the database has schema version %d, newer than this build's %d: upgrade sitestat", current, Version)
	}
	// A version 3 database that lost rollup_fold: its new row cannot know
	// which hours were merged into days, so the rollups are rebuilt.
	var foldLost bool
	if current >= 3 {
		if err := conn.QueryRowContext(ctx, "SELECT to_regclass('rollup_fold') IS NULL").Scan(&foldLost); err != nil {
			return report, fmt.Errorf("migrate: %w", err)
		}
	}
	adopted, err := adoptLegacy(ctx, conn, opts, &report)
	if err != nil {
		return report, fmt.Errorf("migrate: %w", err)
	}
	var conv *conversion
	if adopted != nil && opts.DryRun {
		conv = &conversion{dryRun: true, adopting: true}
	} else {
		conv, err = prepareConversion(ctx, conn, opts)
	}
	if err != nil {
		return report, fmt.Errorf("migrate: convert website_status: %w", err)
	}

	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return report, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	m := &migration{tx: tx, opts: opts, exp: Expected(), report: &report, problems: map[string]string{}, conv: conv}
	if err := m.run(ctx, schemaSQL, current); err != nil {
		return report, fmt.Errorf("migrate: %w", err)
	}
	if opts.DryRun {
		if err := tx.Rollback(); err != nil {
			return report, fmt.Errorf("migrate: roll back dry run: %w", err)
		}
		return report, nil
	}
	if err := tx.Commit(); err != nil {
		return report, fmt.Errorf("migrate: commit: %w", err)
	}

	today := utcDay(time.Now())
	created, err := db.EnsurePartitions(ctx, today.Add(-day), today.Add(time.Duration(opts.DaysAhead)*day))
	if err != nil {
		return report, fmt.Errorf("migrate: %w", err)
	}
	for _, name := range created {
		report.Actions = append(report.Actions, "create partition "+name)
	}
	if (current < Version || foldLost) && len(report.Problems) == 0 {
		rep, err := db.RebuildRollups(ctx, time.Time{}, opts.Progress)
		if err != nil && current == Version {
			return report, fmt.Errorf("migrate: %w (run sitestat rollup --rebuild to complete it)", err)
		}
		if err != nil {
			return report, fmt.Errorf("migrate: %w (run sitestat migrate again to complete it)", err)
		}
		if rep.Rows > 0 {
			report.Actions = append(report.Actions, fmt.Sprintf("rebuild rollups and site_probe_state from %d raw rows", rep.Rows))
		}
	}
	if current < Version && len(report.Problems) == 0 {
		stmt := fmt.Sprintf("INSERT INTO schema_version (version) VALUES (%d) ON CONFLICT (version) DO NOTHING", Version)
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return report, fmt.Errorf("migrate: record schema version %d: %w", Version, err)
		}
		report.Actions = append(report.Actions, fmt.Sprintf("record schema version %d", Version))
		report.Statements = append(report.Statements, stmt)
		report.Version = Version
	}
	return report, nil
}

// schemaVersion returns the highest version in schema_version, 0 when the
// table does not exist.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var exists bool
	if err := q.QueryRowContext(ctx, "SELECT to_regclass('schema_version') IS NOT NULL").Scan(&exists); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func (m *migration) run(ctx context.Context, schemaSQL string, current int) error {
	if _, err := m.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockID); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	// A version 1 website_status steps aside, renamed, before anything
	// looks at the table of that name.
	if err := m.detachPhase1(ctx); err != nil {
		return err
	}

	// Repair the tables that exist first, so that schema.sql, whose CREATE
	// INDEX and REFERENCES need their columns and keys, applies cleanly.
	if err := m.repair(ctx, false); err != nil {
		return err
	}
	before, err := inspect(ctx, m.tx)
	if err != nil {
		return err
	}
	if _, err := m.tx.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("apply schema.sql: %w", err)
	}
	after, err := inspect(ctx, m.tx)
	if err != nil {
		return err
	}
	if created := createdBy(before, after); len(created) > 0 {
		m.report.Actions = append(m.report.Actions, created...)
		m.report.Statements = append(m.report.Statements, strings.TrimSpace(schemaSQL))
	}
	if err := m.attachPhase1(ctx); err != nil {
		return err
	}
	if err := m.repair(ctx, true); err != nil {
		return err
	}

	if current < m.exp.Version && m.opts.DryRun {
		// Recorded after the commit (and the rollup rebuild) in a real run.
		stmt := fmt.Sprintf("INSERT INTO schema_version (version) VALUES (%d) ON CONFLICT (version) DO NOTHING", m.exp.Version)
		if err := m.exec(ctx, fmt.Sprintf("record schema version %d", m.exp.Version), stmt); err != nil {
			return err
		}
	}
	m.report.Version = current

	final, err := inspect(ctx, m.tx)
	if err != nil {
		return err
	}
	for _, d := range diff(m.exp, final) {
		p, ok := m.problems[d.key()]
		if !ok {
			p = d.describe() + m.advice(d)
		}
		m.report.Problems = append(m.report.Problems, p)
	}
	return nil
}

// advice tells how to repair a drift Migrate left alone.
func (m *migration) advice(d drift) string {
	switch d.kind {
	case wrongType:
		return "; run: sitestat migrate --fix-types, which runs: " + d.typeFix()
	case nullable:
		return fmt.Sprintf("; fill the NULLs, then run: ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", d.table, d.column.Name)
	}
	return ""
}

// createdBy lists what changed between two inspections: new tables, new
// constraints and indexes of tables that already existed, and constraints
// schema.sql dropped.
func createdBy(before, after liveSchema) []string {
	var out []string
	var tables []string
	for t := range after.tables {
		if !before.hasTable(t) {
			tables = append(tables, t)
		}
	}
	sort.Strings(tables)
	for _, t := range tables {
		out = append(out, "create table "+t)
	}
	var rest []string
	for k := range after.constraints {
		table, name, _ := strings.Cut(k, ".")
		if _, ok := before.constraints[k]; !ok && before.hasTable(table) {
			rest = append(rest, fmt.Sprintf("add constraint %s on %s", name, table))
		}
	}
	for name, table := range after.indexes {
		if _, ok := before.indexes[name]; !ok && before.hasTable(table) {
			if _, isConstraint := after.constraints[table+"."+name]; !isConstraint {
				rest = append(rest, fmt.Sprintf("create index %s on %s", name, table))
			}
		}
	}
	for k := range before.constraints {
		table, name, _ := strings.Cut(k, ".")
		if _, ok := after.constraints[k]; !ok && after.hasTable(table) {
			rest = append(rest, fmt.Sprintf("drop constraint %s on %s", name, table))
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// repair fixes the drifts it can, one kind at a time, inspecting again after
// each kind so later steps see the earlier changes. Before schema.sql is
// applied (final false) it leaves out foreign keys, indexes and types.
func (m *migration) repair(ctx context.Context, final bool) error {
	steps := []driftKind{missingColumn, nullable, missingConstraint, unvalidatedConstraint}
	if final {
		steps = append(steps, missingIndex, wrongType)
	}
	for _, kind := range steps {
		live, err := inspect(ctx, m.tx)
		if err != nil {
			return err
		}
		for _, d := range diff(m.exp, live) {
			if d.kind != kind {
				continue
			}
			if err := m.fix(ctx, d, live, final); err != nil {
				return err
			}
		}
	}
	return nil
}

// fix repairs one drift, or records in m.problems why it could not.
func (m *migration) fix(ctx context.Context, d drift, live liveSchema, final bool) error {
	switch d.kind {
	case missingColumn:
		return m.addColumn(ctx, d, live)
	case nullable:
		var nulls int64
		q := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s IS NULL", d.table, d.column.Name)
		if err := m.tx.QueryRowContext(ctx, q).Scan(&nulls); err != nil {
			return fmt.Errorf("count NULLs in %s.%s: %w", d.table, d.column.Name, err)
		}
		if nulls > 0 {
			m.problems[d.key()] = fmt.Sprintf("column %s.%s allows NULL, want NOT NULL: %d rows have no value (the column was missing); fill them, then run: ALTER TABLE %s ALTER COLUMN %s SET NOT NULL",
				d.table, d.column.Name, nulls, d.table, d.column.Name)
			return nil
		}
		return m.exec(ctx, fmt.Sprintf("set %s.%s NOT NULL", d.table, d.column.Name),
			fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", d.table, d.column.Name))
	case missingConstraint:
		k := d.constraint
		if k.Kind == 'f' && !final {
			return nil // the referenced table may be created by schema.sql
		}
		action := fmt.Sprintf("add constraint %s on %s: %s", k.Name, k.Table, k.Def)
		add := fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", k.Table, k.Name, k.Def)
		// Add it NOT VALID (new rows are checked at once), then validate the
		// existing rows, which may fail without undoing the add. PostgreSQL
		// 15 has no NOT VALID foreign key on a partitioned table: there the
		// add validates.
		notValid := (k.Kind == 'f' && !live.partitioned[k.Table]) || k.Kind == 'c'
		if notValid {
			add += " NOT VALID"
		}
		ok, err := m.try(ctx, d, action, add)
		if err != nil || !ok || !notValid {
			return err
		}
		_, err = m.try(ctx, drift{kind: unvalidatedConstraint, table: d.table, constraint: k},
			fmt.Sprintf("validate constraint %s on %s", k.Name, k.Table),
			fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", k.Table, k.Name))
		return err
	case unvalidatedConstraint:
		if _, tried := m.problems[d.key()]; tried {
			return nil // validation failed already in this run
		}
		k := d.constraint
		_, err := m.try(ctx, d, fmt.Sprintf("validate constraint %s on %s", k.Name, k.Table),
			fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", k.Table, k.Name))
		return err
	case missingIndex:
		return m.exec(ctx, fmt.Sprintf("create index %s on %s", d.index.Name, d.table), d.index.Create)
	case wrongType:
		if !m.opts.FixTypes {
			return nil
		}
		return m.exec(ctx, fmt.Sprintf("change type of %s.%s from %s to %s", d.table, d.column.Name, d.have.typeName(), d.column.Type),
			d.typeFix())
	}
	return nil
}

// addColumn re-adds a missing column, nullable, and fills it in existing rows
// from its Backfill expression; the nullable step then sets NOT NULL when no
// row is left without a value.
func (m *migration) addColumn(ctx context.Context, d drift, live liveSchema) error {
	c := d.column
	def := c.Type
	if c.Default != "" {
		def += " DEFAULT " + c.Default
	}
	if c.AddType != "" {
		def = c.AddType
	}
	if err := m.exec(ctx, fmt.Sprintf("add column %s.%s (%s)", d.table, c.Name, c.Type),
		fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", d.table, c.Name, def)); err != nil {
		return err
	}
	if c.Backfill == "" {
		return nil
	}
	if from, ok := live.column(d.table, c.BackfillFrom); !ok || (from.udt != "jsonb" && from.udt != "json") {
		return nil
	}
	var nonEmpty bool
	if err := m.tx.QueryRowContext(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s)", d.table)).Scan(&nonEmpty); err != nil {
		return fmt.Errorf("read rows of %s: %w", d.table, err)
	}
	if !nonEmpty {
		return nil
	}
	_, err := m.try(ctx, drift{kind: nullable, table: d.table, column: c},
		fmt.Sprintf("fill %s.%s from %s", d.table, c.Name, c.BackfillFrom),
		fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s IS NULL", d.table, c.Name, c.Backfill, c.Name))
	return err
}

// exec runs one repair statement and records it; a failure fails Migrate.
func (m *migration) exec(ctx context.Context, action, stmt string) error {
	if _, err := m.tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	m.report.Actions = append(m.report.Actions, action)
	m.report.Statements = append(m.report.Statements, stmt)
	return nil
}

// try runs one repair statement inside a savepoint. When PostgreSQL rejects
// it (bad data, not a broken connection) it rolls back to the savepoint,
// records why under d's key, and returns false.
func (m *migration) try(ctx context.Context, d drift, action, stmt string) (bool, error) {
	m.savept++
	sp := fmt.Sprintf("sitestat_repair_%d", m.savept)
	if _, err := m.tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
		return false, fmt.Errorf("%s: %w", action, err)
	}
	_, err := m.tx.ExecContext(ctx, stmt)
	var pqErr *pq.Error
	if err != nil && ctx.Err() == nil && errors.As(err, &pqErr) && !pqErr.Fatal() {
		if _, rerr := m.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+sp); rerr != nil {
			return false, fmt.Errorf("%s: %w", action, rerr)
		}
		m.problems[d.key()] = fmt.Sprintf("could not %s: %s; fix the data, then run: sitestat migrate (it runs: %s)",
			action, pqErr.Message, stmt)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", action, err)
	}
	if _, err := m.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
		return false, fmt.Errorf("%s: %w", action, err)
	}
	m.report.Actions = append(m.report.Actions, action)
	m.report.Statements = append(m.report.Statements, stmt)
	return true, nil
}
