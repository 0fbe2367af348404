package checker_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sitestat/sitestat/checker"
)

func TestSlotAt(t *testing.T) {
	iv := 5 * time.Second
	off := checker.SlotOffset(42, "eu", iv)
	if off < 0 || off >= iv || off%time.Millisecond != 0 {
		t.Fatalf("SlotOffset = %v, want whole milliseconds in [0, %v)", off, iv)
	}
	if a, b := checker.SlotOffset(42, "eu", iv), checker.SlotOffset(42, "us", iv); a == b && checker.SlotOffset(43, "eu", iv) == a {
		t.Errorf("offsets do not depend on site and probe: %v", a)
	}
	onGrid := func(ts time.Time) bool { return (ts.UnixNano()-int64(off))%int64(iv) == 0 }
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"now", time.Now()},
		{"on a slot", time.Unix(1_800_000_000, 0).Add(off)},
		{"just after a slot", time.Unix(1_800_000_000, 0).Add(off + time.Nanosecond)},
		{"before the epoch", time.Unix(-7, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := checker.SlotAt(42, "eu", iv, tc.at)
			if !onGrid(s) || s.Before(tc.at) || s.Sub(tc.at) >= iv {
				t.Fatalf("SlotAt(%v) = %v: want the first slot at or after it (offset %v)", tc.at, s, off)
			}
			if again := checker.SlotAt(42, "eu", iv, s); !again.Equal(s) {
				t.Errorf("SlotAt(a slot) = %v, want the slot itself %v", again, s)
			}
		})
	}
}

// TestSlotCheckID: the id is the UUIDv5 of "<site>/<probe>/<slot ms>" in the
// documented namespace, as github.com/google/uuid computes it; equal for
// equal inputs, different otherwise.
func TestSlotCheckID(t *testing.T) {
	ns := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://sitestat.dev/check-id"))
	slot := time.UnixMilli(1_800_000_000_123)
	got := checker.SlotCheckID(42, "eu-west", slot)
	if want := uuid.NewSHA1(ns, []byte("42/eu-west/1800000000123")).String(); got != want {
		t.Fatalf("SlotCheckID = %s, want %s", got, want)
	}
	if checker.SlotCheckID(42, "eu-west", slot) != got {
		t.Error("SlotCheckID is not deterministic")
	}
	for _, other := range []string{checker.SlotCheckID(43, "eu-west", slot), checker.SlotCheckID(42, "us-east", slot),
		checker.SlotCheckID(42, "eu-west", slot.Add(time.Second))} {
		if other == got {
			t.Errorf("SlotCheckID collides: %s", other)
		}
	}
}
