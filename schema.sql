-- sitestat database schema.
--
-- `sitestat migrate` applies this script in one transaction under an advisory
-- lock, then repairs whatever it finds missing (columns, constraints, indexes)
-- and records the schema version in schema_version. The script is idempotent:
-- applying it to a database that already has the schema changes nothing, so it
-- can also be run by hand: psql "$DATABASE_URL" -1 -f schema.sql
--
-- Keep store.ExpectedSchema (store/expected.go) in step with this file: the
-- tests fail when they disagree.

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
    CONSTRAINT websites_pkey PRIMARY KEY (id),
    CONSTRAINT websites_url_check CHECK (url ~* '^https?://'),
    CONSTRAINT websites_check_interval_check CHECK (check_interval BETWEEN 1 AND 86400)
);

-- website_status holds one row per check of a website (one checker.Result).
CREATE TABLE IF NOT EXISTS website_status (
    website_id       integer     NOT NULL,
    -- timestamp_utc is when the check request started (Result.checked_at).
    timestamp_utc    timestamptz NOT NULL,
    -- request_info is the whole Result message as JSON.
    request_info     jsonb       NOT NULL,
    -- check_id identifies the check; each is stored once.
    check_id         uuid        NOT NULL,
    -- up, reason, status_code and response_time_ms copy the Result fields
    -- that `sitestat status` reads, so it never parses request_info.
    up               boolean     NOT NULL,
    reason           text        NOT NULL,
    status_code      smallint,
    response_time_ms real,
    CONSTRAINT website_status_website_id_fkey FOREIGN KEY (website_id)
        REFERENCES websites (id) ON DELETE CASCADE,
    CONSTRAINT website_status_check_id_key UNIQUE (check_id)
);

-- The latest checks of a website, covering what `sitestat status` reads.
CREATE INDEX IF NOT EXISTS website_status_site_time_idx
    ON website_status (website_id, timestamp_utc DESC)
    INCLUDE (up, reason, status_code, response_time_ms);

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
    -- incident_id is NULL once the incident is gone (its site was removed);
    -- the payload still holds everything to send.
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
    CONSTRAINT notifications_incident_id_fkey FOREIGN KEY (incident_id)
        REFERENCES incidents (id) ON DELETE SET NULL,
    -- One notification per incident, event and channel, however often the
    -- incident change is applied.
    CONSTRAINT notifications_incident_event_channel_key UNIQUE (incident_id, event, channel),
    CONSTRAINT notifications_event_check CHECK (event ~ '^[a-z_]{1,32}$'),
    CONSTRAINT notifications_channel_check CHECK (channel ~ '^[a-z_]{1,32}$')
);

-- The pending notifications, by due time: what the loop claims.
CREATE INDEX IF NOT EXISTS notifications_due_idx
    ON notifications (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
