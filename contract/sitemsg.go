package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// SiteMessageVersion is the version of SiteMessage this code writes.
const SiteMessageVersion = 1

// SiteMessage is a site as published on the compacted sites topic
// (SITESTAT_KAFKA_SITES_TOPIC): the record's key is the website id in decimal
// (SiteKey), its value this message as JSON; a record with no value (a
// tombstone) says the site was removed. It is the contract between the
// publisher (sync, from the websites table) and `check` with
// SITESTAT_CHECK_SOURCE=kafka. The URL may carry credentials: the topic must
// be readable only by sitestat's own users.
type SiteMessage struct {
	// V is the message version, SiteMessageVersion; a reader refuses a
	// version newer than its own.
	V int `json:"v"`
	// ID is websites.id, the same number as the record's key.
	ID int64 `json:"id"`
	// URL is the address to GET, as stored.
	URL string `json:"url"`
	// IntervalS is check_interval, in seconds.
	IntervalS int64 `json:"interval_s"`
	// Regex is up_regex ("" for none).
	Regex string `json:"regex,omitempty"`
}

// SiteKey is the record key of site id on the sites topic.
func SiteKey(id int64) []byte { return strconv.AppendInt(nil, id, 10) }

// ParseSiteKey reads a record key written by SiteKey.
func ParseSiteKey(key []byte) (int64, error) {
	id, err := strconv.ParseInt(string(key), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("site key %q is not a positive decimal id", key)
	}
	return id, nil
}

// EncodeSite returns the sites-topic value of s. The encoding is
// deterministic, so two equal sites encode to equal bytes (the publisher
// compares bytes to decide what to publish).
func EncodeSite(s Site) []byte {
	b, err := json.Marshal(SiteMessage{V: SiteMessageVersion, ID: s.ID, URL: s.URL,
		IntervalS: int64(s.Interval / time.Second), Regex: s.Regex})
	if err != nil { // a struct of strings and integers always marshals
		panic(fmt.Sprintf("encode site: %v", err))
	}
	return b
}

// DecodeSite reads a sites-topic value. It refuses a newer version, a
// missing id or URL, and an id that differs from the key's (key 0: not
// compared).
func DecodeSite(key int64, value []byte) (Site, error) {
	var m SiteMessage
	if err := json.Unmarshal(value, &m); err != nil {
		return Site{}, fmt.Errorf("decode site: %w", err)
	}
	switch {
	case m.V < 1 || m.V > SiteMessageVersion:
		return Site{}, fmt.Errorf("decode site: version %d, this sitestat reads 1..%d", m.V, SiteMessageVersion)
	case m.ID <= 0:
		return Site{}, errors.New("decode site: no id")
	case key != 0 && m.ID != key:
		return Site{}, fmt.Errorf("decode site: id %d under key %d", m.ID, key)
	case m.URL == "":
		return Site{}, fmt.Errorf("decode site %d: no url", m.ID)
	}
	s := Site{ID: m.ID, URL: m.URL, Regex: m.Regex}
	if m.IntervalS > 0 && m.IntervalS <= int64(time.Duration(1<<62)/time.Second) {
		s.Interval = time.Duration(m.IntervalS) * time.Second
	}
	return s, nil
}
