package sink

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// kind is what to do about a failed database call.
type kind int

const (
	// kindRetry: a transient failure (connection, authentication, resources,
	// shutdown, serialization, deadlock, network): back off and retry.
	kindRetry kind = iota
	// kindUnknown: an error of no known class; retried like kindRetry (a
	// batch is never committed past an unexplained failure) but logged as
	// an error.
	kindUnknown
	// kindData: SQLSTATE class 22, the data of some row is invalid.
	kindData
	// kindConstraint: SQLSTATE class 23, some row violates a constraint.
	kindConstraint
	// kindSchema: SQLSTATE class 42, the statement does not fit the schema.
	kindSchema
)

// sqlState returns the SQLSTATE of err, or "" when err carries none.
func sqlState(err error) string {
	var se interface{ SQLState() string }
	if errors.As(err, &se) {
		return se.SQLState()
	}
	return ""
}

// classify says what to do about err, returned by a database call.
func classify(err error) kind {
	if code := sqlState(err); code != "" {
		switch {
		case strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "28"),    // invalid authorization (a password being rotated)
			strings.HasPrefix(code, "53"),    // insufficient resources
			strings.HasPrefix(code, "57P0"),  // operator intervention: shutdown, crash, cannot connect now
			code == "57014",                  // query canceled (by our own attempt timeout)
			code == "40001", code == "40P01": // serialization failure, deadlock
			return kindRetry
		case strings.HasPrefix(code, "22"):
			return kindData
		case strings.HasPrefix(code, "23"):
			return kindConstraint
		case strings.HasPrefix(code, "42"):
			return kindSchema
		}
		return kindUnknown
	}
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne),
		strings.Contains(err.Error(), "connection refused"),
		strings.Contains(err.Error(), "bad connection"):
		return kindRetry
	}
	return kindUnknown
}
