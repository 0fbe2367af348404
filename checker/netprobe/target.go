package netprobe

import "time"

// Spec is a site of one of this package's kinds, as configured.
type Spec struct {
	// URL is the target, ${env:…} references already resolved.
	URL string
	// Send is written once connected (tcp only).
	Send []byte
	// Expect must be in the reply, read up to Options.MaxReply bytes with
	// the check's deadline (tcp only).
	Expect []byte
	// ReadReply reads a reply even without Expect, ending at the first
	// bytes read, EOF, the limit or the deadline (tcp only): for a
	// condition on [BODY].
	ReadReply bool
	// Timeout bounds the check; 0 means Options.Timeout.
	Timeout time.Duration
}

// Target is a Spec compiled for probing. An invalid Spec still makes a
// Target: every probe of it gives ReasonInvalidConfig. A Target is immutable
// and safe for concurrent use.
type Target struct {
	spec Spec
	kind Kind
	err  error
}

// NewTarget compiles spec. It never fails; Err reports an invalid spec.
func NewTarget(spec Spec) *Target { return &Target{spec: spec} }

// Validate reports why spec cannot be checked, in one line, or nil.
func Validate(spec Spec) error { return NewTarget(spec).Err() }

// Err returns why the target is invalid, or nil.
func (t *Target) Err() error { return t.err }

// Kind returns the target's kind ("" when the scheme is unknown).
func (t *Target) Kind() Kind { return t.kind }

// Spec returns the spec the target was made from.
func (t *Target) Spec() Spec { return t.spec }
