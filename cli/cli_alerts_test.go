package cli

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sitestat/sitestat/notify"
)

// channelReceiver is a local receiver that records the bodies and headers it
// gets and answers code.
type channelReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []string
	headers []http.Header
}

func newChannelReceiver(t *testing.T, code int) *channelReceiver {
	t.Helper()
	rc := &channelReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, string(b))
		rc.headers = append(rc.headers, r.Header.Clone())
		rc.mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, r.URL.Path) // echoes the secret path
	}))
	t.Cleanup(rc.Close)
	return rc
}

func TestAlertsTest(t *testing.T) {
	const (
		hookSecret  = "hmac-secret-for-cli"
		slackSecret = "/services/TSECRET/BSECRET/slacktoken"
		pdKey       = "pd-routing-key-for-cli"
	)
	hook := newChannelReceiver(t, http.StatusOK)
	slack := newChannelReceiver(t, http.StatusOK)
	pd := newChannelReceiver(t, http.StatusAccepted)
	env := map[string]string{
		"SITESTAT_ALERT_WEBHOOK_URL":    hook.URL + "/hook/path-secret",
		"SITESTAT_ALERT_WEBHOOK_SECRET": hookSecret,
		"SITESTAT_ALERT_SLACK_URL":      slack.URL + slackSecret,
		"SITESTAT_ALERT_PAGERDUTY_KEY":  pdKey,
		"SITESTAT_ALERT_PAGERDUTY_URL":  pd.URL + "/v2/enqueue",
	}
	out, _ := mustRun(t, env, exitOK, "alerts", "test")
	for _, want := range []string{"webhook    " + hook.URL + "  ok", "slack      " + slack.URL + "  ok", "pagerduty  " + pd.URL + "  ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if len(hook.bodies) != 1 || len(slack.bodies) != 1 || len(pd.bodies) != 2 {
		t.Fatalf("requests: webhook %d, slack %d, pagerduty %d; want 1, 1, 2", len(hook.bodies), len(slack.bodies), len(pd.bodies))
	}
	h := hook.headers[0]
	ts, err := strconv.ParseInt(h.Get(notify.HeaderTimestamp), 10, 64)
	if err != nil {
		t.Errorf("webhook timestamp %q: %v", h.Get(notify.HeaderTimestamp), err)
	}
	if sig := h.Get(notify.HeaderSignature); !hmac.Equal([]byte(sig), []byte(notify.Sign([]byte(hookSecret), ts, []byte(hook.bodies[0])))) {
		t.Errorf("webhook signature %q does not verify", sig)
	}
	if !strings.HasPrefix(h.Get(notify.HeaderIdempotencyKey), "test-") || !strings.Contains(hook.bodies[0], `"event":"test"`) {
		t.Errorf("webhook got key %q, body %s", h.Get(notify.HeaderIdempotencyKey), hook.bodies[0])
	}
	var trigger, resolve notify.PagerDutyEvent
	_ = json.Unmarshal([]byte(pd.bodies[0]), &trigger)
	_ = json.Unmarshal([]byte(pd.bodies[1]), &resolve)
	if trigger.EventAction != "trigger" || resolve.EventAction != "resolve" || trigger.RoutingKey != pdKey || trigger.DedupKey != resolve.DedupKey {
		t.Errorf("pagerduty got %+v then %+v", trigger, resolve)
	}

	// One channel failing: exit 1, the others still tried, no secret shown.
	failing := newChannelReceiver(t, http.StatusInternalServerError)
	env["SITESTAT_ALERT_SLACK_URL"] = failing.URL + slackSecret
	code, out, errOut := runArgs(t, env, "alerts", "test")
	if code != exitFailure {
		t.Errorf("exit %d with a failing channel, want %d", code, exitFailure)
	}
	if !strings.Contains(out, "slack      "+failing.URL+"  failed") || !strings.Contains(out, "HTTP 500") ||
		!strings.Contains(out, "pagerduty  "+pd.URL+"  ok") || !strings.Contains(errOut, "1 of 3 channels failed") {
		t.Errorf("output:\n%s\nstderr: %s", out, errOut)
	}
	for _, s := range []string{"TSECRET", "slacktoken", "path-secret", hookSecret, pdKey} {
		if strings.Contains(out+errOut, s) {
			t.Errorf("output holds the secret %q:\n%s%s", s, out, errOut)
		}
	}

	// No channel: a usage error.
	if _, errOut := mustRun(t, nil, exitUsage, "alerts", "test"); !strings.Contains(errOut, "SITESTAT_ALERT_WEBHOOK_URL") {
		t.Errorf("stderr %q does not name the variables", errOut)
	}
}
