package web

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/store"
)

// label is how a website is named on the page: its name, else its URL with
// the password redacted (when URLs are public), else "website ID".
func (s *Server) label(id int64, name, url string) string {
	switch {
	case name != "":
		return name
	case s.opts.PublicURLs:
		return stripUserinfo(url)
	}
	return "website " + strconv.FormatInt(id, 10)
}

// publicURL is the URL shown, "" when URLs are hidden. Its user info (user
// name and password) is never shown.
func (s *Server) publicURL(url string) string {
	if !s.opts.PublicURLs {
		return ""
	}
	return stripUserinfo(url)
}

// stripUserinfo removes the user info of the URLs in text: the page shows
// neither a password nor the user name that goes with it.
func stripUserinfo(text string) string {
	return userinfo.ReplaceAllString(text, "${1}")
}

var (
	// userinfo matches the user info of a URL in free text (up to the last
	// "@" of the authority, as url.Parse reads it).
	userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s]*@`)
	// anyURL matches a URL in free text.
	anyURL = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)
)

// scrub makes a text read from the database (an error may quote URLs) fit
// to show: the user info of the URLs in it removed (the site's own URL also
// where it is quoted redacted, or cut), and, when URLs are hidden, the URLs
// themselves replaced by "[url]".
func (s *Server) scrub(url, text string) string {
	if text == "" {
		return text
	}
	if url != "" {
		text = strings.ReplaceAll(text, url, stripUserinfo(url))
		text = strings.ReplaceAll(text, checker.RedactURL(url), stripUserinfo(url))
	}
	text = stripUserinfo(text)
	if !s.opts.PublicURLs {
		text = anyURL.ReplaceAllString(text, "[url]")
	}
	return text
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

// round returns v rounded to digits decimals, nil for nil: what the API
// shows of a percentage or a time.
func round(v *float64, digits int) *float64 {
	if v == nil {
		return nil
	}
	p := math.Pow(10, float64(digits))
	r := math.Round(*v*p) / p
	return &r
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
