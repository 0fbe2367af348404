package condition

import (
	"strconv"
	"strings"
	"time"
)

// maxExponent bounds the exponent of a number read by parseDecimal, so that
// "1e999999999999" is text rather than a number nobody can compare cheaply.
const maxExponent = 1_000_000

// decimal is an exact decimal number, kept as the digits it was written
// with: value = ±(intPart.fracPart) × 10^exp. Comparing two decimals never
// rounds, so 0.1 + nothing == 0.10 and 12345678901234567891 > 12345678901234567890.
type decimal struct {
	neg      bool
	intPart  string
	fracPart string
	exp      int
}

// parseDecimal reads s as a decimal number: an optional sign, digits with an
// optional fraction and exponent (JSON's grammar, plus a leading "+" and a
// bare "5." or ".5"), or an integer with a 0x, 0o or 0b prefix as Gatus
// accepts. A leading zero does not mean octal: "010" is ten.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if s == "" {
		return d, false
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		d.neg = body[0] == '-'
		body = body[1:]
	}
	if len(body) > 2 && body[0] == '0' && strings.ContainsRune("xXoObB", rune(body[1])) {
		return parsePrefixed(s)
	}
	mant, expText, hasExp := cutAny(body, "eE")
	d.intPart, d.fracPart, _ = strings.Cut(mant, ".")
	if d.intPart == "" && d.fracPart == "" || !allDigits(d.intPart) || !allDigits(d.fracPart) {
		return decimal{}, false
	}
	if hasExp {
		e, ok := parseExponent(expText)
		if !ok {
			return decimal{}, false
		}
		d.exp = e
	}
	return d, true
}

// parsePrefixed reads a 0x, 0o or 0b integer, as strconv.ParseInt with base 0.
func parsePrefixed(s string) (decimal, bool) {
	if strings.Contains(s, "_") {
		return decimal{}, false
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return decimal{}, false
	}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = -u
	}
	return decimal{neg: neg, intPart: strconv.FormatUint(u, 10)}, true
}

// cutAny is strings.Cut at the first byte of seps.
func cutAny(s, seps string) (before, after string, found bool) {
	if i := strings.IndexAny(s, seps); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseExponent reads an exponent's optional sign and digits, bounded by
// maxExponent.
func parseExponent(s string) (int, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || len(s) > 7 || !allDigits(s) {
		return 0, false
	}
	e, _ := strconv.Atoi(s)
	if e > maxExponent {
		return 0, false
	}
	if neg {
		e = -e
	}
	return e, true
}

// durationMillis is d in milliseconds as an exact decimal ("1.5ms" is 1.5).
func durationMillis(d time.Duration) decimal {
	neg := d < 0
	u := uint64(d)
	if neg {
		u = -u
	}
	return decimal{neg: neg, intPart: strconv.FormatUint(u, 10), exp: -6}
}

// digit returns the i-th digit of intPart followed by fracPart.
func (d decimal) digit(i int) byte {
	if i < len(d.intPart) {
		return d.intPart[i]
	}
	return d.fracPart[i-len(d.intPart)]
}

// norm returns the index of the first significant digit, the index after
// the last one, and the position of the decimal point relative to the first
// significant digit (the number is 0.DDD × 10^mag). A zero has first == end.
func (d decimal) norm() (first, end, mag int) {
	n := len(d.intPart) + len(d.fracPart)
	for first < n && d.digit(first) == '0' {
		first++
	}
	end = n
	for end > first && d.digit(end-1) == '0' {
		end--
	}
	return first, end, len(d.intPart) - first + d.exp
}

// cmpDecimal returns -1, 0 or +1 as a is less than, equal to or greater
// than b.
func cmpDecimal(a, b decimal) int {
	af, ae, am := a.norm()
	bf, be, bm := b.norm()
	aZero, bZero := af == ae, bf == be
	switch {
	case aZero && bZero:
		return 0
	case aZero:
		return sign(!b.neg) * -1
	case bZero:
		return sign(!a.neg)
	case a.neg != b.neg:
		return sign(b.neg)
	}
	c := cmpMagnitude(a, af, ae, am, b, bf, be, bm)
	if a.neg {
		return -c
	}
	return c
}

// sign is +1 for true and -1 for false.
func sign(positive bool) int {
	if positive {
		return 1
	}
	return -1
}

// cmpMagnitude compares two non-zero absolute values given their norm.
func cmpMagnitude(a decimal, af, ae, am int, b decimal, bf, be, bm int) int {
	if am != bm {
		if am < bm {
			return -1
		}
		return 1
	}
	for i := 0; ; i++ {
		ai, bi := af+i, bf+i
		switch {
		case ai >= ae && bi >= be:
			return 0
		case ai >= ae:
			return -1
		case bi >= be:
			return 1
		}
		if da, db := a.digit(ai), b.digit(bi); da != db {
			if da < db {
				return -1
			}
			return 1
		}
	}
}
