// Command gen writes schema/expected_gen.go, the schema that schema.sql
// creates, for the drift check and `sitestat migrate` to compare a live
// database with. It applies schema.sql to a scratch database, made and
// dropped with the tests' admin URL (SITESTAT_TEST_ADMIN_DATABASE_URL), reads
// the catalog and writes a gofmt'ed Go file. Run it with `make generate` (or
// `go generate ./schema/`); a test fails when the committed file differs.
//
// Usage, from the schema directory:
//
//	go run ./gen [-schema ../schema.sql] [-out expected_gen.go]
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"time"

	// The PostgreSQL driver, registered as "postgres".
	_ "github.com/lib/pq"
)

// adminVar names the admin URL of the test services; the scratch database is
// created and dropped with it.
const adminVar = "SITESTAT_TEST_ADMIN_DATABASE_URL"

func main() {
	schemaPath := flag.String("schema", "../schema.sql", "the schema script to describe")
	out := flag.String("out", "expected_gen.go", "the Go file to write")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *schemaPath, *out); err != nil {
		fmt.Fprintln(os.Stderr, "schema/gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, schemaPath, out string) error {
	admin := os.Getenv(adminVar)
	if admin == "" {
		return errors.New(adminVar + " is not set; run: eval \"$(scripts/services env test)\" (or: make generate)")
	}
	script, err := os.ReadFile(schemaPath)
	if err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	src, err := Generate(ctx, admin, string(script))
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(out); err == nil && string(old) == string(src) {
		return nil
	}
	if err := os.WriteFile(out, src, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// Generate applies script to a new database made with adminURL, returns the
// Go source describing what it created, and drops the database.
func Generate(ctx context.Context, adminURL, script string) ([]byte, error) {
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return nil, fmt.Errorf("open admin database: %w", err)
	}
	defer admin.Close()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	name := "sitestat_schemagen_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create scratch database: %w", err)
	}
	defer func() {
		// Best effort: a scratch database left behind is dropped by name on the next run's cleanup or by hand.
		_, _ = admin.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}()

	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, errors.New("parse admin database URL: not a postgres:// URL")
	}
	u.Path = "/" + name
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		return nil, fmt.Errorf("open scratch database: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, script); err != nil {
		return nil, fmt.Errorf("apply schema: %w", err)
	}
	s, err := readCatalog(ctx, db)
	if err != nil {
		return nil, err
	}
	return render(s)
}
