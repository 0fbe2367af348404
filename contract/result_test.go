package contract

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sampleResult() Result {
	code := 200
	matched := true
	notAfter := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	return Result{
		V:              Version,
		CheckID:        "0b9c3f4e-8d1a-4c52-9e7f-2a6b1d3c5e7f",
		WebsiteID:      42,
		URL:            "https://example.com/",
		CheckedAt:      time.Date(2026, 11, 27, 5, 30, 1, 123456789, time.UTC),
		Probe:          "edge-1",
		Up:             true,
		Reason:         ReasonOK,
		StatusCode:     &code,
		ResponseTimeMs: 123.456,
		PhasesMs:       Phases{DNSMs: 1.5, ConnectMs: 2.5, TLSMs: 10, TTFBMs: 100, TransferMs: 9.456},
		Redirects:      1,
		FinalURL:       "https://example.com/index.html",
		BodyBytes:      1256,
		RegexMatched:   &matched,
		TLSVersion:     "TLS 1.3",
		CertNotAfter:   &notAfter,
	}
}

func TestRoundTrip(t *testing.T) {
	down := sampleResult()
	down.Up, down.Reason, down.StatusCode, down.RegexMatched = false, ReasonConnectionRefused, nil, nil
	down.Error = "connect: connection refused"
	down.TLSVersion, down.CertNotAfter = "", nil
	for _, want := range []Result{sampleResult(), down} {
		b, err := want.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(want.Key(), b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		if string(got.Raw) != string(b) {
			t.Errorf("Raw = %s, want the value as received %s", got.Raw, b)
		}
		got.Raw = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip changed the result:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestEncodeFieldNames(t *testing.T) {
	r := sampleResult()
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"v", "check_id", "website_id", "url", "checked_at", "probe", "up", "reason",
		"status_code", "response_time_ms", "phases_ms", "redirects", "final_url", "body_bytes",
		"regex_matched", "error", "tls_version", "cert_not_after"} {
		if _, ok := m[k]; !ok {
			t.Errorf("encoded result lacks %q: %s", k, b)
		}
	}
	if got, want := m["checked_at"], "2026-11-27T05:30:01.123456789Z"; got != want {
		t.Errorf("checked_at = %v, want RFC 3339 UTC with nanoseconds %s", got, want)
	}
	if got, want := string(r.Key()), "42"; got != want {
		t.Errorf("Key() = %q, want %q", got, want)
	}
}

func TestDecodeToleratesUnknownFields(t *testing.T) {
	r := sampleResult()
	b, _ := r.Encode()
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["from_the_future"] = map[string]any{"x": 1}
	b, _ = json.Marshal(m)
	got, err := Decode([]byte("42"), b)
	if err != nil {
		t.Fatalf("Decode with an unknown field: %v", err)
	}
	if got.CheckID != r.CheckID {
		t.Errorf("check_id = %q, want %q", got.CheckID, r.CheckID)
	}
}

func TestDecodeAcceptsWellFormedUnknownReasons(t *testing.T) {
	for _, tc := range []struct {
		reason Reason
		up     bool
		ok     bool
	}{
		{"blocked", false, true},
		{"some_future_reason", false, true},
		{"ok", true, true},
		{"blocked", true, false}, // only "ok" is up
		{"", false, false},
		{"Blocked", false, false},
		{"has-dash", false, false},
		{"a_reason_that_is_longer_than_32_c", false, false},
	} {
		r := sampleResult()
		r.Reason, r.Up = tc.reason, tc.up
		b, _ := r.Encode()
		got, err := Decode(r.Key(), b)
		if tc.ok && (err != nil || got.Reason != tc.reason) {
			t.Errorf("reason %q up=%t: Decode = %q, %v; want accepted", tc.reason, tc.up, got.Reason, err)
		}
		if !tc.ok && !errors.Is(err, ErrBadMessage) {
			t.Errorf("reason %q up=%t: Decode error = %v, want ErrBadMessage", tc.reason, tc.up, err)
		}
	}
}

func TestDecodeBadMessages(t *testing.T) {
	valid := func() map[string]any {
		r := sampleResult()
		b, _ := r.Encode()
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	encode := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
	with := func(k string, v any) []byte { m := valid(); m[k] = v; return encode(m) }
	without := func(k string) []byte { m := valid(); delete(m, k); return encode(m) }

	tests := []struct {
		name  string
		key   string
		value []byte
		want  string
	}{
		{"invalid JSON", "42", []byte(`{"v":1,`), "invalid JSON"},
		{"not an object", "42", []byte(`[1,2]`), "invalid JSON"},
		{"unknown version", "42", with("v", 2), "unknown version"},
		{"version as string", "42", with("v", "1"), "wrong type"},
		{"website_id as string", "42", with("website_id", "42"), "wrong type"},
		{"up as string", "42", with("up", "true"), "wrong type"},
		{"checked_at not a time", "42", with("checked_at", "yesterday"), "invalid JSON"},
		{"check_id not a UUID", "42", with("check_id", "abc"), "not a UUID"},
		{"malformed reason", "42", with("reason", "Not A Reason"), "is not 1-32 characters"},
		{"invalid UTF-8", "42", []byte("{\"v\":1,\"url\":\"\xff\xfe\"}"), "not valid UTF-8"},
		{"up contradicts reason", "42", with("up", false), "contradicts"},
		{"zero website_id", "0", with("website_id", 0), "not positive"},
		{"key disagrees", "43", encode(valid()), "disagrees"},
		{"key not a number", "abc", encode(valid()), "disagrees"},
	}
	for _, k := range []string{"v", "check_id", "website_id", "checked_at", "up", "reason"} {
		tests = append(tests, struct {
			name  string
			key   string
			value []byte
			want  string
		}{"missing " + k, "42", without(k), `missing required field "` + k + `"`})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.key), tt.value)
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("Decode error = %v, want ErrBadMessage", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestReasonsAreClosed(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons {
		if !r.Valid() || seen[r] {
			t.Errorf("reason %q invalid or listed twice", r)
		}
		seen[r] = true
	}
	if len(seen) != 13 {
		t.Errorf("%d reasons, want the 13 of the contract", len(seen))
	}
	if Reason("OK").Valid() {
		t.Error(`Reason("OK") is valid; reasons are lower case`)
	}
}

// TestDecodeCapsError: Decode cuts an error text longer than MaxErrorLen
// characters, whatever checker wrote it.
func TestDecodeCapsError(t *testing.T) {
	long := sampleResult()
	long.Up, long.Reason, long.Error = false, ReasonConnectionError, strings.Repeat("é", 10*MaxErrorLen)
	b, _ := long.Encode()
	got, err := Decode([]byte("42"), b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if n := utf8.RuneCountInString(got.Error); n != MaxErrorLen {
		t.Errorf("decoded error has %d characters, want %d", n, MaxErrorLen)
	}
}
