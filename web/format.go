package web

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sitestat/sitestat/internal/redact"
	"github.com/sitestat/sitestat/store"
)

// label is how a website is named on the page: its name, else its URL
// through showURL (when URLs are public), else "website ID".
func (s *Server) label(id int64, name, url string) string {
	switch {
	case name != "":
		return name
	case s.opts.PublicURLs:
		return s.showURL(url)
	}
	return "website " + strconv.FormatInt(id, 10)
}

// publicURL is the URL shown, "" when URLs are hidden.
func (s *Server) publicURL(url string) string {
	if !s.opts.PublicURLs {
		return ""
	}
	return s.showURL(url)
}

// showURL is url through redact.URL: no user info, and query values
// masked unless PublicQuery.
func (s *Server) showURL(url string) string {
	return redact.URL(url, s.queryMode())
}

func (s *Server) queryMode() redact.QueryMode {
	if s.opts.PublicQuery {
		return redact.KeepQuery
	}
	return redact.MaskQuery
}

// scrub makes an error text read from the database fit to show. When URLs
// are hidden it is "": an error may name the host, its IP addresses, the
// up_regex or a checker's host name, so the page shows the reason only.
// Otherwise every URL in it goes through redact.Text (an error may
// quote the site's URL, or a redirect's).
func (s *Server) scrub(text string) string {
	if text == "" || !s.opts.PublicURLs {
		return ""
	}
	return redact.Text(text, s.queryMode())
}

// pct renders an uptime, "–" when there is none.
func pct(v *float64) string {
	if v == nil {
		return "–"
	}
	switch {
	case *v == 100:
		return "100%"
	case *v >= 99:
		return fmt.Sprintf("%.2f%%", *v)
	}
	return fmt.Sprintf("%.1f%%", *v)
}

// ms renders a response time, "–" when there is none.
func ms(v *float64) string {
	if v == nil {
		return "–"
	}
	if *v >= 1000 {
		return fmt.Sprintf("%.2f s", *v/1000)
	}
	return fmt.Sprintf("%.0f ms", *v)
}

// duration renders an incident's length: "45s", "12m", "3h 5m", "2d 4h".
func duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours()/24), int(d.Hours())%24)
}

// windowName renders a window: "24h", "30d".
func windowName(d time.Duration) string {
	if d%(24*time.Hour) == 0 && d >= 48*time.Hour {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return fmt.Sprintf("%dh", d/time.Hour)
}

// parseWindow reads a window of the API and badges: 1h to 8760h as "Nh", or
// 1d to 365d as "Nd".
func parseWindow(s string) (time.Duration, bool) {
	unit := time.Hour
	n, ok := strings.CutSuffix(s, "h")
	if !ok {
		if n, ok = strings.CutSuffix(s, "d"); !ok {
			return 0, false
		}
		unit = 24 * time.Hour
	}
	v, err := strconv.Atoi(n)
	if err != nil || v < 1 {
		return 0, false
	}
	d := time.Duration(v) * unit
	return d, d <= 365*24*time.Hour
}

// band is the CSS class of an uptime, by band.
func band(v *float64) string {
	switch {
	case v == nil:
		return "none"
	case *v >= 99.9:
		return "b100"
	case *v >= 99:
		return "b99"
	case *v >= 95:
		return "b95"
	}
	return "blow"
}

// dayTitle is the title of one day of the 90-day bar.
func dayTitle(d store.DayStatus) string {
	if d.Checks == 0 {
		return d.Day.Format("2006-01-02") + ": no checks"
	}
	return fmt.Sprintf("%s: %s up, %d checks", d.Day.Format("2006-01-02"), pct(d.UptimePct()), d.Checks)
}
