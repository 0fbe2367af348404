package store_test

import (
	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/store"
)

// DB is the checker's source of sites; the check sits in a test so that
// store does not import the prober.
var _ checker.SiteSource = (*store.DB)(nil)
