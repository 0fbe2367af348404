package condition

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEvaluate follows Gatus's own table (config/endpoint/condition_test.go)
// where we agree with it, and adds the cases where we differ.
func TestEvaluate(t *testing.T) {
	body := func(s string) Input { return Input{Body: []byte(s)} }
	tests := []struct {
		name, cond string
		in         Input
		ok         bool
		detail     string // on failure
	}{
		{"ip", "[IP] == 127.0.0.1", Input{IP: "127.0.0.1"}, true, ""},
		{"status", "[STATUS] == 200", Input{Status: 200}, true, ""},
		{"status failure", "[STATUS] == 200", Input{Status: 503}, false, "[STATUS] (503) == 200"},
		{"status lower case", "[status] == 200", Input{Status: 200}, true, ""},
		{"status less than", "[STATUS] < 300", Input{Status: 201}, true, ""},
		{"status less than failure", "[STATUS] < 300", Input{Status: 404}, false, "[STATUS] (404) < 300"},
		{"response time", "[RESPONSE_TIME] < 500", Input{ResponseTime: 50 * time.Millisecond}, true, ""},
		{"response time duration", "[RESPONSE_TIME] < 1s", Input{ResponseTime: 50 * time.Millisecond}, true, ""},
		{"response time greater", "[RESPONSE_TIME] > 1s", Input{ResponseTime: 2 * time.Second}, true, ""},
		{"response time >= equal", "[RESPONSE_TIME] >= 500", Input{ResponseTime: 500 * time.Millisecond}, true, ""},
		{"response time >= failure", "[RESPONSE_TIME] >= 500", Input{ResponseTime: 499 * time.Millisecond}, false, "[RESPONSE_TIME] (499) >= 500"},
		{"response time <= equal", "[RESPONSE_TIME] <= 500", Input{ResponseTime: 500 * time.Millisecond}, true, ""},
		{"response time <= failure", "[RESPONSE_TIME] <= 500", Input{ResponseTime: 750 * time.Millisecond}, false, "[RESPONSE_TIME] (750) <= 500"},
		{"body", "[BODY] == test", body("test\n"), true, ""},
		{"body failure", "[BODY] == test", body("nope"), false, "[BODY] (nope) == test"},
		{"body numerical", "[BODY] == 123", body("123"), true, ""},
		{"body numerical less than", "[BODY] < 124", body("123"), true, ""},
		{"body numerical greater failure", "[BODY] > 123", body("100"), false, "[BODY] (100) > 123"},
		{"jsonpath", "[BODY].status == UP", body(`{"status":"UP"}`), true, ""},
		{"jsonpath failure", "[BODY].status == UP", body(`{"status":"DOWN"}`), false, "[BODY].status (DOWN) == UP"},
		{"jsonpath complex", "[BODY].data.name == john", body(`{"data": {"id": 1, "name": "john"}}`), true, ""},
		{"jsonpath missing", "[BODY].data.name == john", body(`{"data": {"id": 1}}`), false, "[BODY].data.name (INVALID: no such value) == john"},
		{"jsonpath missing len", "len([BODY].data.name) == 4", body(`{"data": {"id": 1}}`), false, "len([BODY].data.name) (INVALID: no such value) == 4"},
		{"jsonpath missing with !=", "[BODY].data.name != john", body(`{"data": {}}`), false, "[BODY].data.name (INVALID: no such value) != john"},
		{"two placeholders", "[BODY].user.firstName != [BODY].user.lastName", body(`{"user": {"firstName": "john", "lastName": "doe"}}`), true, ""},
		{"two placeholders failure", "[BODY].user.firstName == [BODY].user.lastName", body(`{"user": {"firstName": "john", "lastName": "doe"}}`), false, "[BODY].user.firstName (john) == [BODY].user.lastName (doe)"},
		{"body is array", "[BODY][0].id == 1", body(`[{"id": 1}, {"id": 2}]`), true, ""},
		{"null value", "[BODY].data == OK", body(`{"data": null}`), false, "[BODY].data (INVALID: null) == OK"},
		{"array of null", "[BODY].items[0] == OK", body(`{"items": [null, null]}`), false, "[BODY].items[0] (INVALID: null) == OK"},
		{"body is null", "[BODY].data == OK", body(`null`), false, "[BODY].data (INVALID: no such value) == OK"},
		{"index into object", "[BODY][0].name == test", body(`{"statusCode": 500}`), false, "[BODY][0].name (INVALID: no such value) == test"},
		{"not json", "[BODY].status == UP", body(`<html>hello</html>`), false, "[BODY].status (INVALID: body is not JSON (at byte 0)) == UP"},
		{"truncated json", "[BODY].status == UP", body(`{"a": [1, 2, 3`), false, "[BODY].status (INVALID: body is not JSON (it ends early, at byte 14)) == UP"},
		{"json int", "[BODY].data.id == 1", body(`{"data": {"id": 1}}`), true, ""},
		{"json array int", "[BODY].data[1].id == 2", body(`{"data": [{"id": 1}, {"id": 2}, {"id": 3}]}`), true, ""},
		{"issue example", "[BODY].data[0].id == 42", body(`{"data":[{"id":42.0}]}`), true, ""},
		{"nested arrays", "[BODY].m[1][0] == 3", body(`{"m":[[1,2],[3,4]]}`), true, ""},
		{"json greater", "[BODY].data.id > 0", body(`{"data": {"id": 1}}`), true, ""},
		{"hex string", "[BODY].data == 15", body(`{"data": "0xF"}`), true, ""},
		{"hex literal", "[BODY].data > 0x1", body(`{"data": 2}`), true, ""},
		{"octal prefix", "[BODY].data == 2", body(`{"data": "0o2"}`), true, ""},
		{"binary prefix", "[BODY].data == 0b10", body(`{"data": "0b0010"}`), true, ""},
		{"leading zero is decimal", "[BODY].data == 10", body(`{"data": "010"}`), true, ""},
		{"decimal not truncated", "[BODY].balance > 123.4", body(`{"balance": 123.40000000000005}`), true, ""},
		{"decimal not truncated failure", "[BODY].balance > 123.5", body(`{"balance": "123.4"}`), false, "[BODY].balance (123.4) > 123.5"},
		{"big integers exact", "[BODY].n > 12345678901234567890", body(`{"n": 12345678901234567891}`), true, ""},
		{"exponent", "[BODY].n == 1000", body(`{"n": 1e3}`), true, ""},
		{"not a number beside <", "[BODY].n < 5", body(`{"n": "abc"}`), false, "[BODY].n (INVALID: not a number: abc) < 5"},
		{"json bool", "[BODY].deleted == false", body(`{"deleted": false}`), true, ""},
		{"escaped string", `[BODY].s == a"b`, body(`{"s": "a\"b", "t": 1}`), true, ""},
		{"escaped key", "[BODY].ab == 1", body(`{"a\u0062": 1}`), true, ""},
		{"connected", "[CONNECTED] == true", Input{Connected: true}, true, ""},
		{"connected failure", "[CONNECTED] == true", Input{}, false, "[CONNECTED] (false) == true"},
		{"cert not set", "[CERTIFICATE_EXPIRATION] == 0", Input{}, true, ""},
		{"cert duration", "[CERTIFICATE_EXPIRATION] > 12h", Input{CertificateExpiration: 24 * time.Hour}, true, ""},
		{"cert duration failure", "[CERTIFICATE_EXPIRATION] > 48h", Input{CertificateExpiration: 24 * time.Hour}, false, "[CERTIFICATE_EXPIRATION] (24h) > 48h"},
		{"cert 14 days", "[CERTIFICATE_EXPIRATION] > 2419200000", Input{CertificateExpiration: 14 * 24 * time.Hour}, false, "[CERTIFICATE_EXPIRATION] (336h) > 2419200000"},
		{"cert minutes", "[CERTIFICATE_EXPIRATION] > 2h", Input{CertificateExpiration: 90 * time.Minute}, false, "[CERTIFICATE_EXPIRATION] (1h30m) > 2h"},
		{"len body path", "len([BODY].data.name) == 4", body(`{"data": {"name": "john"}}`), true, ""},
		{"len body array", "len([BODY]) == 3", body(`[{"id": 1}, {"id": 2}, {"id": 3}]`), true, ""},
		{"len keyed array", "len([BODY].data) == 3", body(`{"data": [{"id": 1}, {"id": 2}, {"id": 3}]}`), true, ""},
		{"len empty array", "len([BODY].items) > 0", body(`{"items": [ ]}`), false, "len([BODY].items) (0) > 0"},
		{"len nonempty array", "len([BODY].items) > 0", body(`{"items": [[1,2],{"a":[3]},"x,y"]}`), true, ""},
		{"len body string", "len([BODY]) == 8", body("john.doe"), true, ""},
		{"len keyed string", "len([BODY].name) == 8", body(`{"name": "john.doe"}`), true, ""},
		{"len keyed int", "len([BODY].age) == 2", body(`{"age":18}`), true, ""},
		{"len keyed bool", "len([BODY].adult) == 4", body(`{"adult":true}`), true, ""},
		{"len object", "len([BODY]) == 20", body(`{"name": "john.doe"}`), true, ""},
		{"len object in array", "len([BODY][0]) == 23", body(`[{"age":18,"adult":true}]`), true, ""},
		{"len status", "len([STATUS]) == 3", Input{Status: 200}, true, ""},
		{"pat body", "[BODY] == pat(*john*)", body(`{"name": "john.doe"}`), true, ""},
		{"pat body path", "[BODY].name == pat(john*)", body(`{"name": "john.doe"}`), true, ""},
		{"pat failure", "[BODY].name == pat(bob*)", body(`{"name": "john.doe"}`), false, "[BODY].name (john.doe) == pat(bob*)"},
		{"pat html", `[BODY] == pat(*<div id="user">john.doe</div>*)`, body(`<html><body><div id="user">john.doe</div></body></html>`), true, ""},
		{"pat on the left", `pat(*<div id="user">john.doe</div>*) == [BODY]`, body(`<html><body>nope</body></html>`), false, `pat(*<div id="user">john.doe</div>*) == [BODY] (<html><body>nope</body></html>)`},
		{"pat with a slash", "[BODY] == pat(*a/b*)", body("xx a/b yy"), true, ""},
		{"pat star", "[BODY] == pat(*)", body(""), true, ""},
		{"pat in array", "[BODY].data == pat(*Whatever*)", body(`{"data": ["hello", "world", "Whatever"]}`), true, ""},
		{"pat ip", "[IP] == pat(10.*)", Input{IP: "10.0.0.1"}, true, ""},
		{"pat status", "[STATUS] == pat(2*)", Input{Status: 204}, true, ""},
		{"pat status failure", "[STATUS] == pat(4*)", Input{Status: 200}, false, "[STATUS] (200) == pat(4*)"},
		{"pat with != holds", "[STATUS] != pat(5*)", Input{Status: 200}, true, ""},
		{"any", "[STATUS] == any(200, 429)", Input{Status: 429}, true, ""},
		{"any reversed", "any(200, 429) == [STATUS]", Input{Status: 429}, true, ""},
		{"any failure", "[STATUS] == any(200, 429)", Input{Status: 404}, false, "[STATUS] (404) == any(200, 429)"},
		{"any body", "[BODY].name == any(john.doe, jane.doe)", body(`{"name": "jane.doe"}`), true, ""},
		{"has absent", "has([BODY].errors) == false", body("{}"), true, ""},
		{"has present", "has([BODY].errors) == false", body(`{"errors": ["1"]}`), false, "has([BODY].errors) (true) == false"},
		{"has on not json", "has([BODY].errors) == false", body("oops"), true, ""},
		{"has body", "has([BODY]) == true", body(" "), false, "has([BODY]) (false) == true"},
		{"dns rcode", "[DNS_RCODE] == NOERROR", Input{DNS: true, DNSRcode: "NOERROR"}, true, ""},
		{"dns any answer", "[BODY] == 93.184.216.34", Input{DNS: true, DNSAnswers: []string{"93.184.216.34", "10.0.0.1"}}, true, ""},
		{"dns first answer only", "[BODY] == 10.0.0.1", Input{DNS: true, DNSAnswers: []string{"93.184.216.34", "10.0.0.1"}}, true, ""},
		{"dns no answer", "[BODY] == 1.2.3.4", Input{DNS: true, DNSAnswers: []string{"5.6.7.8", "9.9.9.9"}}, false, "[BODY] (5.6.7.8, 9.9.9.9) == 1.2.3.4"},
		{"dns none equal", "[BODY] != 1.2.3.4", Input{DNS: true, DNSAnswers: []string{"5.6.7.8"}}, true, ""},
		{"dns one equal", "[BODY] != 5.6.7.8", Input{DNS: true, DNSAnswers: []string{"1.1.1.1", "5.6.7.8"}}, false, "[BODY] (1.1.1.1, 5.6.7.8) != 5.6.7.8"},
		{"dns pattern", "[BODY] == pat(*.*.*.*)", Input{DNS: true, DNSAnswers: []string{"mail.example.", "1.2.3.4"}}, true, ""},
		{"dns len", "len([BODY]) == 2", Input{DNS: true, DNSAnswers: []string{"a", "b"}}, true, ""},
		{"header", "[HEADER].Content-Type == pat(application/json*)", Input{Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}, true, ""},
		{"header any case", "[HEADER].x-served-by == edge1", Input{Header: http.Header{"X-Served-By": {"edge1"}}}, true, ""},
		{"header missing", "[HEADER].X-Cache == HIT", Input{Header: http.Header{}}, false, "[HEADER].X-Cache (INVALID: no such header) == HIT"},
		{"has header", "has([HEADER].X-Cache) == false", Input{}, true, ""},
		{"hostile value shown safely", "[BODY].s == ok", body(`{"s": "\u001b[2J` + strings.Repeat("x", 100) + `"}`), false, `[BODY].s (\x1b[2J` + strings.Repeat("x", 56) + "…) == ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.cond)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.cond, err)
			}
			ok, outs := NewSet(c).Evaluate(&tt.in)
			if got, want := ok, tt.ok; got != want {
				t.Errorf("%s: ok = %v, want %v (%q)", tt.cond, got, want, outs[0].Detail)
			}
			if got, want := outs[0].Detail, tt.detail; got != want {
				t.Errorf("%s: detail\n got %q\nwant %q", tt.cond, got, want)
			}
			if outs[0].Condition != tt.cond || outs[0].Success != ok {
				t.Errorf("outcome %+v does not match the condition", outs[0])
			}
		})
	}
}
