-- sitestat database schema.
--
-- `sitestat migrate` applies this script in one transaction under an advisory
-- lock, then repairs whatever it finds missing (columns, constraints, indexes)
-- and records the schema version in schema_version. The script is idempotent:
-- applying it to a database that already has the schema changes nothing, so it
-- can also be run by hand: psql "$DATABASE_URL" -1 -f schema.sql
--
-- After changing this file run `make generate`: it rewrites
-- schema/expected_gen.go (the expected schema the drift checks and migrate
-- compare with, read from the catalog once this file is applied to a scratch
-- database); a test fails while the committed file differs.

CREATE TABLE IF NOT EXISTS schema_version (
    version    integer     NOT NULL PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- websites is the list of websites to check.
CREATE TABLE IF NOT EXISTS websites (
    id             serial        NOT NULL,
    -- url is the address GET requests go to; http or https only.
    url            varchar(2048) NOT NULL,
    -- check_interval is how often to check the website, in seconds.
    check_interval integer       NOT NULL DEFAULT 5,
    -- up_regex is an optional Go RE2 pattern the response body must match.
    up_regex       text,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now(),
    -- name is what the status page shows instead of the URL ('' for none).
    name           text          NOT NULL DEFAULT '',
    CONSTRAINT websites_pkey PRIMARY KEY (id),
    CONSTRAINT websites_url_check CHECK (url ~* '^https?://'),
    CONSTRAINT websites_check_interval_check CHECK (check_interval BETWEEN 1 AND 86400)
);

-- website_status holds one row per check of a website (one checker.Result).
-- It is range-partitioned by timestamp_utc, one partition per UTC day
-- (website_status_YYYYMMDD), created ahead by `sitestat migrate` and by sync
-- before a batch needs them (store.DB.EnsurePartitions), and dropped whole by
-- retention (store.DB.Prune). A database converted from version 1 keeps its
-- old table as one partition, website_status_phase1, covering its days.
CREATE TABLE IF NOT EXISTS website_status (
    website_id       integer     NOT NULL,
    -- timestamp_utc is when the check request started (Result.checked_at).
    timestamp_utc    timestamptz NOT NULL,
    -- request_info is the whole Result message as JSON, as received.
    request_info     jsonb       NOT NULL,
    -- check_id identifies the check; each is stored once.
    check_id         uuid        NOT NULL,
    -- up, reason, status_code and response_time_ms copy the Result fields
    -- that `sitestat status` reads, so it never parses request_info.
    up               boolean     NOT NULL,
    reason           text        NOT NULL,
    status_code      smallint,
    response_time_ms real,
    -- probe is the checking location (Result.probe); host the machine.
    probe            text        NOT NULL DEFAULT 'default',
    host             text        NOT NULL DEFAULT '',
    CONSTRAINT website_status_website_id_fkey FOREIGN KEY (website_id)
        REFERENCES websites (id) ON DELETE CASCADE,
    -- The unique key must hold the partition key; a check's checked_at never
    -- changes, so this dedups as check_id alone did.
    CONSTRAINT website_status_check_id_timestamp_utc_key UNIQUE (check_id, timestamp_utc)
) PARTITION BY RANGE (timestamp_utc);

-- The latest checks of a website, covering what `sitestat status ID` reads.
CREATE INDEX IF NOT EXISTS website_status_site_time_idx
    ON website_status (website_id, timestamp_utc DESC)
    INCLUDE (up, reason, status_code, response_time_ms);

-- The failed checks of a website, newest first (`sitestat status ID`).
CREATE INDEX IF NOT EXISTS website_status_failed_idx
    ON website_status (website_id, timestamp_utc DESC) WHERE NOT up;

-- website_status_rejected holds, untouched, the rows of an adopted legacy
-- website_status (the brief's table) that sitestat cannot store: a NULL
-- website_id, timestamp_utc or request_info, or a request_info jsonb cannot
-- hold (a \u0000 escape), with why.
CREATE TABLE IF NOT EXISTS website_status_rejected (
    website_id       integer,
    timestamp_utc    timestamptz,
    request_info     json,
    rejected_because text        NOT NULL,
    rejected_at      timestamptz NOT NULL DEFAULT now()
);

-- site_probe_state is what is true now, one row per website and probe: the
-- latest check sync stored (a late result never moves it backwards). sync
-- updates it in the transaction that stores the rows.
CREATE TABLE IF NOT EXISTS site_probe_state (
    website_id       integer     NOT NULL,
    probe            text        NOT NULL,
    -- checked_at and the columns after it describe the latest check.
    checked_at       timestamptz NOT NULL,
    check_id         uuid        NOT NULL,
    up               boolean     NOT NULL,
    reason           text        NOT NULL,
    status_code      smallint,
    response_time_ms real,
    error            text        NOT NULL DEFAULT '',
    host             text        NOT NULL DEFAULT '',
    -- updated_at is when sync last changed the row.
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT site_probe_state_pkey PRIMARY KEY (website_id, probe),
    CONSTRAINT site_probe_state_website_id_fkey FOREIGN KEY (website_id)
        REFERENCES websites (id) ON DELETE CASCADE
) WITH (fillfactor = 70);

-- website_status_hourly and website_status_daily are exact rollups of the
-- rows stored, per website, probe and UTC hour (day), counting each stored
-- row once: sync updates the hourly rows in the transaction that stores the
-- rows, and the days are merged from the hours (see rollup_fold).
-- reasons counts the checks per reason other than "ok" (up_checks counts
-- those), e.g. {"timeout": 3}. rt_* summarise response_time_ms over the
-- checks that have one (rt_count of them); rt_hist is a sparse histogram
-- with fixed logarithmic buckets (store/histogram.go): elements
-- bucket << 32 | count, where a bucket may repeat (sync appends, and merges
-- them once the array passes 48 elements; readers sum them).
-- They and site_probe_state are updated in place: room left in each page
-- (fillfactor) lets those updates be HOT (no index change).
CREATE TABLE IF NOT EXISTS website_status_hourly (
    website_id integer     NOT NULL,
    probe      text        NOT NULL,
    hour       timestamptz NOT NULL,
    checks     integer     NOT NULL,
    up_checks  integer     NOT NULL,
    reasons    jsonb       NOT NULL DEFAULT '{}',
    rt_count   integer     NOT NULL DEFAULT 0,
    rt_sum     double precision NOT NULL DEFAULT 0,
    rt_min     real,
    rt_max     real,
    rt_hist    bigint[]    NOT NULL DEFAULT '{}',
    CONSTRAINT website_status_hourly_pkey PRIMARY KEY (website_id, probe, hour),
    CONSTRAINT website_status_hourly_website_id_fkey FOREIGN KEY (website_id)
        REFERENCES websites (id) ON DELETE CASCADE
) WITH (fillfactor = 70);

CREATE TABLE IF NOT EXISTS website_status_daily (
    website_id integer     NOT NULL,
    probe      text        NOT NULL,
    day        date        NOT NULL,
    checks     integer     NOT NULL,
    up_checks  integer     NOT NULL,
    reasons    jsonb       NOT NULL DEFAULT '{}',
    rt_count   integer     NOT NULL DEFAULT 0,
    rt_sum     double precision NOT NULL DEFAULT 0,
    rt_min     real,
    rt_max     real,
    rt_hist    bigint[]    NOT NULL DEFAULT '{}',
    CONSTRAINT website_status_daily_pkey PRIMARY KEY (website_id, probe, day),
    CONSTRAINT website_status_daily_website_id_fkey FOREIGN KEY (website_id)
        REFERENCES websites (id) ON DELETE CASCADE
) WITH (fillfactor = 70);

-- website_status_window caches, per website, the daily rollups of its
-- probes merged over the `days` whole UTC days before `through`: what a
-- 30- or 90-day `status` reads instead of 300,000 daily rows. `status` fills
-- it when missing (once a day per window length); sync deletes a website's
-- rows when it stores a late result for a past day, so it is never stale.
CREATE TABLE IF NOT EXISTS website_status_window (
    website_id integer     NOT NULL,
    days       integer     NOT NULL,
    through    date        NOT NULL,
    checks     bigint      NOT NULL,
    up_checks  bigint      NOT NULL,
    rt_hist    bigint[]    NOT NULL DEFAULT '{}',
    CONSTRAINT website_status_window_pkey PRIMARY KEY (website_id, days),
    CONSTRAINT website_status_window_website_id_fkey FOREIGN KEY (website_id)
        REFERENCES websites (id) ON DELETE CASCADE
);

-- rollup_fold has one row: folded_hour, the hour before which every hourly
-- rollup is also in website_status_daily. Days are merged from hours: sync
-- updates only website_status_hourly for a check at or after folded_hour,
-- and once an hour has passed (and a grace hour for late results) one sync
-- adds the hourly rows of [folded_hour, that hour) to their days and moves
-- folded_hour on, in one transaction; a check before folded_hour (a late
-- result) updates both tables at once. A day is therefore its daily row plus
-- its hourly rows at or after folded_hour. Each batch of sync locks the
-- table IN ROW SHARE MODE and the merge IN EXCLUSIVE MODE (a fair queue:
-- batches coming after a waiting merge wait behind it), so no check is
-- merged twice or never. The first value covers the daily rows already
-- there: every hour that has an hourly row.
CREATE TABLE IF NOT EXISTS rollup_fold (
    folded_hour timestamptz NOT NULL
);
INSERT INTO rollup_fold (folded_hour)
SELECT coalesce((SELECT max(hour) + interval '1 hour' FROM website_status_hourly), '1970-01-01 00:00:00+00')
WHERE NOT EXISTS (SELECT 1 FROM rollup_fold);

-- Only a sitestat that merges days from hours (schema version 3 and later)
-- writes website_status_daily: a version 2 sync left running after the
-- upgrade would add each check to its day as well as to its hour, and the
-- merge would add it again. Writers say which version they are with
-- set_config('sitestat.writer_version', '3', true) in their transaction;
-- any other INSERT or UPDATE is refused with this one-line error, which a
-- version 2 sync logs and retries without committing its offsets (nothing
-- is lost: its partitions wait for it to be stopped or upgraded).
CREATE OR REPLACE FUNCTION sitestat_daily_writer_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(nullif(current_setting('sitestat.writer_version', true), ''), '0')::int < 3 THEN
        RAISE EXCEPTION 'website_status_daily is written only by sitestat with schema version 3 or later (days are merged from hours): stop or upgrade the older sitestat'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NULL;
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgname = 'website_status_daily_writer' AND tgrelid = 'website_status_daily'::regclass) THEN
        CREATE TRIGGER website_status_daily_writer BEFORE INSERT OR UPDATE ON website_status_daily
            FOR EACH STATEMENT EXECUTE FUNCTION sitestat_daily_writer_check();
    END IF;
END $$;

-- Retention prunes the rollups by time: an index leading on it.
CREATE INDEX IF NOT EXISTS website_status_hourly_hour_idx ON website_status_hourly (hour);
CREATE INDEX IF NOT EXISTS website_status_daily_day_idx ON website_status_daily (day);

-- sitestat_hist_add merges two sparse histograms (sorted bucket << 32 | count).
CREATE OR REPLACE FUNCTION sitestat_hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN cardinality(b) = 0 THEN a
        WHEN cardinality(a) = 0 THEN b
        ELSE (SELECT array_agg(((k << 32) | c) ORDER BY k)
              FROM (SELECT e >> 32 AS k, sum(e & 4294967295)::bigint AS c
                    FROM unnest(a || b) e GROUP BY 1) s)
    END
$$;

-- sitestat_counts_add merges two {"key": count} objects.
CREATE OR REPLACE FUNCTION sitestat_counts_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN b = '{}'::jsonb THEN a
        WHEN a = '{}'::jsonb THEN b
        ELSE (SELECT jsonb_object_agg(k, n)
              FROM (SELECT k, sum(v::bigint) AS n
                    FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) e(k, v)
                    GROUP BY k) s)
    END
$$;

-- ===========================================================================
-- Alerts (issue 12): incidents and the notification outbox.
-- Kept at the end of the file, in one section, so it merges cleanly.
-- ===========================================================================

-- incidents: one row per incident (a site down, a certificate expiring, a
-- probe gone quiet), from when it opens until it resolves. Written by sync.
CREATE TABLE IF NOT EXISTS incidents (
    id          bigserial   NOT NULL,
    -- website_id is the website concerned; NULL for a probe_silent incident.
    website_id  integer,
    -- kind is down, cert_expiry or probe_silent.
    kind        text        NOT NULL,
    -- started_at: for down, the first failing check's checked_at.
    started_at  timestamptz NOT NULL,
    -- resolved_at is NULL while the incident is open.
    resolved_at timestamptz,
    -- reason and error of the check that opened it.
    reason      text        NOT NULL DEFAULT '',
    error       text        NOT NULL DEFAULT '',
    -- probes are the probes involved.
    probes      text[]      NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT incidents_pkey PRIMARY KEY (id),
    CONSTRAINT incidents_website_id_fkey FOREIGN KEY (website_id)
        REFERENCES websites (id) ON DELETE CASCADE,
    CONSTRAINT incidents_kind_check CHECK (kind IN ('down', 'cert_expiry', 'probe_silent'))
);

-- notifications is the outbox: one row per event of an incident and channel,
-- written in the same transaction as the incident change and delivered, at
-- least once, by the notification loop. A row is pending until delivered_at
-- or failed_at is set.
CREATE TABLE IF NOT EXISTS notifications (
    id              bigserial   NOT NULL,
    -- incident_id is the incident's id, kept after the incident is gone
    -- (its site was removed): no foreign key, so that the ordering of a
    -- down and its recovered (ClaimNotifications) still holds then. The
    -- payload holds everything to send.
    incident_id     bigint,
    -- event is down or recovered; channel is webhook, slack or pagerduty.
    event           text        NOT NULL,
    channel         text        NOT NULL,
    -- payload is the alert.Message sent (the generic webhook's body).
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- attempts counts the claims; next_attempt_at is when it is due (a claim
    -- moves it past the claim's lease, so no other loop takes it meanwhile).
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    failed_at       timestamptz,
    -- last_error is the last failure, without secrets.
    last_error      text,
    CONSTRAINT notifications_pkey PRIMARY KEY (id),
    -- One notification per incident, event and channel, however often the
    -- incident change is applied.
    CONSTRAINT notifications_incident_event_channel_key UNIQUE (incident_id, event, channel),
    CONSTRAINT notifications_event_check CHECK (event ~ '^[a-z_]{1,32}$'),
    CONSTRAINT notifications_channel_check CHECK (channel ~ '^[a-z_]{1,32}$')
);

-- Per-site alert thresholds (issue 12): NULL takes sync's default
-- (SITESTAT_ALERT_AFTER, SITESTAT_ALERT_RECOVER_AFTER); alert_after 0 turns
-- alerting off for the site.
ALTER TABLE websites ADD COLUMN IF NOT EXISTS alert_after integer;
ALTER TABLE websites ADD COLUMN IF NOT EXISTS recover_after integer;

-- public (issue 18): whether the website may appear on the unauthenticated
-- surfaces of `sitestat serve` (page, API, badges). A private site is shown
-- only to authenticated requests. Added without a schema version of its own:
-- it needs no rebuild, and writers that do not name it add public sites.
ALTER TABLE websites ADD COLUMN IF NOT EXISTS public boolean NOT NULL DEFAULT true;

-- The streak of site_probe_state (issue 12), in checked_at order:
-- fail_streak and ok_streak count the consecutive failed and passed checks up
-- to checked_at; failing is whether the probe crossed its failure threshold
-- and has not passed its success threshold since; first_fail_at is the
-- checked_at of the first failure of the current failed streak outside any
-- maintenance window (NULL while all its failures fell in one), where a down
-- incident starts (issue 18).
ALTER TABLE site_probe_state ADD COLUMN IF NOT EXISTS fail_streak integer NOT NULL DEFAULT 0;
ALTER TABLE site_probe_state ADD COLUMN IF NOT EXISTS ok_streak integer NOT NULL DEFAULT 0;
ALTER TABLE site_probe_state ADD COLUMN IF NOT EXISTS failing boolean NOT NULL DEFAULT false;
ALTER TABLE site_probe_state ADD COLUMN IF NOT EXISTS first_fail_at timestamptz;

-- At most one open incident per website and kind, however often a batch is
-- applied: the key sync's incident insert names in ON CONFLICT.
CREATE UNIQUE INDEX IF NOT EXISTS incidents_open_site_idx
    ON incidents (website_id, kind) WHERE resolved_at IS NULL AND website_id IS NOT NULL;

-- maintenance_windows: planned work. While a window covers a check's
-- checked_at, no down incident opens for the websites it covers (one, or
-- all when website_id is NULL); an incident already open resolves normally.
CREATE TABLE IF NOT EXISTS maintenance_windows (
    id          bigserial   NOT NULL,
    -- website_id is the website covered; NULL covers every website.
    website_id  integer,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    reason      text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT maintenance_windows_pkey PRIMARY KEY (id),
    CONSTRAINT maintenance_windows_website_id_fkey FOREIGN KEY (website_id)
        REFERENCES websites (id) ON DELETE CASCADE,
    CONSTRAINT maintenance_windows_check CHECK (ends_at > starts_at)
);

-- probes: the latest heartbeat of each check process's probe (issue 12),
-- written by sync from <topic>.heartbeats. A probe not heard from for
-- SITESTAT_ALERT_SILENCE gets a probe_silent incident; `sitestat probes
-- forget NAME` deletes its row (and resolves that incident).
CREATE TABLE IF NOT EXISTS probes (
    name          text        NOT NULL,
    host          text        NOT NULL DEFAULT '',
    -- heartbeat_at is the latest heartbeat's own time (the check host's
    -- clock); received_at is when sync stored it (sync's clock), what the
    -- silence is measured against.
    heartbeat_at  timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    sites         integer     NOT NULL DEFAULT 0,
    checks        bigint      NOT NULL DEFAULT 0,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT probes_pkey PRIMARY KEY (name)
);

-- At most one open probe_silent incident per probe.
CREATE UNIQUE INDEX IF NOT EXISTS incidents_open_probe_idx
    ON incidents ((probes[1])) WHERE resolved_at IS NULL AND kind = 'probe_silent';

-- The pending notifications, by due time: what the loop claims.
CREATE INDEX IF NOT EXISTS notifications_due_idx
    ON notifications (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Every change to websites is announced on the channel sitestat_websites
-- (payload: the website id), so the publisher of the sites topic (sync with
-- SITESTAT_SYNC_PUBLISH_SITES) sends it on at once. The publisher reads the
-- row again, so a dropped notification costs nothing but time: its periodic
-- full reconcile publishes what it missed. schema.CheckSitesTrigger
-- reports when the function or trigger is missing.
CREATE OR REPLACE FUNCTION sitestat_websites_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('sitestat_websites', OLD.id::text);
    ELSE
        PERFORM pg_notify('sitestat_websites', NEW.id::text);
        IF TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id THEN
            PERFORM pg_notify('sitestat_websites', OLD.id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER websites_notify
    AFTER INSERT OR UPDATE OR DELETE ON websites
    FOR EACH ROW EXECUTE FUNCTION sitestat_websites_notify();

-- Issue 18: a website removed, or its alerting turned off, while an incident
-- of it is open. Kept at the end of the file, in one section.
--
-- Databases made before issue 18 have notifications.incident_id referencing
-- incidents ON DELETE SET NULL: removing a site blanked the id its
-- recovered is ordered by. migrate drops that foreign key (rows kept).
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_incident_id_fkey;

-- sitestat_resolve_site_incidents resolves, in the transaction that removes
-- a website (DELETE, before the cascade deletes its incidents) or turns its
-- alerting off (alert_after set to 0: its down incident only), the open
-- incidents concerned, and enqueues their recovered, with reason
-- site_removed or alerting_off, to the channels that have a down of the
-- incident that has not failed: a copy of the down's payload (the
-- alert.Message store.EnqueueTx built) with the recovered's fields set. A
-- trigger rather than store code, so that a removal by hand in SQL is
-- covered too. The notification loop delivers each after its down.
CREATE OR REPLACE FUNCTION sitestat_resolve_site_incidents() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    why text := CASE WHEN TG_OP = 'DELETE' THEN 'site_removed' ELSE 'alerting_off' END;
    site integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
BEGIN
    WITH resolved AS (
        UPDATE incidents SET resolved_at = greatest(now(), started_at)
        WHERE website_id = site AND resolved_at IS NULL
          AND (TG_OP = 'DELETE' OR kind = 'down')
        RETURNING id, started_at, resolved_at
    )
    INSERT INTO notifications (incident_id, event, channel, payload)
    SELECT r.id, 'recovered', d.channel,
           d.payload || jsonb_build_object(
               'event', 'recovered',
               'reason', why,
               'resolved_at', to_char(r.resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'duration_seconds', extract(epoch FROM r.resolved_at - r.started_at))
    FROM resolved r
    JOIN notifications d ON d.incident_id = r.id AND d.event = 'down' AND d.failed_at IS NULL
    ORDER BY d.id
    ON CONFLICT (incident_id, event, channel) DO NOTHING;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD; -- a BEFORE trigger: the delete goes ahead
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER websites_resolve_on_delete
    BEFORE DELETE ON websites
    FOR EACH ROW EXECUTE FUNCTION sitestat_resolve_site_incidents();

CREATE OR REPLACE TRIGGER websites_resolve_on_alerting_off
    AFTER UPDATE OF alert_after ON websites
    FOR EACH ROW WHEN (NEW.alert_after = 0 AND OLD.alert_after IS DISTINCT FROM 0)
    EXECUTE FUNCTION sitestat_resolve_site_incidents();
