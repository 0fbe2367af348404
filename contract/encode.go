package contract

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// appendJSON appends r's message value to b exactly as json.Marshal writes
// it, without reflection: Encode runs for every check, and encoding/json
// took 2.7% of a checker's CPU under load. It reports false, leaving the
// work to json.Marshal, for what it does not handle itself: NaN and
// infinite numbers (json.Marshal's error), and times outside years 0-9999.
// Strings that need escaping are escaped by encoding/json. TestAppendJSON
// compares the two on every field, so a field added to Result without
// being added here fails the test.
func (r *Result) appendJSON(b []byte) ([]byte, bool) {
	ok := true
	str := func(key, s string) {
		b = append(b, key...)
		b = appendJSONString(b, s)
	}
	num := func(key string, f float64) {
		b = append(b, key...)
		var fine bool
		b, fine = appendJSONFloat(b, f)
		ok = ok && fine
	}
	tim := func(key string, t time.Time) {
		b = append(b, key...)
		if y := t.Year(); y < 0 || y > 9999 {
			ok = false
			return
		}
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.V), 10)
	str(`,"check_id":`, r.CheckID)
	b = append(b, `,"website_id":`...)
	b = strconv.AppendInt(b, r.WebsiteID, 10)
	str(`,"url":`, r.URL)
	tim(`,"checked_at":`, r.CheckedAt)
	str(`,"probe":`, r.Probe)
	str(`,"host":`, r.Host)
	b = append(b, `,"up":`...)
	b = strconv.AppendBool(b, r.Up)
	str(`,"reason":`, string(r.Reason))
	b = append(b, `,"status_code":`...)
	if r.StatusCode == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*r.StatusCode), 10)
	}
	num(`,"response_time_ms":`, r.ResponseTimeMs)
	num(`,"phases_ms":{"dns":`, r.PhasesMs.DNSMs)
	num(`,"connect":`, r.PhasesMs.ConnectMs)
	num(`,"tls":`, r.PhasesMs.TLSMs)
	num(`,"ttfb":`, r.PhasesMs.TTFBMs)
	num(`,"transfer":`, r.PhasesMs.TransferMs)
	b = append(b, `},"redirects":`...)
	b = strconv.AppendInt(b, int64(r.Redirects), 10)
	str(`,"final_url":`, r.FinalURL)
	b = append(b, `,"body_bytes":`...)
	b = strconv.AppendInt(b, r.BodyBytes, 10)
	b = append(b, `,"regex_matched":`...)
	if r.RegexMatched == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendBool(b, *r.RegexMatched)
	}
	str(`,"error":`, r.Error)
	if r.TLSVersion != "" {
		str(`,"tls_version":`, r.TLSVersion)
	}
	if r.CertNotAfter != nil {
		tim(`,"cert_not_after":`, *r.CertNotAfter)
	}
	if r.StartedAt != nil {
		tim(`,"started_at":`, *r.StartedAt)
	}
	if r.LagMs != nil {
		num(`,"lag_ms":`, *r.LagMs)
	}
	b = append(b, '}')
	return b, ok
}

// appendJSONString appends s as a JSON string. Printable ASCII other than
// the characters encoding/json escapes (" \ < > &) is copied; any other
// string is left to encoding/json, so the bytes are always the same.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json does (its floatEncoder for
// float64); false for NaN and infinities, which JSON cannot hold.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}
