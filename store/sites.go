package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/internal/redact"
)

// Limits on a website's settings, as the websites table enforces them.
const (
	MaxURLLength = 2048  // websites.url is varchar(2048)
	MinInterval  = 1     // seconds
	MaxInterval  = 86400 // seconds, one day
)

// ErrInvalidSite is wrapped by the errors of ValidateSiteInput.
var ErrInvalidSite = errors.New("invalid site")

// ErrIDTaken is wrapped by the error of AddSite given an id a website
// already has. It wraps ErrInvalidSite: the input is refused.
var ErrIDTaken = fmt.Errorf("%w: id taken", ErrInvalidSite)

// MaxSiteID is the largest website id: websites.id is a serial (integer).
const MaxSiteID = math.MaxInt32

// ValidateSiteInput checks a website's settings before they are stored: an
// http or https URL with a host, valid UTF-8 of at most MaxURLLength
// characters (as varchar counts them), without spaces or control characters; an interval of MinInterval to MaxInterval seconds;
// a regex ("" for none) that compiles as Go RE2 into a program of at most
// contract.MaxRegexInsts instructions. Errors wrap ErrInvalidSite and show the
// URL with its password redacted.
func ValidateSiteInput(rawURL string, interval int, regex string) error {
	if err := validateURL(rawURL); err != nil {
		return err
	}
	if interval < MinInterval || interval > MaxInterval {
		return fmt.Errorf("%w: interval %d s is out of range %d..%d", ErrInvalidSite, interval, MinInterval, MaxInterval)
	}
	return validateTarget(rawURL, regex)
}

func validateURL(rawURL string) error {
	if rawURL == "" {
		return fmt.Errorf("%w: url is empty", ErrInvalidSite)
	}
	if !utf8.ValidString(rawURL) {
		return fmt.Errorf("%w: url is not valid UTF-8", ErrInvalidSite)
	}
	if n := utf8.RuneCountInString(rawURL); n > MaxURLLength {
		return fmt.Errorf("%w: url is %d characters long, longer than %d", ErrInvalidSite, n, MaxURLLength)
	}
	if i := strings.IndexFunc(rawURL, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return fmt.Errorf("%w: url %q contains a space or control character", ErrInvalidSite, redact.URL(rawURL, redact.KeepQuery))
	}
	return nil
}

// validateTarget applies the contract's rules for a site (the ones that
// would make its checks invalid_config), so what is stored is what can be
// checked.
func validateTarget(rawURL, regex string) error {
	if err := (contract.Site{URL: rawURL, Interval: time.Second, Regex: regex}).Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSite, err)
	}
	return nil
}

// SiteInput is a website to add.
type SiteInput struct {
	// ID is the id to give the website, 1 to MaxSiteID, e.g. to re-create a
	// removed site under its old id so that its dead letters can be
	// replayed; 0 means the next id of the table's sequence.
	ID int64
	// URL to check, http or https.
	URL string
	// Interval between checks in seconds; 0 means the table's default, 5.
	Interval int
	// Regex the body must match, "" for none.
	Regex string
	// Name is what the status page shows instead of the URL, "" for none
	// (see ValidateName).
	Name string
	// AlertAfter overrides the failed checks in a row that make a probe
	// failing (0 turns alerting off for the site); nil takes sync's default.
	AlertAfter *int
	// RecoverAfter overrides the passed checks in a row that make a failing
	// probe pass again; nil takes sync's default.
	RecoverAfter *int
	// Private keeps the website off every unauthenticated page, API answer
	// and badge of `sitestat serve` (websites.public false).
	Private bool
}

// MaxThreshold is the largest --alert-after or --recover-after.
const MaxThreshold = 10000

// ValidateThresholds checks a website's alert thresholds (nil: unchanged or
// the default): alert_after 0 (off) to MaxThreshold, recover_after 1 to
// MaxThreshold. Errors wrap ErrInvalidSite.
func ValidateThresholds(alertAfter, recoverAfter *int) error {
	if alertAfter != nil && (*alertAfter < 0 || *alertAfter > MaxThreshold) {
		return fmt.Errorf("%w: alert-after %d is out of range 0..%d", ErrInvalidSite, *alertAfter, MaxThreshold)
	}
	if recoverAfter != nil && (*recoverAfter < 1 || *recoverAfter > MaxThreshold) {
		return fmt.Errorf("%w: recover-after %d is out of range 1..%d", ErrInvalidSite, *recoverAfter, MaxThreshold)
	}
	return nil
}

// MaxNameLength is the longest website name, in characters.
const MaxNameLength = 200

// ValidateName checks a website's name: valid UTF-8 of at most
// MaxNameLength characters without control characters ("" is no name). The
// error wraps ErrInvalidSite.
func ValidateName(name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: name is not valid UTF-8", ErrInvalidSite)
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLength {
		return fmt.Errorf("%w: name is %d characters long, longer than %d", ErrInvalidSite, n, MaxNameLength)
	}
	if strings.IndexFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) }) >= 0 {
		return fmt.Errorf("%w: name contains a control character", ErrInvalidSite)
	}
	return nil
}

// SiteUpdate changes some settings of a website; nil fields stay as they are.
type SiteUpdate struct {
	// URL is the new URL.
	URL *string
	// Interval is the new interval between checks, in seconds.
	Interval *int
	// Regex is the new regex the body must match.
	Regex *string
	// ClearRegex removes the regex (Regex must then be nil).
	ClearRegex bool
	// Name is the new name ("" removes it).
	Name *string
	// AlertAfter and RecoverAfter are the new thresholds (see SiteInput).
	AlertAfter, RecoverAfter *int
	// Public is the new visibility: false makes the website private (see
	// SiteInput.Private).
	Public *bool
}

const siteColumns = "id, url, check_interval, coalesce(up_regex, '')"

// scanSite reads a row of siteColumns. The schema makes id, url and
// check_interval NOT NULL, but a table made by hand (or an old schema that
// migrate reported and did not change) may hold NULLs: one such row must not
// make the whole list unreadable, so a NULL reads as the zero value (id 0,
// url "", interval 0), which the checker skips (no id, no url) or checks as
// invalid_config (no interval).
func scanSite(s interface{ Scan(...any) error }) (contract.Site, error) {
	var site contract.Site
	var id, interval sql.NullInt64
	var url sql.NullString
	if err := s.Scan(&id, &url, &interval, &site.Regex); err != nil {
		return site, err
	}
	site.ID, site.URL = id.Int64, url.String
	if iv := interval.Int64; iv > 0 && iv <= math.MaxInt64/int64(time.Second) {
		site.Interval = time.Duration(iv) * time.Second
	}
	return site, nil
}

// Sites returns every website, by id. It is the checker's source of sites.
// A row with a NULL id, url or check_interval is returned with the zero value
// in its place rather than failing the whole list (see scanSite).
func (db *DB) Sites(ctx context.Context) ([]contract.Site, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT "+siteColumns+" FROM websites ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	defer rows.Close()
	var sites []contract.Site
	for rows.Next() {
		site, err := scanSite(rows)
		if err != nil {
			return nil, fmt.Errorf("list sites: %w", err)
		}
		sites = append(sites, site)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	return sites, nil
}

// GetSite returns the website with the id; the error wraps ErrNotFound when
// there is none.
func (db *DB) GetSite(ctx context.Context, id int64) (contract.Site, error) {
	site, err := scanSite(db.db.QueryRowContext(ctx, "SELECT "+siteColumns+" FROM websites WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return site, fmt.Errorf("get site: website %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return site, fmt.Errorf("get site %d: %w", id, err)
	}
	return site, nil
}

// AddSite validates and stores a website and returns its id. With in.ID set
// it takes that id, and the error wraps ErrIDTaken when a website has it; the
// id sequence is then moved past in.ID, never back, so later adds neither
// collide with it nor reuse the id of a removed site.
func (db *DB) AddSite(ctx context.Context, in SiteInput) (int64, error) {
	if in.Interval == 0 {
		in.Interval = 5
	}
	if in.ID < 0 || in.ID > MaxSiteID {
		return 0, fmt.Errorf("add site: %w: id %d is out of range 1..%d", ErrInvalidSite, in.ID, MaxSiteID)
	}
	if err := ValidateSiteInput(in.URL, in.Interval, in.Regex); err != nil {
		return 0, fmt.Errorf("add site: %w", err)
	}
	if err := ValidateThresholds(in.AlertAfter, in.RecoverAfter); err != nil {
		return 0, fmt.Errorf("add site: %w", err)
	}
	if err := ValidateName(in.Name); err != nil {
		return 0, fmt.Errorf("add site: %w", err)
	}
	if in.ID == 0 {
		var id int64
		err := db.db.QueryRowContext(ctx,
			"INSERT INTO websites (url, check_interval, up_regex, name, alert_after, recover_after, public) VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, $7) RETURNING id",
			in.URL, in.Interval, in.Regex, in.Name, nullInt(in.AlertAfter), nullInt(in.RecoverAfter), !in.Private).Scan(&id)
		if err != nil {
			return 0, fmt.Errorf("add site: %w", err)
		}
		return id, nil
	}
	// Move the sequence past the id first: nextval reserves a value no one
	// else gets, and setval only ever raises it. A concurrent add that drew
	// this very id before makes the INSERT below fail as taken, which it is.
	if _, err := db.db.ExecContext(ctx, `
		SELECT setval(pg_get_serial_sequence('websites', 'id'),
		              GREATEST(nextval(pg_get_serial_sequence('websites', 'id')), $1))`, in.ID); err != nil {
		return 0, fmt.Errorf("add site %d: %w", in.ID, err)
	}
	_, err := db.db.ExecContext(ctx,
		"INSERT INTO websites (id, url, check_interval, up_regex, name, alert_after, recover_after, public) VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8)",
		in.ID, in.URL, in.Interval, in.Regex, in.Name, nullInt(in.AlertAfter), nullInt(in.RecoverAfter), !in.Private)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" { // unique_violation
		return 0, fmt.Errorf("add site: %w: website %d exists", ErrIDTaken, in.ID)
	}
	if err != nil {
		return 0, fmt.Errorf("add site %d: %w", in.ID, err)
	}
	return in.ID, nil
}

// UpdateSite validates and applies the changes to the website with the id;
// the error wraps ErrNotFound when there is none.
func (db *DB) UpdateSite(ctx context.Context, id int64, u SiteUpdate) error {
	if u.ClearRegex && u.Regex != nil {
		return fmt.Errorf("update site %d: %w: both a regex and clearing it", id, ErrInvalidSite)
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update site %d: %w", id, err)
	}
	defer tx.Rollback()
	site, err := scanSite(tx.QueryRowContext(ctx, "SELECT "+siteColumns+" FROM websites WHERE id = $1 FOR UPDATE", id))
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("update site: website %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("update site %d: %w", id, err)
	}
	interval := int(site.Interval / time.Second)
	if u.URL != nil {
		site.URL = *u.URL
	}
	if u.Interval != nil {
		interval = *u.Interval
	}
	if u.Regex != nil {
		site.Regex = *u.Regex
	}
	if u.ClearRegex {
		site.Regex = ""
	}
	if err := ValidateSiteInput(site.URL, interval, site.Regex); err != nil {
		return fmt.Errorf("update site %d: %w", id, err)
	}
	if u.Name != nil {
		if err := ValidateName(*u.Name); err != nil {
			return fmt.Errorf("update site %d: %w", id, err)
		}
	}
	if err := ValidateThresholds(u.AlertAfter, u.RecoverAfter); err != nil {
		return fmt.Errorf("update site %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE websites SET url = $2, check_interval = $3, up_regex = NULLIF($4, ''), name = coalesce($5, name),
		        alert_after = CASE WHEN $6 THEN $7 ELSE alert_after END,
		        recover_after = CASE WHEN $8 THEN $9 ELSE recover_after END, public = coalesce($10, public), updated_at = now()
		 WHERE id = $1`,
		id, site.URL, interval, site.Regex, u.Name, u.AlertAfter != nil, nullInt(u.AlertAfter),
		u.RecoverAfter != nil, nullInt(u.RecoverAfter), nullBool(u.Public)); err != nil {
		return fmt.Errorf("update site %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update site %d: %w", id, err)
	}
	return nil
}

// RemoveSites deletes the websites with the ids, and their results with them
// (ON DELETE CASCADE). It removes all or none: when an id does not exist the
// error wraps ErrNotFound and names the missing ids.
func (db *DB) RemoveSites(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("remove sites: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "DELETE FROM websites WHERE id = ANY($1::bigint[]) RETURNING id", pq.Array(ids))
	if err != nil {
		return fmt.Errorf("remove sites: %w", err)
	}
	deleted := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("remove sites: %w", err)
		}
		deleted[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("remove sites: %w", err)
	}
	rows.Close()
	var missing []int64
	for _, id := range ids {
		if !deleted[id] {
			missing = append(missing, id)
			deleted[id] = true // name each missing id once
		}
	}
	if len(missing) > 0 {
		sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
		return fmt.Errorf("remove sites: websites %v: %w", missing, ErrNotFound)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("remove sites: %w", err)
	}
	return nil
}

// SiteResultCounts returns how many results are stored for each of ids (0
// for none), so a caller can ask before removing a site with history.
func (db *DB) SiteResultCounts(ctx context.Context, ids []int64) (map[int64]int64, error) {
	counts := make(map[int64]int64, len(ids))
	for _, id := range ids {
		counts[id] = 0
	}
	if len(ids) == 0 {
		return counts, nil
	}
	rows, err := db.db.QueryContext(ctx,
		"SELECT website_id, count(*) FROM website_status WHERE website_id = ANY($1::bigint[]) GROUP BY website_id",
		pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("count results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("count results: %w", err)
		}
		counts[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count results: %w", err)
	}
	return counts, nil
}

// SiteNames returns the websites' names by id, for those that have one.
func (db *DB) SiteNames(ctx context.Context) (map[int64]string, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT id, name FROM websites WHERE name <> ''")
	if err != nil {
		return nil, fmt.Errorf("list site names: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("list site names: %w", err)
		}
		out[id] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list site names: %w", err)
	}
	return out, nil
}

// PrivateSiteIDs returns the ids of the private websites (websites.public
// false), as a set.
func (db *DB) PrivateSiteIDs(ctx context.Context) (map[int64]bool, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT id FROM websites WHERE NOT public")
	if err != nil {
		return nil, fmt.Errorf("list private sites: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list private sites: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list private sites: %w", err)
	}
	return out, nil
}

// nullBool is v as a query argument: NULL when nil.
func nullBool(v *bool) any {
	if v == nil {
		return nil
	}
	return *v
}

// nullInt is v as a query argument: NULL when nil.
func nullInt(v *int) any {
	if v == nil {
		return nil
	}
	return int64(*v)
}
