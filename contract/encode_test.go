package contract

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

// fillAll sets every field of v that encoding/json writes to a non-zero
// value, recursively, so a field appendJSON does not know shows up.
func fillAll(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() || sf.Tag.Get("json") == "-" {
			continue
		}
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(time.Date(2026, 11, 27, 15, 4, 5, 123456789, time.UTC)))
		case f.Kind() == reflect.Pointer:
			p := reflect.New(f.Type().Elem())
			if p.Elem().Kind() == reflect.Struct && p.Elem().Type() != reflect.TypeOf(time.Time{}) {
				fillAll(t, p.Elem())
			} else {
				fillValue(t, p.Elem())
			}
			f.Set(p)
		case f.Kind() == reflect.Struct:
			fillAll(t, f)
		default:
			fillValue(t, f)
		}
	}
}

func fillValue(t *testing.T, f reflect.Value) {
	t.Helper()
	switch f.Kind() {
	case reflect.String:
		f.SetString("x<&>é\u2028")
	case reflect.Int, reflect.Int64:
		f.SetInt(7)
	case reflect.Float64:
		f.SetFloat(1.25)
	case reflect.Bool:
		f.SetBool(true)
	case reflect.Struct: // time.Time
		f.Set(reflect.ValueOf(time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)))
	default:
		t.Fatalf("fillValue: add a case for %s: appendJSON and this test must learn the new field's type", f.Type())
	}
}

// TestAppendJSON checks that the hand-written encoder writes exactly what
// json.Marshal writes, for every field and for the values whose encoding is
// delicate.
func TestAppendJSON(t *testing.T) {
	var all Result
	fillAll(t, reflect.ValueOf(&all).Elem())
	code := 200
	matched := false
	notAfter := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := func() Result {
		return Result{V: Version, CheckID: "0b7a3c2e-1d4f-4a5b-9c8d-7e6f5a4b3c2d", WebsiteID: 42,
			URL: "https://example.com/a?b=1", CheckedAt: time.Date(2026, 11, 27, 15, 4, 5, 120000000, time.UTC),
			Probe: "eu-1", Up: true, Reason: ReasonOK, StatusCode: &code, ResponseTimeMs: 12.5, FinalURL: "https://example.com/a"}
	}
	cases := map[string]func(*Result){
		"every field":       func(r *Result) { *r = all },
		"zero":              func(r *Result) { *r = Result{} },
		"typical":           func(*Result) {},
		"nil pointers":      func(r *Result) { r.StatusCode, r.RegexMatched, r.CertNotAfter = nil, nil, nil },
		"regex and tls":     func(r *Result) { r.RegexMatched, r.TLSVersion, r.CertNotAfter = &matched, "TLS 1.3", &notAfter },
		"html characters":   func(r *Result) { r.URL = "https://example.com/?a=1&b=<2>" },
		"quotes, controls":  func(r *Result) { r.Error = "say \"hi\"\\\n\t\r\b\f\x01\x7f" },
		"unicode":           func(r *Result) { r.FinalURL = "https://bücher.example/日本\u2028\u2029" },
		"invalid utf-8":     func(r *Result) { r.Error = "bad \xff\xfe bytes" },
		"tiny floats":       func(r *Result) { r.ResponseTimeMs, r.PhasesMs.DNSMs = 1e-7, 0.000001 },
		"huge floats":       func(r *Result) { r.ResponseTimeMs, r.PhasesMs.TTFBMs = 1e21, 123456789012345678901.0 },
		"negative floats":   func(r *Result) { r.ResponseTimeMs, r.PhasesMs.ConnectMs = -0.5, math.Copysign(0, -1) },
		"long fractions":    func(r *Result) { r.ResponseTimeMs = 0.1 + 0.2 },
		"negative ints":     func(r *Result) { r.Redirects, r.BodyBytes, r.WebsiteID = -1, -9, math.MinInt64 },
		"time with offset":  func(r *Result) { r.CheckedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)) },
		"time without nsec": func(r *Result) { r.CheckedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			r := base()
			change(&r)
			want, err := json.Marshal(&r)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := r.appendJSON(nil)
			if !ok {
				t.Fatal("appendJSON gave up")
			}
			if string(got) != string(want) {
				t.Errorf("appendJSON:\n got %s\nwant %s", got, want)
			}
			enc, err := r.Encode()
			if err != nil || string(enc) != string(want) {
				t.Errorf("Encode = %s, %v", enc, err)
			}
		})
	}
	// What it leaves to encoding/json: Encode still fails as json.Marshal does.
	for name, change := range map[string]func(*Result){
		"NaN":      func(r *Result) { r.ResponseTimeMs = math.NaN() },
		"infinity": func(r *Result) { r.PhasesMs.TLSMs = math.Inf(1) },
	} {
		r := base()
		change(&r)
		if _, ok := r.appendJSON(nil); ok {
			t.Errorf("%s: appendJSON did not give up", name)
		}
		if _, err := r.Encode(); err == nil {
			t.Errorf("%s: Encode = nil error", name)
		}
	}
	r := base()
	r.CheckedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := r.appendJSON(nil); ok {
		t.Error("year 10000: appendJSON did not give up")
	}
}

func BenchmarkEncode(b *testing.B) {
	code := 200
	r := Result{V: Version, CheckID: "0b7a3c2e-1d4f-4a5b-9c8d-7e6f5a4b3c2d", WebsiteID: 42,
		URL: "http://127.0.0.1:18080/ok?site=42", CheckedAt: time.Now().UTC(), Probe: "bench", Up: true, Reason: ReasonOK,
		StatusCode: &code, ResponseTimeMs: 1.234567, PhasesMs: Phases{ConnectMs: 0.123, TTFBMs: 0.456, TransferMs: 0.01},
		FinalURL: "http://127.0.0.1:18080/ok?site=42", BodyBytes: 3}
	b.Run("appendJSON", func(b *testing.B) {
		for range b.N {
			_, _ = r.appendJSON(make([]byte, 0, 512))
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for range b.N {
			_, _ = json.Marshal(&r)
		}
	})
}
