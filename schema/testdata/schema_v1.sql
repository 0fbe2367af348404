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
