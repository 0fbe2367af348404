package web

import (
	"net/http"

	"github.com/sitestat/sitestat/store"
)

// Private websites (websites.public false) are shown to authenticated
// requests only: every list leaves them out for the others, and every route
// of one answers them as it answers an id no website has.

// visible reports whether site may be shown to r.
func (s *Server) visible(r *http.Request, site store.SiteStatus) bool {
	return site.Public || s.authenticated(r)
}

// visibleSites returns the websites of sites r may see, in order.
func (s *Server) visibleSites(r *http.Request, sites []store.SiteStatus) []store.SiteStatus {
	if s.authenticated(r) {
		return sites
	}
	out := sites[:0:0]
	for _, site := range sites {
		if site.Public {
			out = append(out, site)
		}
	}
	return out
}

// incidentQuery is q limited to the incidents r may see.
func (s *Server) incidentQuery(r *http.Request, q store.IncidentQuery) store.IncidentQuery {
	q.PublicOnly = !s.authenticated(r)
	return q
}
