// Package store is sitestat's PostgreSQL storage: the queries on the websites
// table (the sites `check` watches), the website_status table (the results
// `sync` writes), the rollups, incidents and outbox, and the reads behind
// `sitestat status` and `serve`. The schema itself (schema.sql's expected
// shape, the drift checks, `migrate`) is managed by package schema. It takes its settings as plain values (Options, a DSN)
// and never reads the environment itself.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// Options tunes the connection pool. The zero value is a sensible default.
type Options struct {
	// MaxOpenConns caps the open connections; 0 means 4.
	MaxOpenConns int
	// MaxIdleConns caps the idle connections kept; 0 means MaxOpenConns.
	MaxIdleConns int
	// ConnMaxLifetime closes connections older than this; 0 means 30 minutes.
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes connections idle longer than this; 0 means 5 minutes.
	ConnMaxIdleTime time.Duration
	// Alerts are the alerting settings InsertResults applies (streaks,
	// incidents, the channels notifications are enqueued for).
	Alerts AlertOptions
}

// DB is a pool of connections to sitestat's database. It is safe for
// concurrent use.
type DB struct {
	db     *sql.DB
	parts  partitionCache
	alerts AlertOptions
	tally  incidentCounters
	// unreadable counts the notifications claimed with a payload that did
	// not decode (marked failed).
	unreadable atomic.Int64
	// dsn and password open ListenSites's own connection.
	dsn, password string
}

// SchemaVersion is the version of schema.sql the queries of this package are
// written for. Its writes of website_status_daily say so
// (sitestat.writer_version), and schema.Migrate records it in schema_version.
const SchemaVersion = 3

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ErrNotFound is wrapped by the errors of methods given a website id that does
// not exist.
var ErrNotFound = errors.New("not found")

// Open connects to the PostgreSQL database at dsn (a postgres:// URL or a
// key=value connection string) and checks the connection with a ping. Its
// errors never contain the password or the connection string: they name the
// server as user@host:port/dbname.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // *url.Error quotes the whole URL
		}
		return nil, redactError(fmt.Errorf("open database: invalid database URL: %w", err), dsn, "")
	}
	where := describe(cfg)
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, redactError(fmt.Errorf("open database %s: %w", where, err), dsn, cfg.Password)
	}
	db := sql.OpenDB(connector)
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 4
	}
	if opts.MaxIdleConns <= 0 {
		opts.MaxIdleConns = opts.MaxOpenConns
	}
	if opts.ConnMaxLifetime <= 0 {
		opts.ConnMaxLifetime = 30 * time.Minute
	}
	if opts.ConnMaxIdleTime <= 0 {
		opts.ConnMaxIdleTime = 5 * time.Minute
	}
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	db.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, redactError(fmt.Errorf("connect to database %s: %w", where, err), dsn, cfg.Password)
	}
	return &DB{db: db, alerts: opts.Alerts.withDefaults(), dsn: dsn, password: cfg.Password}, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	return db.db.Close()
}

// SQL returns the underlying connection pool, for tests and ad-hoc queries.
func (db *DB) SQL() *sql.DB {
	return db.db
}

// describe names the server of cfg without secrets: user@host:port/dbname.
func describe(cfg pq.Config) string {
	var b strings.Builder
	if cfg.User != "" {
		b.WriteString(cfg.User)
		b.WriteByte('@')
	}
	b.WriteString(cfg.Host)
	if cfg.Port != 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(int(cfg.Port)))
	}
	if cfg.Database != "" {
		b.WriteByte('/')
		b.WriteString(cfg.Database)
	}
	return b.String()
}

// kvPassword matches the password of a key=value connection string.
var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// RedactURL returns the database URL or key=value connection string dsn with
// its password replaced by "xxxxx", fit for logs and error messages.
func RedactURL(dsn string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// Unparsable: hide everything between "://" and the last "@".
			scheme, rest, _ := strings.Cut(dsn, "://")
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				return scheme + "://xxxxx@" + rest[at+1:]
			}
			return scheme + "://" + rest
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// redactedError is an error whose text had secrets removed. It keeps a
// *pq.Error from the chain (its fields come from the server and never hold
// the password) so callers can still inspect the SQLSTATE.
type redactedError struct {
	msg   string
	pqErr *pq.Error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Unwrap() error {
	if e.pqErr == nil {
		return nil
	}
	return e.pqErr
}

// redactError returns err unchanged when its text holds neither the DSN, nor
// its password, nor the URL's user info; otherwise an error with those
// replaced by "xxxxx" that drops the rest of the chain.
func redactError(err error, dsn, password string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	secrets := []string{dsn, password}
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
	}
	if u, perr := url.Parse(dsn); perr == nil {
		secrets = append(secrets, u.Query().Get("password"))
	}
	if m := kvPassword.FindStringSubmatch(dsn); m != nil {
		secrets = append(secrets, strings.Trim(m[2], "'"))
	}
	redacted := msg
	for _, s := range secrets {
		if s != "" {
			redacted = strings.ReplaceAll(redacted, s, "xxxxx")
		}
	}
	if redacted == msg {
		return err
	}
	re := &redactedError{msg: redacted}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		re.pqErr = pqErr
	}
	return re
}
