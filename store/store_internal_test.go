package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lib/pq"
)

func TestRedactError(t *testing.T) {
	const dsn = "postgres://u:s3cr%2Ft@db.example:5432/d?sslmode=verify-full"
	pqErr := &pq.Error{Code: "28P01", Message: "password authentication failed"}
	tests := []struct {
		name   string
		err    error
		want   string
		pqCode string
	}{
		{"clean error kept", fmt.Errorf("connect: %w", pqErr), "connect: pq: password authentication failed (28P01)", "28P01"},
		{"the whole URL", fmt.Errorf("open %s: boom", dsn), "open xxxxx: boom", ""},
		{"the password", errors.New("bad s3cr/t here"), "bad xxxxx here", ""},
		{"the escaped password, pq error kept", fmt.Errorf("x s3cr%%2Ft: %w", pqErr), "x xxxxx: pq: password authentication failed (28P01)", "28P01"},
	}
	for _, tt := range tests {
		got := redactError(tt.err, dsn, "s3cr/t")
		if got.Error() != tt.want {
			t.Errorf("%s: redactError = %q, want %q", tt.name, got.Error(), tt.want)
		}
		for e := got; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), "s3cr") {
				t.Errorf("%s: the chain reveals the password: %q", tt.name, e.Error())
			}
		}
		var p *pq.Error
		if gotCode := ""; errors.As(got, &p) {
			gotCode = string(p.Code)
			if gotCode != tt.pqCode {
				t.Errorf("%s: pq code = %q, want %q", tt.name, gotCode, tt.pqCode)
			}
		} else if tt.pqCode != "" {
			t.Errorf("%s: the *pq.Error was lost", tt.name)
		}
	}
	if redactError(nil, dsn, "x") != nil {
		t.Error("redactError(nil) != nil")
	}
}
