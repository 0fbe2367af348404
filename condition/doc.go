// Package condition evaluates the conditions of a check, in Gatus's syntax,
// against what the check observed.
//
// A condition is two operands around one operator, with a space on each
// side of it:
//
//	[STATUS] == 200                 [STATUS] == any(200, 429)
//	[STATUS] < 300                  [RESPONSE_TIME] < 500
//	[BODY] == pat(*ok*)             [BODY].status == UP
//	[BODY].data[0].id == 42         len([BODY].items) > 0
//	has([BODY].errors) == false     [CERTIFICATE_EXPIRATION] > 48h
//	[CONNECTED] == true             [IP] == 10.0.0.1
//	[DNS_RCODE] == NOERROR          [BODY] == 93.184.216.34
//	[HEADER].Content-Type == pat(application/json*)
//
// How the integrator calls it:
//
//  1. When a site is added or loaded, parse its conditions once:
//     set, err := condition.ParseSet(exprs). A refused condition is a
//     *SyntaxError wrapped as "condition 2: position 9: unknown placeholder
//     [STATU]" (errors.As gives Pos, 1-based). `sites add` prints that line
//     and exits 2; a site read from the table with a bad condition is
//     invalid_config for that site only.
//  2. The prober checks the site as usual, keeping the body (capped as
//     always) when set.ReadsBody(), and fills an Input: status, response
//     time, body, header, certificate time left, connected, IP, and for DNS
//     DNS=true with the rcode and the answers.
//  3. ok, outcomes := set.Evaluate(&in). The check is up only when ok (and
//     whatever else it requires). When not, condition.FirstFailure(outcomes)
//     gives the Outcome whose Detail ("[STATUS] (503) == 200") goes in the
//     result's error with reason condition_failed; outcomes map one to one
//     onto the result's conditions: [{"condition", "success"}].
//
// Evaluate never fails and never panics: a condition that cannot be
// evaluated (the body is not JSON, the path is missing, a value beside < is
// not a number) is a failed Outcome whose Detail says why, as in
// "[BODY].db (INVALID: no such value) == ok". Every JSON path of a Set is
// found in one pass over the body, which stops as soon as all are found; the
// body is not decoded into Go values. Actual values in a Detail are cut to
// MaxShown characters and their control characters escaped, since a monitored
// site controls them.
//
// The package follows Gatus (config/endpoint/condition.go, placeholder.go
// and jsonpath/) except where the README's "Checks" table says otherwise:
// numbers compare as exact decimals, a DNS [BODY] holds when any answer
// does, a value that cannot be evaluated fails the condition (even beside
// !=), and conditions Gatus would silently evaluate to false are refused
// when parsed.
package condition
