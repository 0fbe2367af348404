package condition

import (
	"strconv"
	"strings"
)

// maxPathSegments bounds a JSON path, and so the depth the scanner walks.
const maxPathSegments = 32

// segment is one step of a JSON path: a key of an object or an index of an
// array.
type segment struct {
	key   string
	index int
	isIdx bool
}

// parsePath reads the part of a [BODY] placeholder after "[BODY]" as Gatus
// does: keys separated by dots, each optionally followed by [N] indices
// ("data[0].id", "[0].name", "matrix[1][2]"). pos is the 1-based position of
// p in the condition, for errors.
func parsePath(p string, pos int) ([]segment, error) {
	if p == "" {
		return nil, nil
	}
	rest := p
	off := pos
	if rest[0] == '.' {
		rest, off = rest[1:], off+1
	} else if rest[0] != '[' {
		return nil, errAt(pos, "expected . or [ after [BODY]")
	}
	var segs []segment
	for _, part := range splitKeys(rest) {
		s, err := parseKey(part, off)
		if err != nil {
			return nil, err
		}
		segs = append(segs, s...)
		off += len(part) + 1
	}
	if len(segs) > maxPathSegments {
		return nil, errAt(pos, "JSON path longer than "+strconv.Itoa(maxPathSegments)+" steps")
	}
	return segs, nil
}

// splitKeys splits a path at the dots outside brackets.
func splitKeys(p string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				parts = append(parts, p[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, p[start:])
}

// parseKey reads one dot-separated part: an optional key then [N]s.
func parseKey(part string, pos int) ([]segment, error) {
	key, idx, _ := strings.Cut(part, "[")
	if key == "" && idx == "" && !strings.Contains(part, "[") {
		return nil, errAt(pos, "empty key in JSON path")
	}
	if strings.ContainsAny(key, "] \t") {
		return nil, errAt(pos, "bad key "+quote(key)+" in JSON path")
	}
	var segs []segment
	if key != "" {
		segs = append(segs, segment{key: key})
	}
	if !strings.Contains(part, "[") {
		return segs, nil
	}
	rest := part[len(key):]
	at := pos + len(key)
	for rest != "" {
		end := strings.IndexByte(rest, ']')
		if rest[0] != '[' || end < 0 {
			return nil, errAt(at, "bad index in JSON path (want [N])")
		}
		n, err := strconv.Atoi(rest[1:end])
		if err != nil || n < 0 || rest[1] == '+' || rest[1] == '-' {
			return nil, errAt(at+1, "bad index "+quote(rest[1:end])+" in JSON path (want a number from 0)")
		}
		segs = append(segs, segment{index: n, isIdx: true})
		at += end + 1
		rest = rest[end+1:]
	}
	return segs, nil
}

// pathString writes segs back in the path syntax, for keys of the set.
func pathString(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		if s.isIdx {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		b.WriteByte('.')
		b.WriteString(s.key)
	}
	return b.String()
}
