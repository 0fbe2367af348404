package condition

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// body64K is a 64 KB JSON health document: a status first, then many
// components, then a last entry at the very end.
func body64K() []byte {
	var b strings.Builder
	b.WriteString(`{"status":"UP","components":[`)
	for i := 0; b.Len() < 64<<10-100; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"component-%d","status":"UP","tags":["a","b"],"latency_ms":%d.5},`, i, i, i%100)
	}
	b.WriteString(`{"id":42,"name":"last","status":"UP"}]}`)
	return []byte(b.String())
}

func benchSet(b *testing.B, exprs ...string) *Set {
	set, err := ParseSet(exprs)
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// BenchmarkEvaluate compares one plain status check with three conditions
// reading a 64 KB JSON body, with the path near the start (the usual
// health document) and at its very end (the worst case: one full pass).
func BenchmarkEvaluate(b *testing.B) {
	in := &Input{Status: 200, ResponseTime: 20 * time.Millisecond, Body: body64K()}
	cases := []struct {
		name string
		set  *Set
	}{
		{"plain-status", benchSet(b, "[STATUS] == 200")},
		{"three-json-path-at-start", benchSet(b, "[STATUS] == 200", "[BODY].status == UP", "[RESPONSE_TIME] < 500")},
		{"three-json-path-at-end", benchSet(b, "[STATUS] == 200", "[BODY].components[700].id > 0", "[RESPONSE_TIME] < 500")},
		{"three-json-len-whole-array", benchSet(b, "[STATUS] == 200", "len([BODY].components) > 0", "[RESPONSE_TIME] < 500")},
		{"pattern-over-body", benchSet(b, "[STATUS] == 200", "[BODY] == pat(*\"last\"*)", "[RESPONSE_TIME] < 500")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.Body)))
			b.ReportAllocs()
			for b.Loop() {
				if ok, outs := c.set.Evaluate(in); !ok {
					b.Fatalf("not ok: %+v", outs)
				}
			}
		})
	}
}

// BenchmarkGET puts those costs beside the request they follow: a GET of
// the same 64 KB body from a local server on a fresh connection, reading
// the body, as the checker does; then the same GET followed by the three
// conditions.
func BenchmarkGET(b *testing.B) {
	body := body64K()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(b *testing.B) *Input {
		start := time.Now()
		resp, err := client.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		got, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		return &Input{Status: resp.StatusCode, ResponseTime: time.Since(start), Body: got, Header: resp.Header}
	}
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			get(b)
		}
	})
	for _, path := range []string{"[BODY].status == UP", "[BODY].components[700].id > 0"} {
		set := benchSet(b, "[STATUS] == 200", path, "[RESPONSE_TIME] < 500")
		b.Run("three-conditions/"+strings.Fields(path)[0], func(b *testing.B) {
			for b.Loop() {
				if ok, outs := set.Evaluate(get(b)); !ok {
					b.Fatalf("not ok: %+v", outs)
				}
			}
		})
	}
}
