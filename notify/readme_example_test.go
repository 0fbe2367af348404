package notify_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/notify"
)

// README:begin verifySitestat — README.md shows this function verbatim
// (TestReadmeShowsVerifySitestat), so what the README tells receivers to run
// is what TestReadmeReceiverVerifiesDeliveries runs.

// verifySitestat checks a sitestat webhook delivery and returns its body:
// the signature covers the timestamp, a dot and the raw body, and a
// timestamp more than 5 minutes from now is refused, so a captured delivery
// cannot be replayed later. (Within those 5 minutes, drop a repeat by its
// Idempotency-Key.)
func verifySitestat(secret []byte, r *http.Request, now time.Time) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	ts := r.Header.Get("X-Sitestat-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, errors.New("missing or bad X-Sitestat-Timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return nil, fmt.Errorf("timestamp %s is more than 5 minutes from now", ts)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(r.Header.Get("X-Sitestat-Signature")), []byte(want)) {
		return nil, errors.New("bad X-Sitestat-Signature")
	}
	return body, nil
}

// README:end

// TestReadmeShowsVerifySitestat checks that README.md shows verifySitestat
// as this file has it.
func TestReadmeShowsVerifySitestat(t *testing.T) {
	src, err := os.ReadFile("readme_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, code, _ := strings.Cut(string(src), "// README:begin")
	code, _, _ = strings.Cut(code, "// README:end")
	_, code, _ = strings.Cut(code, "\n\n") // the marker's own comment
	code = strings.TrimSpace(code)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readmeCode(string(readme)), code) {
		t.Errorf("README.md does not show verifySitestat as notify/readme_example_test.go has it:\n%s", code)
	}
}

// readmeCode returns the Go code blocks of a Markdown text, each block's
// indentation (that of its fence) removed.
func readmeCode(md string) string {
	var out strings.Builder
	var indent string
	in := false
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case !in && trimmed == "```go":
			in, indent = true, line[:len(line)-len(trimmed)]
		case in && trimmed == "```":
			in = false
			out.WriteString("\n")
		case in:
			out.WriteString(strings.TrimPrefix(line, indent) + "\n")
		}
	}
	return out.String()
}

// captured is a delivery as the receiver got it.
type captured struct {
	header http.Header
	body   []byte
}

// replay returns a request carrying c again, with body in place of its own
// when body is not nil and the header changed by edit.
func (c captured) replay(body []byte, edit func(http.Header)) *http.Request {
	if body == nil {
		body = c.body
	}
	r, _ := http.NewRequest(http.MethodPost, "http://receiver.example/hook", bytes.NewReader(body))
	r.Header = c.header.Clone()
	if edit != nil {
		edit(r.Header)
	}
	return r
}

// TestReadmeReceiverVerifiesDeliveries runs the README's verifySitestat in a
// receiver the webhook channel delivers to: a real delivery verifies; the
// same delivery replayed more than 5 minutes later, with its body or
// timestamp changed, or checked with another secret, does not.
func TestReadmeReceiverVerifiesDeliveries(t *testing.T) {
	const secret = "whsec-readme-example"
	var mu sync.Mutex
	var got []captured
	var verifyErr error
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := verifySitestat([]byte(secret), r, time.Now())
		mu.Lock()
		defer mu.Unlock()
		verifyErr = err
		got = append(got, captured{header: r.Header.Clone(), body: body})
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(rc.Close)
	before := time.Now().Unix()
	w := notify.NewWebhook(rc.URL+"/hook", secret, notify.Options{})
	sendErr := w.Send(testContext(t), notify.Delivery{Key: "42", Message: downMessage()})
	after := time.Now().Unix()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	if verifyErr != nil || sendErr != nil {
		t.Fatalf("the README's check refused a real delivery: %v (send: %v)", verifyErr, sendErr)
	}
	c := got[0]
	ts, err := strconv.ParseInt(c.header.Get("X-Sitestat-Timestamp"), 10, 64)
	if err != nil || ts < before || ts > after {
		t.Fatalf("X-Sitestat-Timestamp %q, want the unix seconds of the send (%d..%d)", c.header.Get("X-Sitestat-Timestamp"), before, after)
	}
	sent := time.Unix(ts, 0)
	if !bytes.Contains(c.body, []byte(`"incident_id":9`)) {
		t.Errorf("verified body %s is not the message", c.body)
	}

	tests := []struct {
		name   string
		req    *http.Request
		now    time.Time
		secret string
		ok     bool
	}{
		{"the delivery 4 minutes later", c.replay(nil, nil), sent.Add(4 * time.Minute), secret, true},
		{"replayed 6 minutes later", c.replay(nil, nil), sent.Add(6 * time.Minute), secret, false},
		{"replayed with a fresh timestamp", c.replay(nil, func(h http.Header) {
			h.Set("X-Sitestat-Timestamp", strconv.FormatInt(ts+360, 10))
		}), sent.Add(6 * time.Minute), secret, false},
		{"timestamp far ahead", c.replay(nil, nil), sent.Add(-6 * time.Minute), secret, false},
		{"body changed", c.replay(bytes.Replace(c.body, []byte(`"incident_id":9`), []byte(`"incident_id":8`), 1), nil), sent, secret, false},
		{"no timestamp", c.replay(nil, func(h http.Header) { h.Del("X-Sitestat-Timestamp") }), sent, secret, false},
		{"no signature", c.replay(nil, func(h http.Header) { h.Del("X-Sitestat-Signature") }), sent, secret, false},
		{"another secret", c.replay(nil, nil), sent, "other", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifySitestat([]byte(tt.secret), tt.req, tt.now)
			if (err == nil) != tt.ok {
				t.Errorf("verifySitestat = %v, want ok %t", err, tt.ok)
			}
		})
	}
}
