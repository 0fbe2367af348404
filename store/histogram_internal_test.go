package store

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestHistogramQuantileError: for values of at least 0.1 ms, any quantile
// read from the histogram is within 5% of the exact nearest-rank quantile,
// over distributions of different shapes.
func TestHistogramQuantileError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := map[string]func() float64{
		"uniform":     func() float64 { return 0.1 + rng.Float64()*30000 },
		"exponential": func() float64 { return 0.1 + rng.ExpFloat64()*200 },
		"lognormal":   func() float64 { return 0.1 + math.Exp(rng.NormFloat64()*2+4) },
		"bimodal": func() float64 {
			if rng.IntN(10) == 0 {
				return 10000
			}
			return 20 + rng.Float64()*5
		},
	}
	worst := 0.0
	for name, gen := range shapes {
		h := Histogram{}
		vals := make([]float64, 5000)
		for i := range vals {
			vals[i] = gen()
			h.Add(vals[i])
		}
		sort.Float64s(vals)
		for _, q := range []float64{0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
			exact := vals[max(0, int(math.Ceil(q*float64(len(vals))))-1)]
			got, ok := h.Quantile(q)
			if !ok {
				t.Fatalf("%s: empty", name)
			}
			rel := math.Abs(got-exact) / exact
			worst = max(worst, rel)
			if rel > 0.05 {
				t.Errorf("%s q%.3f = %.4f, exact %.4f: error %.2f%% > 5%%", name, q, got, exact, 100*rel)
			}
		}
	}
	t.Logf("worst relative error %.2f%%", 100*worst)
	if _, ok := (Histogram{}).Quantile(0.5); ok {
		t.Error("an empty histogram has a median")
	}
	// Merging is adding.
	a, b := Histogram{}, Histogram{}
	a.Add(1)
	b.Add(1)
	b.Add(1000)
	a.Merge(b)
	if a.Count() != 3 || a[histBucket(1)] != 2 {
		t.Errorf("merged = %v", a)
	}
	var back Histogram = Histogram{}
	back.addEncoded(a.encode())
	if len(back) != len(a) || back[histBucket(1000)] != 1 {
		t.Errorf("encode round trip = %v, want %v", back, a)
	}
}
