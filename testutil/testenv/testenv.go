// Package testenv gives integration tests the real services that
// `scripts/services up` starts, read from the SITESTAT_TEST_* variables that
// `scripts/services env test` prints. A test calls one of the helpers; when a
// variable is absent the test is skipped locally, and fails under CI=true,
// where a missing service is an error, never a skip.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	// The PostgreSQL driver, registered as "postgres".
	_ "github.com/lib/pq"
)

// Var returns the environment variable name, or skips (fails under CI) when it
// is not set.
func Var(tb testing.TB, name string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set: under CI every service must be up (run: eval \"$(scripts/services env test)\")", name)
		}
		tb.Skipf("%s is not set; run scripts/services up and eval \"$(scripts/services env test)\"", name)
	}
	return v
}

// Suffix returns a short random hex string for unique database and topic names.
func Suffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Name returns a unique lower-case name for a database or topic made from prefix.
func Name(prefix string) string {
	return strings.ToLower(prefix) + "_" + Suffix()
}

// Brokers returns the PLAINTEXT broker address list.
func Brokers(tb testing.TB) []string {
	tb.Helper()
	return strings.Split(Var(tb, "SITESTAT_TEST_KAFKA_PLAINTEXT"), ",")
}

// NewDatabase creates a fresh, empty database owned by the admin role and
// returns its URL; the database is dropped when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := Var(tb, "SITESTAT_TEST_ADMIN_DATABASE_URL")
	name := Name("sitestat_test")
	db, err := sql.Open("postgres", admin)
	if err != nil {
		tb.Fatalf("open admin database: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() { DropDatabase(tb, name) })
	return WithDatabase(tb, admin, name)
}

// DropDatabase drops the named database, terminating its connections first.
func DropDatabase(tb testing.TB, name string) {
	tb.Helper()
	db, err := sql.Open("postgres", Var(tb, "SITESTAT_TEST_ADMIN_DATABASE_URL"))
	if err != nil {
		tb.Errorf("open admin database: %v", err)
		return
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		tb.Logf("drop database %s: %v", name, err)
	}
}

// WithDatabase returns dbURL pointed at database name instead.
func WithDatabase(tb testing.TB, dbURL, name string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("parse database URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// OpenDB opens dbURL and closes it when the test ends.
func OpenDB(tb testing.TB, dbURL string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		tb.Fatalf("open database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Eventually calls cond every interval until it returns true or the deadline
// passes, then fails the test with msg.
func Eventually(tb testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met within %s: %s", timeout, fmt.Sprintf(format, args...))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
