package notify_test

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/notify"
)

// request is what a receiver got.
type request struct {
	method string
	path   string
	header http.Header
	body   []byte
}

// receiver is a local HTTP server standing in for a channel. It records
// every request and answers with status(n) for the n-th (from 1).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

func newReceiver(t *testing.T, status func(n int, r request) (int, string)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := request{method: r.Method, path: r.URL.RequestURI(), header: r.Header.Clone(), body: body}
		rc.mu.Lock()
		rc.requests = append(rc.requests, req)
		n := len(rc.requests)
		rc.mu.Unlock()
		code, text := status(n, req)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, text)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.requests...)
}

func ok(int, request) (int, string) { return http.StatusOK, "ok" }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func downMessage() alert.Message {
	site := int64(7)
	return alert.Message{V: alert.Version, NotificationID: 42, Event: alert.EventDown, IncidentID: 9, Kind: "down",
		WebsiteID: &site, URL: "https://shop.example/", Reason: "http_status", Error: "HTTP 500",
		StartedAt: time.Date(2026, 11, 27, 5, 30, 1, 0, time.UTC), DurationSeconds: 15, Probes: []string{"edge-1"}}
}

func TestWebhookSignsTheBodyAndSendsTheKey(t *testing.T) {
	const secret = "s3cret-hmac-key"
	tests := []struct {
		name   string
		secret string
	}{
		{"with secret", secret},
		{"without secret", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, ok)
			sent := time.Unix(1795000000, 0)
			w := notify.NewWebhook(rc.URL+"/hook/path-token", tt.secret, notify.Options{Now: func() time.Time { return sent }})
			if err := w.Send(testContext(t), notify.Delivery{Key: "42", Message: downMessage()}); err != nil {
				t.Fatalf("send: %v", err)
			}
			reqs := rc.got()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.path != "/hook/path-token" || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s %q", r.method, r.path, r.header.Get("Content-Type"))
			}
			if got := r.header.Get(notify.HeaderIdempotencyKey); got != "42" {
				t.Errorf("idempotency key %q, want 42", got)
			}
			sig, ts := r.header.Get(notify.HeaderSignature), r.header.Get(notify.HeaderTimestamp)
			if tt.secret == "" {
				if sig != "" || ts != "" {
					t.Errorf("signature %q, timestamp %q without a secret", sig, ts)
				}
			} else {
				if ts != "1795000000" {
					t.Errorf("timestamp %q, want the send's unix seconds 1795000000", ts)
				}
				want := notify.Sign([]byte(tt.secret), sent.Unix(), r.body)
				if !strings.HasPrefix(sig, "sha256=") || !hmac.Equal([]byte(sig), []byte(want)) {
					t.Errorf("signature %q does not verify (want %q)", sig, want)
				}
				for _, bad := range []string{notify.Sign([]byte("other"), sent.Unix(), r.body), notify.Sign([]byte(tt.secret), sent.Unix()+1, r.body)} {
					if hmac.Equal([]byte(sig), []byte(bad)) {
						t.Error("signature verifies with another secret or timestamp")
					}
				}
			}
			var m alert.Message
			if err := json.Unmarshal(r.body, &m); err != nil {
				t.Fatalf("body: %v", err)
			}
			var raw map[string]any
			_ = json.Unmarshal(r.body, &raw)
			for _, k := range []string{"event", "incident_id", "kind", "website_id", "url", "reason", "error", "started_at", "resolved_at", "duration_seconds", "probes", "notification_id"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("body lacks %q: %s", k, r.body)
				}
			}
			if m.Event != alert.EventDown || m.IncidentID != 9 || *m.WebsiteID != 7 || m.URL != "https://shop.example/" {
				t.Errorf("body %+v", m)
			}
		})
	}
}

func TestSlackMessage(t *testing.T) {
	rc := newReceiver(t, ok)
	s := notify.NewSlack(rc.URL+"/services/T000/B000/XXXX", notify.Options{})
	rec := downMessage()
	rec.Event = alert.EventRecovered
	for _, m := range []alert.Message{downMessage(), rec} {
		if err := s.Send(testContext(t), notify.Delivery{Key: "1", Message: m}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	reqs := rc.got()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, want := range []string{"DOWN https://shop.example/ (site 7): http_status — HTTP 500", "RECOVERED https://shop.example/ (site 7) after 15s"} {
		var body struct{ Text string }
		if err := json.Unmarshal(reqs[i].body, &body); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body.Text, want) {
			t.Errorf("text %q lacks %q", body.Text, want)
		}
	}
}

func TestPagerDutyTriggerThenResolve(t *testing.T) {
	const key = "R0UT1NGKEY0123456789abcdefabcdef"
	rc := newReceiver(t, func(int, request) (int, string) { return http.StatusAccepted, `{"status":"success"}` })
	p := notify.NewPagerDuty(rc.URL+"/v2/enqueue", key, notify.Options{})
	rec := downMessage()
	rec.Event = alert.EventRecovered
	for _, m := range []alert.Message{downMessage(), rec} {
		if err := p.Send(testContext(t), notify.Delivery{Key: "1", Message: m}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	reqs := rc.got()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	var evs []notify.PagerDutyEvent
	for _, r := range reqs {
		var ev notify.PagerDutyEvent
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if evs[0].EventAction != "trigger" || evs[1].EventAction != "resolve" {
		t.Errorf("actions %s, %s; want trigger, resolve", evs[0].EventAction, evs[1].EventAction)
	}
	for _, ev := range evs {
		if ev.RoutingKey != key || ev.DedupKey != notify.DedupKey(9) {
			t.Errorf("routing key %q, dedup key %q", ev.RoutingKey, ev.DedupKey)
		}
	}
	if pl := evs[0].Payload; pl == nil || pl.Severity != "critical" || pl.Source != "https://shop.example/" ||
		!strings.Contains(pl.Summary, "http_status") || pl.CustomDetails.IncidentID != 9 {
		t.Errorf("trigger payload %+v", evs[0].Payload)
	}

	// A test is a trigger resolved at once.
	if err := notify.Test(testContext(t), p, "test-abc"); err != nil {
		t.Fatal(err)
	}
	reqs = rc.got()[2:]
	if len(reqs) != 2 {
		t.Fatalf("test sent %d requests, want 2", len(reqs))
	}
	var a, b notify.PagerDutyEvent
	_ = json.Unmarshal(reqs[0].body, &a)
	_ = json.Unmarshal(reqs[1].body, &b)
	if a.EventAction != "trigger" || b.EventAction != "resolve" || a.DedupKey != b.DedupKey || a.Payload.Severity != "info" {
		t.Errorf("test events %+v then %+v", a, b)
	}
}

// closedURL returns an http URL on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestErrorsHoldNoSecret(t *testing.T) {
	const (
		pathSecret = "T0SECRET/B0SECRET/slackTokenXYZ"
		hmacSecret = "hmac-secret-value"
		pdKey      = "pagerduty-routing-key-secret"
	)
	// An echoing receiver answers 500 with the path and the body it got.
	echo := newReceiver(t, func(_ int, r request) (int, string) {
		return http.StatusInternalServerError, r.path + " " + string(r.body)
	})
	closed := closedURL(t)
	tests := []struct {
		name    string
		sender  notify.Sender
		wantSub string
	}{
		{"webhook echo", notify.NewWebhook(echo.URL+"/"+pathSecret+"?token="+hmacSecret, hmacSecret, notify.Options{}), "HTTP 500"},
		{"slack echo", notify.NewSlack(echo.URL+"/services/"+pathSecret, notify.Options{}), "HTTP 500"},
		{"pagerduty echo", notify.NewPagerDuty(echo.URL+"/v2/enqueue", pdKey, notify.Options{}), "HTTP 500"},
		{"webhook refused", notify.NewWebhook(closed+"/"+pathSecret, hmacSecret, notify.Options{}), "refused"},
		{"slack refused", notify.NewSlack(closed+"/services/"+pathSecret, notify.Options{}), "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sender.Send(testContext(t), notify.Delivery{Key: "1", Message: downMessage()})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, s := range []string{pathSecret, "slackTokenXYZ", hmacSecret, pdKey} {
				if strings.Contains(msg, s) {
					t.Errorf("error %q holds the secret %q", msg, s)
				}
			}
			if !strings.Contains(msg, tt.wantSub) || !strings.Contains(msg, tt.sender.Receiver()) {
				t.Errorf("error %q does not say %q at %s", msg, tt.wantSub, tt.sender.Receiver())
			}
			var se *notify.StatusError
			if tt.wantSub == "HTTP 500" && (!errors.As(err, &se) || se.Code != 500) {
				t.Errorf("error %v is not a StatusError 500", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.slack.com/services/T0/B0/secret", "https://hooks.slack.com"},
		{"https://user:pw@example.com:8443/x?token=y", "https://example.com:8443"},
		{"http://127.0.0.1:9/", "http://127.0.0.1:9"},
		{"not a url", "(invalid URL)"},
	}
	for _, tt := range tests {
		if got := notify.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestChannelsEscapeSiteText: what a monitored site controls (the reason
// phrase in the error text, the URL) cannot ping a Slack channel or show a
// disguised link, nor break a message's line; a PagerDuty summary is cut to
// 1024 characters without splitting one.
func TestChannelsEscapeSiteText(t *testing.T) {
	hostile := downMessage()
	hostile.URL = "https://shop.example/?a=1&b=<!here>"
	hostile.Error = "HTTP 503 <!channel> <https://evil.example|Sign in>\nsecond line & more"
	hostile.Probes = []string{"edge<1>"}
	rc := newReceiver(t, ok)
	if err := notify.NewSlack(rc.URL+"/services/T/B/X", notify.Options{}).Send(testContext(t), notify.Delivery{Key: "1", Message: hostile}); err != nil {
		t.Fatal(err)
	}
	var body struct{ Text string }
	if err := json.Unmarshal(rc.got()[0].body, &body); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<!channel>", "<!here>", "<https://", "edge<1>", "\n"} {
		if strings.Contains(body.Text, bad) {
			t.Errorf("slack text %q holds %q", body.Text, bad)
		}
	}
	for _, want := range []string{"&lt;!channel&gt; &lt;https://evil.example|Sign in&gt;", "a=1&amp;b=&lt;!here&gt;", `\nsecond line &amp; more`} {
		if !strings.Contains(body.Text, want) {
			t.Errorf("slack text %q lacks %q", body.Text, want)
		}
	}

	long := downMessage()
	long.Error = "x\n" + strings.Repeat("é", 2000)
	pd := newReceiver(t, func(int, request) (int, string) { return http.StatusAccepted, `{"status":"success"}` })
	if err := notify.NewPagerDuty(pd.URL+"/v2/enqueue", "R0UT1NGKEY0123456789abcdefabcdef", notify.Options{}).Send(testContext(t), notify.Delivery{Key: "1", Message: long}); err != nil {
		t.Fatal(err)
	}
	var ev notify.PagerDutyEvent
	if err := json.Unmarshal(pd.got()[0].body, &ev); err != nil {
		t.Fatal(err)
	}
	if s := ev.Payload.Summary; !utf8.ValidString(s) || utf8.RuneCountInString(s) > 1024 || strings.Contains(s, "\n") {
		t.Errorf("pagerduty summary of %d characters, valid UTF-8 %t, newline %t", utf8.RuneCountInString(s), utf8.ValidString(s), strings.Contains(s, "\n"))
	}
}
