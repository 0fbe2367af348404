// Package schema manages sitestat's database schema, apart from the queries
// (package store):
//
//   - what schema.sql creates: Expected, generated from schema.sql itself
//     (expected_gen.go, written by ./gen; run `make generate` after changing
//     schema.sql), plus what the catalog cannot say (expected.go);
//   - the drift checks the roles run against a live database before they
//     start: CheckSync (sync), CheckServe (serve), CheckSitesTrigger (the
//     sites publisher), each returning a *DriftError naming the command that
//     repairs it;
//   - Migrate (`sitestat migrate`), which creates the schema or repairs it,
//     adopts the brief's website_status and converts older releases'
//     databases, keeping every row.
//
// It uses only the exported API of store (its connection pool, day
// partitions and the rollup rebuild); store does not import it.
package schema

import (
	"time"

	"github.com/lib/pq"
)

// day is a UTC day, the span of a partition of website_status.
const day = 24 * time.Hour

// utcDay returns the start of t's UTC day.
func utcDay(t time.Time) time.Time {
	return t.UTC().Truncate(day)
}

// quoteTime returns t as an SQL timestamptz literal in UTC.
func quoteTime(t time.Time) string {
	return pq.QuoteLiteral(t.UTC().Format("2006-01-02 15:04:05.999999Z07:00"))
}
