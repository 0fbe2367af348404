package store

// SchemaVersion is the version of schema.sql this build expects; Migrate
// records it in schema_version.
const SchemaVersion = 3

// Schema describes the tables, constraints and indexes schema.sql creates, for
// Migrate to compare with a live database and repair it, and for CheckSchema.
type Schema struct {
	// Version is recorded in schema_version.
	Version int
	// Tables in creation order (a table comes after those it references).
	Tables []Table
	// Constraints in creation order (a primary key before the foreign keys
	// that reference it).
	Constraints []Constraint
	// Indexes that are not backing a constraint.
	Indexes []Index
}

// Table is one expected table.
type Table struct {
	// Name of the table.
	Name string
	// Columns in the order schema.sql declares them.
	Columns []Column
}

// Column is one expected column of a table.
type Column struct {
	// Name of the column.
	Name string
	// Type is the SQL type, as used in ALTER TABLE … TYPE, e.g. "varchar(2048)".
	Type string
	// UDT is the type's name in pg_type (information_schema's udt_name),
	// e.g. "varchar", "int4", "timestamptz"; it is what the check compares.
	UDT string
	// Length is the declared length of a varchar, 0 for other types.
	Length int
	// NotNull is whether the column is NOT NULL.
	NotNull bool
	// Default is the DEFAULT expression, "" for none.
	Default string
	// AddType, when set, replaces Type and Default when the column is re-added
	// (e.g. "serial", which creates its sequence and numbers existing rows).
	AddType string
	// Backfill is an SQL expression over the other columns that fills the
	// column in existing rows when it is re-added, "" when nothing can.
	Backfill string
	// BackfillFrom names the column Backfill reads (it must exist as jsonb).
	BackfillFrom string
}

// Constraint is one expected named table constraint.
type Constraint struct {
	// Table the constraint belongs to.
	Table string
	// Name of the constraint, as schema.sql names it.
	Name string
	// Kind is the pg_constraint.contype: 'p' primary key, 'u' unique,
	// 'f' foreign key, 'c' check.
	Kind byte
	// Def is the constraint definition as in ALTER TABLE … ADD CONSTRAINT name Def.
	Def string
}

// Index is one expected index that is not backing a constraint.
type Index struct {
	// Table the index belongs to.
	Table string
	// Name of the index.
	Name string
	// Create is the CREATE INDEX IF NOT EXISTS statement.
	Create string
}

// ExpectedSchema returns the schema that schema.sql creates, version
// SchemaVersion. The tests check that the two agree.
func ExpectedSchema() Schema {
	return Schema{
		Version: SchemaVersion,
		Tables: []Table{
			{Name: "schema_version", Columns: []Column{
				{Name: "version", Type: "integer", UDT: "int4", NotNull: true},
				{Name: "applied_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
			}},
			{Name: "websites", Columns: []Column{
				{Name: "id", Type: "integer", UDT: "int4", NotNull: true, AddType: "serial"},
				{Name: "url", Type: "varchar(2048)", UDT: "varchar", Length: 2048, NotNull: true},
				{Name: "check_interval", Type: "integer", UDT: "int4", NotNull: true, Default: "5"},
				{Name: "up_regex", Type: "text", UDT: "text"},
				{Name: "created_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
				{Name: "updated_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
				{Name: "name", Type: "text", UDT: "text", NotNull: true, Default: "''"},
				{Name: "alert_after", Type: "integer", UDT: "int4"},
				{Name: "recover_after", Type: "integer", UDT: "int4"},
				{Name: "public", Type: "boolean", UDT: "bool", NotNull: true, Default: "true"},
			}},
			{Name: "website_status", Columns: []Column{
				{Name: "website_id", Type: "integer", UDT: "int4", NotNull: true,
					Backfill: "(request_info->>'website_id')::integer", BackfillFrom: "request_info"},
				{Name: "timestamp_utc", Type: "timestamptz", UDT: "timestamptz", NotNull: true,
					Backfill: "(request_info->>'checked_at')::timestamptz", BackfillFrom: "request_info"},
				{Name: "request_info", Type: "jsonb", UDT: "jsonb", NotNull: true},
				{Name: "check_id", Type: "uuid", UDT: "uuid", NotNull: true,
					Backfill: "(request_info->>'check_id')::uuid", BackfillFrom: "request_info"},
				{Name: "up", Type: "boolean", UDT: "bool", NotNull: true,
					Backfill: "(request_info->>'up')::boolean", BackfillFrom: "request_info"},
				{Name: "reason", Type: "text", UDT: "text", NotNull: true,
					Backfill: "request_info->>'reason'", BackfillFrom: "request_info"},
				{Name: "status_code", Type: "smallint", UDT: "int2",
					Backfill: "(request_info->>'status_code')::smallint", BackfillFrom: "request_info"},
				{Name: "response_time_ms", Type: "real", UDT: "float4",
					Backfill: "(request_info->>'response_time_ms')::real", BackfillFrom: "request_info"},
				{Name: "probe", Type: "text", UDT: "text", NotNull: true, Default: "'default'"},
				{Name: "host", Type: "text", UDT: "text", NotNull: true, Default: "''"},
			}},
			{Name: "site_probe_state", Columns: []Column{
				{Name: "website_id", Type: "integer", UDT: "int4", NotNull: true},
				{Name: "probe", Type: "text", UDT: "text", NotNull: true},
				{Name: "checked_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true},
				{Name: "check_id", Type: "uuid", UDT: "uuid", NotNull: true},
				{Name: "up", Type: "boolean", UDT: "bool", NotNull: true},
				{Name: "reason", Type: "text", UDT: "text", NotNull: true},
				{Name: "status_code", Type: "smallint", UDT: "int2"},
				{Name: "response_time_ms", Type: "real", UDT: "float4"},
				{Name: "error", Type: "text", UDT: "text", NotNull: true, Default: "''"},
				{Name: "host", Type: "text", UDT: "text", NotNull: true, Default: "''"},
				{Name: "updated_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
				{Name: "fail_streak", Type: "integer", UDT: "int4", NotNull: true, Default: "0"},
				{Name: "ok_streak", Type: "integer", UDT: "int4", NotNull: true, Default: "0"},
				{Name: "failing", Type: "boolean", UDT: "bool", NotNull: true, Default: "false"},
				{Name: "first_fail_at", Type: "timestamptz", UDT: "timestamptz"},
			}},
			{Name: "website_status_window", Columns: []Column{
				{Name: "website_id", Type: "integer", UDT: "int4", NotNull: true},
				{Name: "days", Type: "integer", UDT: "int4", NotNull: true},
				{Name: "through", Type: "date", UDT: "date", NotNull: true},
				{Name: "checks", Type: "bigint", UDT: "int8", NotNull: true},
				{Name: "up_checks", Type: "bigint", UDT: "int8", NotNull: true},
				{Name: "rt_hist", Type: "bigint[]", UDT: "_int8", NotNull: true, Default: "'{}'"},
			}},
			{Name: "website_status_rejected", Columns: []Column{
				{Name: "website_id", Type: "integer", UDT: "int4"},
				{Name: "timestamp_utc", Type: "timestamptz", UDT: "timestamptz"},
				{Name: "request_info", Type: "json", UDT: "json"},
				{Name: "rejected_because", Type: "text", UDT: "text", NotNull: true},
				{Name: "rejected_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
			}},
			rollupTable("website_status_hourly", Column{Name: "hour", Type: "timestamptz", UDT: "timestamptz", NotNull: true}),
			rollupTable("website_status_daily", Column{Name: "day", Type: "date", UDT: "date", NotNull: true}),
			{Name: "rollup_fold", Columns: []Column{
				{Name: "folded_hour", Type: "timestamptz", UDT: "timestamptz", NotNull: true},
			}},
			// Alerts: incidents and the notification outbox.
			{Name: "incidents", Columns: []Column{
				{Name: "id", Type: "bigint", UDT: "int8", NotNull: true, AddType: "bigserial"},
				{Name: "website_id", Type: "integer", UDT: "int4"},
				{Name: "kind", Type: "text", UDT: "text", NotNull: true},
				{Name: "started_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true},
				{Name: "resolved_at", Type: "timestamptz", UDT: "timestamptz"},
				{Name: "reason", Type: "text", UDT: "text", NotNull: true, Default: "''"},
				{Name: "error", Type: "text", UDT: "text", NotNull: true, Default: "''"},
				{Name: "probes", Type: "text[]", UDT: "_text", NotNull: true, Default: "'{}'"},
				{Name: "created_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
			}},
			{Name: "notifications", Columns: []Column{
				{Name: "id", Type: "bigint", UDT: "int8", NotNull: true, AddType: "bigserial"},
				{Name: "incident_id", Type: "bigint", UDT: "int8"},
				{Name: "event", Type: "text", UDT: "text", NotNull: true},
				{Name: "channel", Type: "text", UDT: "text", NotNull: true},
				{Name: "payload", Type: "jsonb", UDT: "jsonb", NotNull: true},
				{Name: "created_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
				{Name: "attempts", Type: "integer", UDT: "int4", NotNull: true, Default: "0"},
				{Name: "next_attempt_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
				{Name: "delivered_at", Type: "timestamptz", UDT: "timestamptz"},
				{Name: "failed_at", Type: "timestamptz", UDT: "timestamptz"},
				{Name: "last_error", Type: "text", UDT: "text"},
			}},
			{Name: "probes", Columns: []Column{
				{Name: "name", Type: "text", UDT: "text", NotNull: true},
				{Name: "host", Type: "text", UDT: "text", NotNull: true, Default: "''"},
				{Name: "heartbeat_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true},
				{Name: "received_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
				{Name: "sites", Type: "integer", UDT: "int4", NotNull: true, Default: "0"},
				{Name: "checks", Type: "bigint", UDT: "int8", NotNull: true, Default: "0"},
				{Name: "first_seen_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
			}},
			{Name: "maintenance_windows", Columns: []Column{
				{Name: "id", Type: "bigint", UDT: "int8", NotNull: true, AddType: "bigserial"},
				{Name: "website_id", Type: "integer", UDT: "int4"},
				{Name: "starts_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true},
				{Name: "ends_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true},
				{Name: "reason", Type: "text", UDT: "text", NotNull: true, Default: "''"},
				{Name: "created_at", Type: "timestamptz", UDT: "timestamptz", NotNull: true, Default: "now()"},
			}},
		},
		Constraints: []Constraint{
			{Table: "schema_version", Name: "schema_version_pkey", Kind: 'p', Def: "PRIMARY KEY (version)"},
			{Table: "websites", Name: "websites_pkey", Kind: 'p', Def: "PRIMARY KEY (id)"},
			{Table: "websites", Name: "websites_url_check", Kind: 'c', Def: "CHECK (url ~* '^https?://')"},
			{Table: "websites", Name: "websites_check_interval_check", Kind: 'c', Def: "CHECK (check_interval BETWEEN 1 AND 86400)"},
			{Table: "website_status", Name: "website_status_website_id_fkey", Kind: 'f',
				Def: "FOREIGN KEY (website_id) REFERENCES websites (id) ON DELETE CASCADE"},
			{Table: "website_status", Name: "website_status_check_id_timestamp_utc_key", Kind: 'u', Def: "UNIQUE (check_id, timestamp_utc)"},
			{Table: "site_probe_state", Name: "site_probe_state_pkey", Kind: 'p', Def: "PRIMARY KEY (website_id, probe)"},
			{Table: "site_probe_state", Name: "site_probe_state_website_id_fkey", Kind: 'f',
				Def: "FOREIGN KEY (website_id) REFERENCES websites (id) ON DELETE CASCADE"},
			{Table: "website_status_hourly", Name: "website_status_hourly_pkey", Kind: 'p', Def: "PRIMARY KEY (website_id, probe, hour)"},
			{Table: "website_status_hourly", Name: "website_status_hourly_website_id_fkey", Kind: 'f',
				Def: "FOREIGN KEY (website_id) REFERENCES websites (id) ON DELETE CASCADE"},
			{Table: "website_status_window", Name: "website_status_window_pkey", Kind: 'p', Def: "PRIMARY KEY (website_id, days)"},
			{Table: "website_status_window", Name: "website_status_window_website_id_fkey", Kind: 'f',
				Def: "FOREIGN KEY (website_id) REFERENCES websites (id) ON DELETE CASCADE"},
			{Table: "website_status_daily", Name: "website_status_daily_pkey", Kind: 'p', Def: "PRIMARY KEY (website_id, probe, day)"},
			{Table: "website_status_daily", Name: "website_status_daily_website_id_fkey", Kind: 'f',
				Def: "FOREIGN KEY (website_id) REFERENCES websites (id) ON DELETE CASCADE"},
			// Alerts.
			{Table: "incidents", Name: "incidents_pkey", Kind: 'p', Def: "PRIMARY KEY (id)"},
			{Table: "incidents", Name: "incidents_website_id_fkey", Kind: 'f',
				Def: "FOREIGN KEY (website_id) REFERENCES websites (id) ON DELETE CASCADE"},
			{Table: "incidents", Name: "incidents_kind_check", Kind: 'c',
				Def: "CHECK (kind IN ('down', 'cert_expiry', 'probe_silent'))"},
			{Table: "notifications", Name: "notifications_pkey", Kind: 'p', Def: "PRIMARY KEY (id)"},
			{Table: "notifications", Name: "notifications_incident_event_channel_key", Kind: 'u',
				Def: "UNIQUE (incident_id, event, channel)"},
			{Table: "notifications", Name: "notifications_event_check", Kind: 'c', Def: "CHECK (event ~ '^[a-z_]{1,32}$')"},
			{Table: "notifications", Name: "notifications_channel_check", Kind: 'c', Def: "CHECK (channel ~ '^[a-z_]{1,32}$')"},
			{Table: "probes", Name: "probes_pkey", Kind: 'p', Def: "PRIMARY KEY (name)"},
			{Table: "maintenance_windows", Name: "maintenance_windows_pkey", Kind: 'p', Def: "PRIMARY KEY (id)"},
			{Table: "maintenance_windows", Name: "maintenance_windows_website_id_fkey", Kind: 'f',
				Def: "FOREIGN KEY (website_id) REFERENCES websites (id) ON DELETE CASCADE"},
			{Table: "maintenance_windows", Name: "maintenance_windows_check", Kind: 'c', Def: "CHECK (ends_at > starts_at)"},
		},
		Indexes: []Index{
			{Table: "website_status", Name: "website_status_site_time_idx",
				Create: "CREATE INDEX IF NOT EXISTS website_status_site_time_idx ON website_status " +
					"(website_id, timestamp_utc DESC) INCLUDE (up, reason, status_code, response_time_ms)"},
			{Table: "website_status", Name: "website_status_failed_idx",
				Create: "CREATE INDEX IF NOT EXISTS website_status_failed_idx ON website_status " +
					"(website_id, timestamp_utc DESC) WHERE NOT up"},
			{Table: "website_status_hourly", Name: "website_status_hourly_hour_idx",
				Create: "CREATE INDEX IF NOT EXISTS website_status_hourly_hour_idx ON website_status_hourly (hour)"},
			{Table: "website_status_daily", Name: "website_status_daily_day_idx",
				Create: "CREATE INDEX IF NOT EXISTS website_status_daily_day_idx ON website_status_daily (day)"},
			{Table: "incidents", Name: "incidents_open_site_idx",
				Create: "CREATE UNIQUE INDEX IF NOT EXISTS incidents_open_site_idx ON incidents (website_id, kind) " +
					"WHERE resolved_at IS NULL AND website_id IS NOT NULL"},
			{Table: "incidents", Name: "incidents_open_probe_idx",
				Create: "CREATE UNIQUE INDEX IF NOT EXISTS incidents_open_probe_idx ON incidents ((probes[1])) " +
					"WHERE resolved_at IS NULL AND kind = 'probe_silent'"},
			{Table: "notifications", Name: "notifications_due_idx",
				Create: "CREATE INDEX IF NOT EXISTS notifications_due_idx ON notifications (next_attempt_at) " +
					"WHERE delivered_at IS NULL AND failed_at IS NULL"},
		},
	}
}

// rollupTable describes website_status_hourly or website_status_daily, whose
// columns differ only in the time key.
func rollupTable(name string, key Column) Table {
	return Table{Name: name, Columns: []Column{
		{Name: "website_id", Type: "integer", UDT: "int4", NotNull: true},
		{Name: "probe", Type: "text", UDT: "text", NotNull: true},
		key,
		{Name: "checks", Type: "integer", UDT: "int4", NotNull: true},
		{Name: "up_checks", Type: "integer", UDT: "int4", NotNull: true},
		{Name: "reasons", Type: "jsonb", UDT: "jsonb", NotNull: true, Default: "'{}'"},
		{Name: "rt_count", Type: "integer", UDT: "int4", NotNull: true, Default: "0"},
		{Name: "rt_sum", Type: "double precision", UDT: "float8", NotNull: true, Default: "0"},
		{Name: "rt_min", Type: "real", UDT: "float4"},
		{Name: "rt_max", Type: "real", UDT: "float4"},
		{Name: "rt_hist", Type: "bigint[]", UDT: "_int8", NotNull: true, Default: "'{}'"},
	}}
}

// table returns the expected table called name, or nil.
func (s Schema) table(name string) *Table {
	for i := range s.Tables {
		if s.Tables[i].Name == name {
			return &s.Tables[i]
		}
	}
	return nil
}
