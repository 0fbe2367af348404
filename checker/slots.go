package checker

import (
	"crypto/sha1"
	"hash/fnv"
	"strconv"
	"time"
)

// Shared slots: every process of a probe computes the same times for a
// site's checks, so that two processes that briefly both own a site (during
// a rebalance of the sites topic's consumer group) make the same check, with
// the same CheckID and CheckedAt, and sync stores it once.
//
// A site's slots are epoch + offset + k·interval (k an integer), where the
// epoch is the Unix epoch and offset = FNV-1a-64("<site id>/<probe>") mod
// interval, in whole milliseconds. The offset spreads the sites of a probe
// over the interval (and one site's probes apart), like the random start it
// replaces, but reproducibly.

// SlotOffset returns the offset of site's slots within interval for probe.
func SlotOffset(site int64, probe string, interval time.Duration) time.Duration {
	ms := interval.Milliseconds()
	if ms <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write(strconv.AppendInt(nil, site, 10))
	h.Write([]byte{'/'})
	h.Write([]byte(probe))
	return time.Duration(h.Sum64()%uint64(ms)) * time.Millisecond
}

// SlotAt returns the first slot of site for probe at or after t.
func SlotAt(site int64, probe string, interval time.Duration, t time.Time) time.Time {
	if interval <= 0 {
		return t
	}
	base := time.Unix(0, 0).Add(SlotOffset(site, probe, interval))
	d := t.Sub(base)
	k := d / interval // truncated: the floor above zero, the ceiling below
	if k*interval < d {
		k++
	}
	return base.Add(k * interval).UTC()
}

// slotNamespace is the UUIDv5 namespace of check ids: UUIDv5 of the URL
// namespace and "https://sitestat.dev/check-id" (TestSlotCheckID checks it
// against github.com/google/uuid).
var slotNamespace = [16]byte{0x2a, 0x91, 0x5a, 0x62, 0xfe, 0x0a, 0x57, 0x9f, 0xa3, 0x1a, 0xa5, 0xc9, 0xe1, 0xbd, 0x20, 0x2d}

// SlotCheckID returns the CheckID of the check of site by probe in slot:
// the UUIDv5 (SHA-1, RFC 9562) of the name "<site id>/<probe>/<slot as Unix
// milliseconds>" in the check-id namespace.
func SlotCheckID(site int64, probe string, slot time.Time) string {
	name := strconv.AppendInt(nil, site, 10)
	name = append(name, '/')
	name = append(name, probe...)
	name = append(name, '/')
	name = strconv.AppendInt(name, slot.UnixMilli(), 10)
	return uuidV5(slotNamespace, name)
}

// uuidV5 is RFC 9562's name-based UUID with SHA-1, in canonical text form.
func uuidV5(ns [16]byte, name []byte) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write(name)
	var b [16]byte
	copy(b[:], h.Sum(nil))
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}
