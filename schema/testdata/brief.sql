-- The brief's tables, as its "Database" section defines them: websites (url
-- varchar(2048) required, check_interval INTEGER default 5, up_regex TEXT)
-- and website_status (website_id INTEGER REFERENCES websites, timestamp_utc
-- TIMESTAMPTZ required, request_info json). The brief names no id column;
-- REFERENCES needs one, so websites has the usual serial primary key.
CREATE TABLE websites (
    id SERIAL PRIMARY KEY,
    url VARCHAR(2048) NOT NULL,
    check_interval INTEGER DEFAULT 5,
    up_regex TEXT
);

CREATE TABLE website_status (
    website_id INTEGER REFERENCES websites (id),
    timestamp_utc TIMESTAMPTZ NOT NULL,
    request_info JSON
);
