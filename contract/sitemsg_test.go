package contract_test

import (
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
)

func TestSiteMessageRoundTrip(t *testing.T) {
	s := contract.Site{ID: 42, URL: "https://u:p@example.com/", Interval: 7 * time.Second, Regex: "ok"}
	b := contract.EncodeSite(s)
	if got, want := string(b), `{"v":1,"id":42,"url":"https://u:p@example.com/","interval_s":7,"regex":"ok"}`; got != want {
		t.Fatalf("EncodeSite = %s, want %s", got, want)
	}
	got, err := contract.DecodeSite(42, b)
	if err != nil || got != s {
		t.Fatalf("DecodeSite = %+v, %v; want %+v", got, err, s)
	}
	id, err := contract.ParseSiteKey(contract.SiteKey(42))
	if err != nil || id != 42 {
		t.Fatalf("ParseSiteKey(SiteKey(42)) = %d, %v", id, err)
	}
}

func TestDecodeSiteRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   int64
		value string
	}{
		{"not json", 1, `{`},
		{"newer version", 1, `{"v":2,"id":1,"url":"http://a/","interval_s":5}`},
		{"no version", 1, `{"id":1,"url":"http://a/","interval_s":5}`},
		{"no id", 1, `{"v":1,"url":"http://a/","interval_s":5}`},
		{"id differs from key", 2, `{"v":1,"id":1,"url":"http://a/","interval_s":5}`},
		{"no url", 1, `{"v":1,"id":1,"interval_s":5}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := contract.DecodeSite(tc.key, []byte(tc.value)); err == nil {
				t.Fatalf("DecodeSite(%s) = %+v, want an error", tc.value, s)
			}
		})
	}
	for _, key := range []string{"", "0", "-3", "x1"} {
		if _, err := contract.ParseSiteKey([]byte(key)); err == nil {
			t.Errorf("ParseSiteKey(%q): no error", key)
		}
	}
}
