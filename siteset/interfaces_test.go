package siteset_test

import (
	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/siteset"
)

// A Set is the Runner's source of sites and is told when they change; the
// check sits in a test so that siteset does not import the prober.
var (
	_ checker.SiteSource   = (*siteset.Set)(nil)
	_ checker.SiteNotifier = (*siteset.Set)(nil)
)
