package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/store"
)

func TestWindowName(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{24 * time.Hour, "24h"}, {36 * time.Hour, "36h"}, {48 * time.Hour, "2d"}, {90 * 24 * time.Hour, "90d"},
		{time.Hour, "1h"}, {90 * time.Minute, "1h30m"}, {45 * time.Second, "45s"},
	} {
		if got := WindowName(c.d); got != c.want {
			t.Errorf("WindowName(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// TestShow: what a Show hides never reaches the JSON, and Round rounds.
func TestShow(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pct, p95 := 99.123456, 123.456
	s := store.SiteStatus{ID: 7, URL: "https://u:pw@secret.example/?k=v", Interval: time.Minute, Checks: 4,
		UptimePct: &pct, P95ResponseMs: &p95, Downtime: 90*time.Second + 600*time.Millisecond,
		Probes: []store.ProbeStatus{{Probe: "eu", Last: store.LastCheck{Reason: "timeout", CheckedAt: now.Add(-time.Minute),
			Error: "dial secret.example: timeout", Host: "checker-1"}, FailStreak: 1}}}
	s.Last = &s.Probes[0].Last
	hide := func(string) string { return "" }
	for _, c := range []struct {
		name    string
		show    Show
		has     []string
		hasNone []string
	}{
		{"hidden", Show{URL: hide, Text: hide, Round: true},
			[]string{`"uptime_pct":99.123`, `"p95_ms":123.5`, `"downtime_seconds":90`, `"interval_seconds":60`, `"state":"failing"`},
			[]string{"secret", "checker-1", `"url"`, `"host"`, "pw"}},
		{"shown", Show{URL: func(u string) string { return "https://secret.example/" }, Text: func(t string) string { return t }, Hosts: true},
			[]string{`"url":"https://secret.example/"`, `"host":"checker-1"`, `"uptime_pct":99.123456`, `"error":"dial secret.example: timeout"`},
			[]string{"pw"}},
	} {
		b, err := json.Marshal(SiteOf(s, 24*time.Hour, nil, now, c.show))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range c.has {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s: %s lacks %s", c.name, b, want)
			}
		}
		for _, bad := range c.hasNone {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s: %s has %s", c.name, b, bad)
			}
		}
	}
}
