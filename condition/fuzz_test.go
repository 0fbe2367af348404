package condition

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzParse: Parse and Evaluate never panic; what parses prints back as
// written, and every outcome is consistent and bounded. Seeds are here and
// in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[STATUS] == 200", "[STATUS] == any(200, 429)", "[STATUS] < 300", "[RESPONSE_TIME] < 500",
		"[BODY] == pat(*ok*)", "[BODY].status == UP", "[BODY].data[0].id == 42", "len([BODY].items) > 0",
		"has([BODY].errors) == false", "[CERTIFICATE_EXPIRATION] > 48h", "[CONNECTED] == true",
		"[IP] == 10.0.0.1", "[DNS_RCODE] == NOERROR", "[BODY] == 93.184.216.34", "[HEADER].X-A == b",
		"[BODY][0][1].a >= -1.5e3", "pat(*(*) == [BODY]", "[BODY].a.b.c != 0x1F",
	} {
		f.Add(s, `{"status":"UP","data":[{"id":42}],"items":[1],"a":{"b":{"c":31}}}`)
	}
	f.Fuzz(func(t *testing.T, expr, body string) {
		c, err := Parse(expr)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "position ") {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		if c.String() != expr {
			t.Fatalf("String() = %q, want %q", c.String(), expr)
		}
		for _, in := range []Input{
			{Status: 200, ResponseTime: time.Second, Body: []byte(body), Header: http.Header{"X-A": {body}}, IP: body},
			{DNS: true, DNSRcode: "NOERROR", DNSAnswers: []string{body, "1.2.3.4"}},
		} {
			ok, outs := NewSet(c, c).Evaluate(&in)
			if len(outs) != 2 || ok != outs[0].Success || outs[0] != outs[1] {
				t.Fatalf("inconsistent: %v %+v", ok, outs)
			}
			if outs[0].Success != (outs[0].Detail == "") {
				t.Fatalf("success %v with detail %q", outs[0].Success, outs[0].Detail)
			}
			if limit := len(expr) + 2*(4*MaxShown+64); len(outs[0].Detail) > limit {
				t.Fatalf("detail of %d bytes, more than %d", len(outs[0].Detail), limit)
			}
		}
	})
}

// FuzzJSONPath: where encoding/json decodes the body and finds a string,
// number or bool at a key, the one-pass scanner finds the same.
func FuzzJSONPath(f *testing.F) {
	f.Add(`{"a":"x","b":[1,2,{"a":3}]}`, "a")
	f.Add(`{"b":{"a":"\u00e9\"","a":1},"a":true}`, "a")
	f.Add(`[{"a":1e2}]`, "a")
	f.Fuzz(func(t *testing.T, body, key string) {
		if !isToken(key) || strings.ContainsAny(key, ".[]") {
			return
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		if dec.Decode(&m) != nil || dec.More() || hasDuplicateTopKeys(body) {
			return
		}
		want, ok := m[key]
		if !ok {
			return
		}
		c, err := Parse("[BODY]." + key + " == x")
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		_, _, ev := NewSet(c).evaluate(&Input{Body: []byte(body)})
		got, why := ev.json(0)
		switch w := want.(type) {
		case string:
			if got.kind != jString || got.text() != w {
				t.Fatalf("[BODY].%s = %v %q (%s), want string %q", key, got.kind, got.text(), why, w)
			}
		case json.Number:
			if d, _ := parseDecimal(w.String()); got.kind != jNumber || !same(got.text(), w.String()) || cmpDecimal(d, d) != 0 {
				t.Fatalf("[BODY].%s = %v %q, want number %s", key, got.kind, got.text(), w)
			}
		case bool:
			if got.kind != jBool || got.text() != map[bool]string{true: "true", false: "false"}[w] {
				t.Fatalf("[BODY].%s = %q, want %v", key, got.text(), w)
			}
		}
	})
}

// hasDuplicateTopKeys is a cheap guard: encoding/json keeps the last of a
// duplicated key, the scanner the first; skip bodies where that could differ.
func hasDuplicateTopKeys(body string) bool {
	dec := json.NewDecoder(strings.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		k, _ := tok.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return true
		}
	}
	return false
}
