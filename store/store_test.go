package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/testenv"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://avnadmin:s3cr3t@pg.example.com:12345/defaultdb?sslmode=require",
			"postgres://avnadmin:xxxxx@pg.example.com:12345/defaultdb?sslmode=require"},
		{"postgres://avnadmin@pg.example.com/db", "postgres://avnadmin@pg.example.com/db"},
		{"postgres://u@h/db?password=s3cr3t&sslmode=verify-full", "postgres://u@h/db?password=xxxxx&sslmode=verify-full"},
		{"postgres://u:p%40ss@h:bad/db", "postgres://xxxxx@h:bad/db"},
		{"host=h user=u password=s3cr3t dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"host=h password='s3 cr\\'3t' dbname=d", "host=h password=xxxxx dbname=d"},
	}
	for _, tt := range tests {
		if got := store.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	const secret = "Wr0ng-S3cret-pw"
	good := testenv.Var(t, "SITESTAT_TEST_DATABASE_URL")
	u, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), secret)
	wrongPassword := u.String()
	tests := []struct {
		name     string
		dsn      string
		sqlstate string // the *pq.Error it must still expose, "" for any
	}{
		{"wrong password", wrongPassword, "28P01"},
		{"bad port", strings.Replace(wrongPassword, u.Host, "127.0.0.1:notaport", 1), ""},
		{"bad option", strings.Replace(wrongPassword, "sslmode=verify-full", "sslmode=sometimes", 1), ""},
		{"unreachable", strings.Replace(wrongPassword, u.Host, "127.0.0.1:1", 1), ""},
		{"key=value", "host=127.0.0.1 port=5432 user=" + u.User.Username() + " password=" + secret + " sslmode=bogus", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			db, err := store.Open(ctx, tt.dsn, store.Options{})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, secret) || strings.Contains(msg, tt.dsn) {
				t.Errorf("error reveals the password or the URL: %s", msg)
			}
			for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), secret) {
					t.Errorf("a wrapped error reveals the password: %s", e.Error())
				}
			}
			if tt.sqlstate != "" {
				var pqErr *pq.Error
				if !errors.As(err, &pqErr) || pqErr.SQLState() != tt.sqlstate {
					t.Errorf("error %v does not wrap a *pq.Error %s", err, tt.sqlstate)
				}
			}
		})
	}
}

func TestOpenVerifyFullUsesTLS(t *testing.T) {
	dsn := testenv.Var(t, "SITESTAT_TEST_DATABASE_URL")
	if !strings.Contains(dsn, "sslmode=verify-full") {
		t.Fatalf("SITESTAT_TEST_DATABASE_URL does not ask for sslmode=verify-full")
	}
	db := openDB(t, dsn)
	var ssl bool
	if err := db.SQL().QueryRowContext(testContext(t), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	if !ssl {
		t.Error("the connection does not use TLS")
	}
}
