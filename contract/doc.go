// Package contract is sitestat's wire format: what travels between its
// roles. It holds the websites sitestat watches (Site) and what makes one
// checkable (Site.Validate), the check result that `sitestat check` produces
// and `sitestat sync` stores (Result, its closed list of Reasons, Encode and
// the strict Decode), the site message of the compacted sites topic
// (SiteMessage, EncodeSite, DecodeSite) and the heartbeat of every check
// process (Heartbeat).
//
// It is a leaf: it imports the standard library only, so the database, the
// web page and the Kafka consumers read results without depending on the
// HTTP prober (package checker) that makes them. TestLayout holds it so.
package contract
