package deadletter_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// TestRoundTrip writes dead letters with the Writer to a real topic and
// reads them back with Parse: key, value, every header and the timestamp
// survive, and Parse locates the dead letter itself.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	opts := fixture.Options(t)
	topic := fixture.Topic(t, opts, 2, nil)
	w, err := deadletter.NewWriter(opts, topic, nil)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	defer w.Close()
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	want := []deadletter.Letter{
		{Key: []byte("42"), Value: []byte(`{"v":1,"check_id":"nope"}`), Error: `bad message: check_id "nope" is not a UUID`, Class: deadletter.ClassDecode,
			SourceTopic: "website-status", SourcePartition: 3, SourceOffset: 1234567890123, Timestamp: ts},
		{Key: nil, Value: []byte("not json"), Error: "bad message: invalid JSON", Class: deadletter.ClassDecode,
			SourceTopic: "website-status", SourcePartition: 0, SourceOffset: 0, Timestamp: ts.Add(time.Second)},
		{Key: []byte("7"), Value: []byte("cut"), Error: "line one\nline two", Class: deadletter.ClassTooLarge,
			SourceTopic: "website-status", SourcePartition: 1, SourceOffset: 9, Timestamp: ts.Add(2 * time.Second),
			Truncated: true, OriginalSize: 5000, OriginalSHA256: "ab12"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Write(ctx, want); err != nil {
		t.Fatalf("Write: %v", err)
	}
	msgs, err := kafka.ReadAll(ctx, opts, topic, 0)
	if err != nil || len(msgs) != len(want) {
		t.Fatalf("ReadAll = %d records, %v; want %d", len(msgs), err, len(want))
	}
	for _, m := range msgs {
		got := deadletter.Parse(m)
		i := slices.IndexFunc(want, func(d deadletter.Letter) bool { return string(d.Value) == string(got.Value) })
		if i < 0 {
			t.Fatalf("unexpected message %q", got.Value)
		}
		w := want[i]
		w.Partition, w.Offset = m.Partition, m.Offset
		if w.Error == "line one\nline two" {
			w.Error = "line one; line two" // the header holds one line
		}
		if len(w.Key) == 0 {
			w.Key = got.Key // a nil key reads back as nil or empty
			if len(got.Key) != 0 {
				t.Errorf("key = %q, want none", got.Key)
			}
		}
		got.Timestamp = got.Timestamp.UTC()
		if !reflect.DeepEqual(got, w) {
			t.Errorf("dead letter:\n got %+v\nwant %+v", got, w)
		}
	}
}

func TestParseWithoutHeaders(t *testing.T) {
	d := deadletter.Parse(kafka.Record{Value: []byte("x"), Partition: 1, Offset: 5, Headers: []kafka.Header{
		{Key: []byte(deadletter.HeaderSourcePartition), Value: []byte("zero")},
	}})
	if d.SourcePartition != -1 || d.SourceOffset != -1 || d.Error != "" || d.Partition != 1 || d.Offset != 5 {
		t.Errorf("Parse = %+v", d)
	}
}

// TestRecordHeaders pins the dead-letter format: the header names and
// their order, the original key and value, the timestamp.
func TestRecordHeaders(t *testing.T) {
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	r := deadletter.Letter{Key: []byte("42"), Value: []byte("v"), Error: "boom", Class: deadletter.ClassUnknownSite,
		SourceTopic: "t", SourcePartition: 2, SourceOffset: 10, Timestamp: ts}.Record()
	var got [][2]string
	for _, h := range r.Headers {
		got = append(got, [2]string{string(h.Key), string(h.Value)})
	}
	want := [][2]string{{"sitestat-error", "boom"}, {"sitestat-error-class", "unknown_site"}, {"sitestat-source-topic", "t"},
		{"sitestat-source-partition", "2"}, {"sitestat-source-offset", "10"}}
	if !reflect.DeepEqual(got, want) || string(r.Key) != "42" || string(r.Value) != "v" || !r.Timestamp.Equal(ts) {
		t.Errorf("Record = %+v, headers %q; want headers %q", r, got, want)
	}
}
