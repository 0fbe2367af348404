package store

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// The latency histogram of the rollups has fixed logarithmic buckets:
// bucket 0 holds response times below histMin milliseconds, and bucket
// b ≥ 1 holds [histMin·histGrowth^(b-1), histMin·histGrowth^b). A bucket is
// read back as the value whose relative distance to both of its bounds is
// the same (the harmonic mean of the bounds), so any value read from it, and
// so any percentile, is within (histGrowth-1)/(histGrowth+1) < 4.8% of the
// true one, for response times of at least histMin.
const (
	histMin    = 0.1 // milliseconds
	histGrowth = 1.1
	// histMaxBucket caps the bucket index: 0.1 ms × 1.1^255 is about 3.6e9 ms,
	// far above any check timeout.
	histMaxBucket = 255
)

// histSQLBucket is the SQL expression of histBucket for a real column rt; the
// rebuild from raw rows uses it.
const histSQLBucket = "CASE WHEN %[1]s IS NULL THEN NULL WHEN %[1]s < 0.1 THEN 0 " +
	"ELSE least(255, floor(ln(%[1]s::float8 / 0.1) / ln(1.1))::int + 1) END"

// histBucket returns the bucket of a response time in milliseconds.
func histBucket(ms float64) int {
	if !(ms >= histMin) { // also NaN
		return 0
	}
	b := int(math.Floor(math.Log(ms/histMin)/math.Log(histGrowth))) + 1
	return min(b, histMaxBucket)
}

// histValue returns the value a bucket is read back as.
func histValue(b int) float64 {
	if b <= 0 {
		return histMin / 2
	}
	lo := histMin * math.Pow(histGrowth, float64(b-1))
	hi := lo * histGrowth
	return 2 * lo * hi / (lo + hi)
}

// Histogram counts response times per bucket. The zero value is empty.
type Histogram map[int]int64

// Add counts one response time.
func (h Histogram) Add(ms float64) { h[histBucket(ms)]++ }

// Merge adds the counts of o to h.
func (h Histogram) Merge(o Histogram) {
	for b, n := range o {
		h[b] += n
	}
}

// Count returns how many values h holds.
func (h Histogram) Count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile returns the q-quantile (0 < q ≤ 1) by the nearest-rank method,
// within 4.8% of the true value; ok is false when h is empty.
func (h Histogram) Quantile(q float64) (v float64, ok bool) {
	total := h.Count()
	if total == 0 {
		return 0, false
	}
	rank := int64(math.Ceil(q * float64(total)))
	rank = max(1, min(rank, total))
	buckets := make([]int, 0, len(h))
	for b := range h {
		buckets = append(buckets, b)
	}
	sort.Ints(buckets)
	var seen int64
	for _, b := range buckets {
		seen += h[b]
		if seen >= rank {
			return histValue(b), true
		}
	}
	return histValue(buckets[len(buckets)-1]), true
}

// encode returns h as stored: sorted elements bucket << 32 | count.
func (h Histogram) encode() []int64 {
	out := make([]int64, 0, len(h))
	for b, n := range h {
		if n > 0 {
			out = append(out, int64(b)<<32|n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// encodeText returns h as a PostgreSQL array literal of its encoding.
func (h Histogram) encodeText() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range h.encode() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(e, 10))
	}
	b.WriteByte('}')
	return b.String()
}

// decodeHistogram adds a stored histogram to h.
func (h Histogram) addEncoded(enc []int64) {
	for _, e := range enc {
		h[int(e>>32)] += e & 0xffffffff
	}
}
