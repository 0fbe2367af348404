package contract

import "time"

// Site is one row of the websites table: what to check and how often.
type Site struct {
	// ID is websites.id; it keys every Result of the site.
	ID int64
	// URL is the address to GET, as stored (it may be invalid: the prober
	// reports that as ReasonInvalidConfig, it never fails).
	URL string
	// Interval is how often to check the site (check_interval seconds).
	Interval time.Duration
	// Regex is up_regex, a Go RE2 pattern the body must match; empty for none.
	Regex string
}
