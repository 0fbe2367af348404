// Package deadletter is sync's dead-letter topic: why a message could not be
// stored (Class, from a closed list, and which classes a replay can fix), the
// format of a dead letter (the original key and value with sitestat-*
// headers, Letter.Record and Parse, the one place it is defined), and the
// Writer that produces them, truncating one the topic refuses for its size.
// `sitestat sync` writes dead letters, `sitestat dlq` reads and replays them;
// package kafka only moves their records.
package deadletter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sitestat/sitestat/internal/retry"
	"github.com/sitestat/sitestat/internal/text"
	"github.com/sitestat/sitestat/kafka"
)

// The headers of a dead-letter message: why sync could not store the
// original message and where it came from. The key and value are the
// original's, unchanged — unless the dead-letter topic refused the value for
// its size, when the value is its first TruncatedValueBytes bytes and the
// truncation headers say so.
const (
	HeaderError           = "sitestat-error"            // the error, one line
	HeaderErrorClass      = "sitestat-error-class"      // the Class
	HeaderSourceTopic     = "sitestat-source-topic"     // the topic of the original message
	HeaderSourcePartition = "sitestat-source-partition" // its partition, decimal
	HeaderSourceOffset    = "sitestat-source-offset"    // its offset, decimal
	HeaderTruncated       = "sitestat-truncated"        // "true" when the value was cut
	HeaderOriginalSize    = "sitestat-original-size"    // the original value's size in bytes, decimal
	HeaderOriginalSHA256  = "sitestat-original-sha256"  // SHA-256 of the original value, hex
)

// TruncatedValueBytes is how much of a value a truncated dead letter keeps.
const TruncatedValueBytes = 4 << 10

// maxErrorHeader bounds the sitestat-error header, in characters.
const maxErrorHeader = 1024

// Class is why a message became a dead letter: the value of the
// sitestat-error-class header.
type Class string

// The dead-letter classes.
const (
	// ClassDecode: the value is not a Result of the contract (invalid JSON or
	// UTF-8, wrong types, a required field missing, an unknown "v", a key
	// that disagrees with website_id, …).
	ClassDecode = Class("decode")
	// ClassTooLarge: the value is larger than sync's SITESTAT_SYNC_MAX_MESSAGE.
	ClassTooLarge = Class("too_large")
	// ClassUnknownSite: website_id names no row of the websites table.
	ClassUnknownSite = Class("unknown_site")
	// ClassDBData: PostgreSQL rejected the row's data (SQLSTATE class 22).
	ClassDBData = Class("db_data")
	// ClassDBConstraint: the row violates a constraint (SQLSTATE class 23).
	ClassDBConstraint = Class("db_constraint")
	// ClassExpired: checked_at is older than the raw retention (a very late
	// re-send): storing it would recreate a pruned day.
	ClassExpired = Class("expired")
	// ClassBadTimestamp: checked_at is further ahead of sync's clock than
	// SITESTAT_SYNC_MAX_FUTURE (a checker's clock is wrong): storing it would
	// make every real result after it late.
	ClassBadTimestamp = Class("bad_timestamp")
)

// ClassInfo describes a Class for help texts and for `dlq replay`.
type ClassInfo struct {
	Class Class
	// Replayable is whether a replay can succeed once the cause is fixed
	// (e.g. the site re-added); a message that can never be stored is not.
	Replayable bool
}

// Classes lists every dead-letter class, in the order help texts show them.
var Classes = []ClassInfo{
	{ClassDecode, false},
	{ClassTooLarge, false},
	{ClassUnknownSite, true},
	{ClassDBData, true},
	{ClassDBConstraint, true},
	{ClassExpired, false},
	{ClassBadTimestamp, false},
}

// ParseClass returns the Class named s, or an error listing the classes.
func ParseClass(s string) (Class, error) {
	for _, c := range Classes {
		if string(c.Class) == s {
			return c.Class, nil
		}
	}
	return "", fmt.Errorf("unknown dead-letter class %q (one of %s)", s, ClassNames())
}

// ClassNames returns the classes as a comma-separated list.
func ClassNames() string {
	names := make([]string, len(Classes))
	for i, c := range Classes {
		names[i] = string(c.Class)
	}
	return strings.Join(names, ", ")
}

// Replayable reports whether c is a class a replay can fix.
func (c Class) Replayable() bool {
	for _, k := range Classes {
		if k.Class == c {
			return k.Replayable
		}
	}
	return false
}

// Letter is a message sync could not store, as written to and read from
// the dead-letter topic. It is the one place the dead-letter format is
// defined.
type Letter struct {
	// Key and Value are the original message's (Value possibly truncated,
	// see Truncated).
	Key, Value []byte
	// Error says why it could not be stored; Class is its short stable class.
	Error string
	Class Class
	// SourceTopic, SourcePartition and SourceOffset locate the original; the
	// partition and offset are -1 when the headers are missing or malformed.
	SourceTopic     string
	SourcePartition int32
	SourceOffset    int64
	// Truncated is set when Value is only the start of the original value,
	// whose size and SHA-256 (hex) are then OriginalSize and OriginalSHA256.
	Truncated      bool
	OriginalSize   int64
	OriginalSHA256 string
	// Timestamp is the message timestamp: when set, Message uses it (e.g. the
	// original's); Parse returns the dead-letter message's own.
	Timestamp time.Time
	// Partition and Offset locate the dead-letter message itself; set by
	// Parse, ignored by Message.
	Partition int32
	Offset    int64
}

// New returns the dead letter of r, a record that could not be
// stored for class and reason err.
func New(r *kafka.Record, class Class, err string) Letter {
	return Letter{Key: r.Key, Value: r.Value, Error: err, Class: class,
		SourceTopic: r.Topic, SourcePartition: r.Partition, SourceOffset: r.Offset, Timestamp: r.Timestamp}
}

// truncated returns d with its value cut to TruncatedValueBytes and the
// original's size and hash recorded.
func (d Letter) truncated() Letter {
	if d.Truncated {
		return d
	}
	sum := sha256.Sum256(d.Value)
	d.OriginalSize, d.OriginalSHA256, d.Truncated = int64(len(d.Value)), hex.EncodeToString(sum[:]), true
	if len(d.Value) > TruncatedValueBytes {
		d.Value = d.Value[:TruncatedValueBytes]
	}
	return d
}

// Record returns d as a record of the dead-letter topic: the original key
// (so a replay partitions as the original did), value, timestamp and the
// sitestat-* headers.
func (d Letter) Record() kafka.Record {
	errText := text.Truncate(text.OneLine(d.Error), maxErrorHeader)
	h := func(k, v string) kafka.Header { return kafka.Header{Key: []byte(k), Value: []byte(v)} }
	r := kafka.Record{
		Key:   d.Key,
		Value: d.Value,
		Headers: []kafka.Header{
			h(HeaderError, errText),
			h(HeaderErrorClass, string(d.Class)),
			h(HeaderSourceTopic, d.SourceTopic),
			h(HeaderSourcePartition, strconv.FormatInt(int64(d.SourcePartition), 10)),
			h(HeaderSourceOffset, strconv.FormatInt(d.SourceOffset, 10)),
		},
		Timestamp: d.Timestamp,
	}
	if d.Truncated {
		r.Headers = append(r.Headers,
			h(HeaderTruncated, "true"),
			h(HeaderOriginalSize, strconv.FormatInt(d.OriginalSize, 10)),
			h(HeaderOriginalSHA256, d.OriginalSHA256))
	}
	return r
}

// Parse reads a record of the dead-letter topic. Missing headers
// leave their fields empty (partition and offset -1); it never fails, so a
// foreign message in the topic can still be shown.
func Parse(r kafka.Record) Letter {
	d := Letter{
		Key:             r.Key,
		Value:           r.Value,
		SourcePartition: -1,
		SourceOffset:    -1,
		Timestamp:       r.Timestamp,
		Partition:       r.Partition,
		Offset:          r.Offset,
	}
	for _, h := range r.Headers {
		v := string(h.Value)
		switch string(h.Key) {
		case HeaderError:
			d.Error = v
		case HeaderErrorClass:
			d.Class = Class(v)
		case HeaderSourceTopic:
			d.SourceTopic = v
		case HeaderSourcePartition:
			if n, err := strconv.ParseInt(v, 10, 32); err == nil {
				d.SourcePartition = int32(n)
			}
		case HeaderSourceOffset:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				d.SourceOffset = n
			}
		case HeaderTruncated:
			d.Truncated = v == "true"
		case HeaderOriginalSize:
			d.OriginalSize, _ = strconv.ParseInt(v, 10, 64)
		case HeaderOriginalSHA256:
			d.OriginalSHA256 = v
		}
	}
	return d
}

// dlqRetry is the backoff between attempts to produce dead letters while the
// dead-letter topic is unavailable.
var dlqRetry = retry.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second}

// Sender is what a Writer produces with: *kafka.BatchWriter satisfies it.
type Sender interface {
	Topic() string
	Send(ctx context.Context, recs []kafka.Record) ([]kafka.Failed, error)
	Explain(err error) string
	Close() error
}

var _ Sender = (*kafka.BatchWriter)(nil)

// Writer produces dead letters to the dead-letter topic with an
// idempotent, synchronous producer: Write returns once every dead letter is
// acknowledged. Safe for concurrent use.
type Writer struct {
	s   Sender
	log *slog.Logger
}

// NewWriter connects a producer for topic. log receives a warning per
// failed attempt; nil discards them.
func NewWriter(opts kafka.Options, topic string, log *slog.Logger) (*Writer, error) {
	if topic == "" {
		return nil, errors.New("kafka: dead-letter writer: no topic given")
	}
	bw, err := kafka.NewBatchWriter(opts, topic)
	if err != nil {
		return nil, err
	}
	return newWriter(bw, log), nil
}

// newWriter is a Writer producing with s.
func newWriter(s Sender, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer{s: s, log: log}
}

// Topic returns the dead-letter topic.
func (w *Writer) Topic() string { return w.s.Topic() }

func (w *Writer) Write(ctx context.Context, dls []Letter) error {
	pending := make([]Letter, len(dls))
	copy(pending, dls)
	for attempt := 0; len(pending) > 0; attempt++ {
		failed, err := w.send(ctx, pending)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var retryable []Letter
		truncatedNow := false
		for _, f := range failed {
			switch {
			case !kafka.Permanent(f.err):
				retryable = append(retryable, f.d)
			case !f.d.Truncated:
				w.log.Warn("dead letter refused for good; producing it truncated", "topic", w.s.Topic(),
					"source_partition", f.d.SourcePartition, "source_offset", f.d.SourceOffset,
					"value_bytes", len(f.d.Value), "err", w.s.Explain(f.err))
				retryable = append(retryable, f.d.truncated())
				truncatedNow = true
			default:
				w.log.Error("dead letter refused even truncated; dropped", "topic", w.s.Topic(),
					"source_partition", f.d.SourcePartition, "source_offset", f.d.SourceOffset,
					"class", f.d.Class, "err", w.s.Explain(f.err))
			}
		}
		if !truncatedNow && len(retryable) > 0 { // a truncated form is tried at once
			d := dlqRetry.Delay(attempt)
			w.log.Warn("produce dead letters failed; retrying", "topic", w.s.Topic(),
				"messages", len(retryable), "attempt", attempt+1, "retry_in", d, "err", w.s.Explain(err))
			if !retry.Sleep(ctx, d) {
				return ctx.Err()
			}
		}
		pending = retryable
	}
	return nil
}

type failedLetter struct {
	d   Letter
	err error
}

// send produces dls in one call, bounded by ctx, and returns the ones that
// failed with their errors, by source offset.
func (w *Writer) send(ctx context.Context, dls []Letter) ([]failedLetter, error) {
	recs := make([]kafka.Record, len(dls))
	for i := range dls {
		recs[i] = dls[i].Record()
	}
	// When ctx ends first the send goes on in the background; the caller
	// does not commit, so these dead letters are produced again later (at
	// least once).
	failed, err := w.s.Send(ctx, recs)
	if err == nil || ctx.Err() != nil {
		return nil, err
	}
	out := make([]failedLetter, len(failed))
	for i, f := range failed {
		out[i] = failedLetter{dls[f.Index], f.Err}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].d.SourceOffset < out[b].d.SourceOffset })
	return out, err
}

// Close closes the producer.
func (w *Writer) Close() error { return w.s.Close() }
