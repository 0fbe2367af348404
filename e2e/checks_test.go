//go:build serial

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
)

// TestSerialCorrectAndIncorrectURLs checks every kind of site once with
// `sitestat check --once`, syncs, and asserts on the stored rows; a second
// run with SITESTAT_CHECK_SKIP_STATUS=404 records no row for the 404.
func TestSerialCorrectAndIncorrectURLs(t *testing.T) {
	e := newEnv(t)
	tg := newTargets(t)
	type want struct {
		reason    contract.Reason
		status    int // 0: no status
		matched   *bool
		redirects int
		bodyBytes int64 // -1: do not check
		minMs     float64
		maxMs     float64
	}
	yes, no := true, false
	cases := []struct {
		name, url, regex string
		want             want
	}{
		{"regex match", tg.url("/ok"), "all good", want{contract.ReasonOK, 200, &yes, 0, int64(len("sitestat target: all good\n")), 0, 900}},
		{"regex mismatch", tg.url("/ok"), "nomatch", want{contract.ReasonRegexMismatch, 200, &no, 0, -1, 0, 900}},
		{"no regex", tg.url("/ok"), "", want{contract.ReasonOK, 200, nil, 0, -1, 0, 900}},
		{"404", tg.url("/status/404"), "", want{contract.ReasonHTTPStatus, 404, nil, 0, -1, 0, 900}},
		{"500", tg.url("/status/500"), "", want{contract.ReasonHTTPStatus, 500, nil, 0, -1, 0, 900}},
		{"redirects", tg.url("/redirect/2"), "all good", want{contract.ReasonOK, 200, &yes, 2, -1, 0, 900}},
		{"redirect loop", tg.url("/loop"), "", want{contract.ReasonRedirectError, -1, nil, -1, -1, 0, 1100}},
		{"timeout", tg.url("/slow?d=10s"), "", want{contract.ReasonTimeout, 0, nil, 0, -1, 900, 3000}},
		{"closed port", tg.closed, "", want{contract.ReasonConnectionRefused, 0, nil, 0, -1, 0, 900}},
		{"unknown host", "http://unreachable.invalid/", "", want{contract.ReasonDNSError, 0, nil, 0, -1, 0, 1100}},
		{"self-signed TLS", tg.tls.URL + "/ok", "", want{contract.ReasonTLSError, 0, nil, 0, -1, 0, 900}},
		{"big body", tg.url("/big?bytes=5000000"), "", want{contract.ReasonOK, 200, nil, 0, 65536, 0, 1100}},
		{"invalid url", "http://exa mple.com/", "", want{contract.ReasonInvalidConfig, 0, nil, 0, -1, -1, 100}},
		{"invalid url 2", "http://[::1", "", want{contract.ReasonInvalidConfig, 0, nil, 0, -1, -1, 100}},
		{"invalid regex", tg.url("/ok"), "(", want{contract.ReasonInvalidConfig, 0, nil, 0, -1, -1, 100}},
	}
	ids := make([]int64, len(cases))
	for i, c := range cases {
		ids[i] = e.addSite(c.url, 5, c.regex)
	}
	bodyLimit := []string{"SITESTAT_CHECK_MAX_BODY=65536"}
	e.mustRun(bodyLimit, "check", "--once")
	e.mustRun(append(bodyLimit, "SITESTAT_CHECK_SKIP_STATUS=404"), "check", "--once")

	sync := e.start("sync", nil, "sync")
	c := e.waitSynced(60 * time.Second)
	sync.stop()

	for i, tc := range cases {
		rows, ok := e.rows("WHERE website_id = $1", ids[i])
		if !ok {
			t.Fatal("read rows")
		}
		wantRows := 2
		if tc.want.status == 404 {
			wantRows = 1 // the second run skips 404
		}
		if len(rows) != wantRows {
			t.Errorf("%s: %d rows, want %d", tc.name, len(rows), wantRows)
			continue
		}
		for _, r := range rows {
			checkRow(t, tc.name, r, tc.want.reason, tc.want.status, tc.want.matched, tc.want.redirects, tc.want.bodyBytes, tc.want.minMs, tc.want.maxMs)
		}
	}
	c.sites = len(cases)
	record(t, c)
}

// checkRow asserts on one row: typed columns, request_info and their agreement.
func checkRow(t *testing.T, name string, r row, reason contract.Reason, status int, matched *bool, redirects int, bodyBytes int64, minMs, maxMs float64) {
	t.Helper()
	res := r.result
	if r.reason != string(reason) || res.Reason != reason {
		t.Errorf("%s: reason %q (request_info %q), want %q; error %q", name, r.reason, res.Reason, reason, res.Error)
	}
	if r.up != (reason == contract.ReasonOK) || res.Up != r.up {
		t.Errorf("%s: up %t (request_info %t)", name, r.up, res.Up)
	}
	switch {
	case status > 0:
		if !r.statusCode.Valid || int(r.statusCode.Int64) != status || res.StatusCode == nil || *res.StatusCode != status {
			t.Errorf("%s: status_code %v (request_info %v), want %d", name, r.statusCode, res.StatusCode, status)
		}
	case status == 0:
		if r.statusCode.Valid || res.StatusCode != nil {
			t.Errorf("%s: status_code %v, want NULL", name, r.statusCode)
		}
	}
	if !reflect.DeepEqual(res.RegexMatched, matched) {
		t.Errorf("%s: regex_matched %s, want %s", name, fmtBool(res.RegexMatched), fmtBool(matched))
	}
	if redirects >= 0 && res.Redirects != redirects {
		t.Errorf("%s: redirects %d, want %d", name, res.Redirects, redirects)
	}
	if bodyBytes >= 0 && res.BodyBytes != bodyBytes {
		t.Errorf("%s: body_bytes %d, want %d", name, res.BodyBytes, bodyBytes)
	}
	ms := r.respMs.Float64
	if !r.respMs.Valid || math.Abs(ms-res.ResponseTimeMs) > 0.01*math.Max(1, ms) {
		t.Errorf("%s: response_time_ms %v, request_info %v", name, r.respMs, res.ResponseTimeMs)
	}
	if ms < minMs || ms > maxMs || (minMs >= 0 && ms <= 0) {
		t.Errorf("%s: response_time_ms %.1f, want within [%.0f, %.0f]", name, ms, minMs, maxMs)
	}
	if !r.ts.Equal(res.CheckedAt.Truncate(time.Microsecond)) && r.ts.Sub(res.CheckedAt).Abs() > time.Microsecond {
		t.Errorf("%s: timestamp_utc %s, checked_at %s", name, r.ts, res.CheckedAt)
	}
	if r.websiteID != res.WebsiteID || r.checkID != res.CheckID {
		t.Errorf("%s: website_id/check_id %d/%s, request_info %d/%s", name, r.websiteID, r.checkID, res.WebsiteID, res.CheckID)
	}
	if reason != contract.ReasonOK && res.Error == "" {
		t.Errorf("%s: reason %s with an empty error", name, reason)
	}
}

func fmtBool(b *bool) string {
	if b == nil {
		return "null"
	}
	return strconv.FormatBool(*b)
}

// TestSerialDataFormat reads the results topic and compares every message,
// decoded with contract.Decode, with its row: request_info is the message and
// the typed columns are its fields.
func TestSerialDataFormat(t *testing.T) {
	e := newEnv(t)
	tg := newTargets(t)
	for _, u := range []string{tg.url("/ok"), tg.url("/status/503"), tg.url("/redirect/1"), tg.tls.URL + "/ok", tg.closed} {
		e.addSite(u, 5, "good")
	}
	e.mustRun(nil, "check", "--once")
	e.mustRun(nil, "check", "--once")
	sync := e.start("sync", nil, "sync")
	c := e.waitSynced(60 * time.Second)
	sync.stop()

	rows, ok := e.rows("")
	if !ok {
		t.Fatal("read rows")
	}
	byID := map[string]row{}
	for _, r := range rows {
		byID[r.checkID] = r
	}
	msgs := e.topicMessages(e.topic)
	if len(msgs) != 10 || len(rows) != 10 {
		t.Fatalf("%d messages, %d rows; want 10 and 10", len(msgs), len(rows))
	}
	for _, m := range msgs {
		res, err := contract.Decode(m.Key, m.Value)
		if err != nil {
			t.Errorf("message %d/%d does not decode: %v", m.Partition, m.Offset, err)
			continue
		}
		if string(m.Key) != strconv.FormatInt(res.WebsiteID, 10) {
			t.Errorf("key %q, website_id %d", m.Key, res.WebsiteID)
		}
		r, ok := byID[res.CheckID]
		if !ok {
			t.Errorf("check %s is not stored", res.CheckID)
			continue
		}
		var fromMsg, fromRow map[string]any
		if err := json.Unmarshal(m.Value, &fromMsg); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(r.info), &fromRow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromMsg, fromRow) {
			t.Errorf("check %s: request_info differs from the message\nmessage:      %s\nrequest_info: %s", res.CheckID, m.Value, r.info)
		}
		for _, k := range []string{"v", "check_id", "website_id", "url", "checked_at", "probe", "up", "reason",
			"status_code", "response_time_ms", "phases_ms", "redirects", "final_url", "body_bytes", "regex_matched", "error"} {
			if _, ok := fromMsg[k]; !ok {
				t.Errorf("check %s: message lacks %q", res.CheckID, k)
			}
		}
		status := 0
		if res.StatusCode != nil {
			status = *res.StatusCode
		}
		if r.websiteID != res.WebsiteID || r.up != res.Up || r.reason != string(res.Reason) ||
			r.statusCode.Valid != (res.StatusCode != nil) || int(r.statusCode.Int64) != status ||
			math.Abs(r.respMs.Float64-res.ResponseTimeMs) > 0.01*math.Max(1, res.ResponseTimeMs) ||
			r.ts.Sub(res.CheckedAt).Abs() > time.Microsecond {
			t.Errorf("check %s: typed columns %s differ from the message %+v", res.CheckID, describe(r), res)
		}
		if !strings.HasPrefix(res.Probe, "e2e-") || res.V != contract.Version {
			t.Errorf("check %s: probe %q v %d", res.CheckID, res.Probe, res.V)
		}
		if strings.HasPrefix(res.URL, "https://") && res.Reason == contract.ReasonTLSError && res.TLSVersion != "" {
			t.Logf("tls error with version %s", res.TLSVersion)
		}
	}
	c.sites = 5
	record(t, c)
}

func describe(r row) string {
	return fmt.Sprintf("{website_id:%d ts:%s up:%t reason:%s status:%v ms:%v}", r.websiteID, r.ts, r.up, r.reason, r.statusCode, r.respMs)
}
