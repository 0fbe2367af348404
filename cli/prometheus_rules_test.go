package cli

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// promtool returns the path of promtool (Debian package prometheus). It
// skips the test when it is missing, and fails under CI=true.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is missing: apt-get install -y prometheus (make test installs it)")
		}
		t.Skip("promtool is missing: apt-get install -y prometheus")
	}
	return p
}

// TestPrometheusRules checks docs/prometheus-rules.yml with promtool and
// runs its unit tests (docs/prometheus-rules.test.yml): every alert fires on
// the failure it describes and stays quiet on a healthy system.
func TestPrometheusRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "prometheus-rules.yml"},
		{"test", "rules", "prometheus-rules.test.yml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "../docs"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestPrometheusRulesNameOnlyOurMetrics checks that every sitestat_* metric
// the rules use is one that check, sync or the notification loop exports.
func TestPrometheusRulesNameOnlyOurMetrics(t *testing.T) {
	rules, err := os.ReadFile("../docs/prometheus-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	var cs []prometheus.Collector
	cs = append(cs, checkMetrics(nil, nil)...)
	cs = append(cs, syncMetrics(nil)...)
	cs = append(cs, notifyMetrics(nil)...)
	fqName := regexp.MustCompile(`fqName: "([a-z0-9_:]+)"`)
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 10)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				exported[m[1]] = true
			}
		}
	}
	if len(exported) < 10 {
		t.Fatalf("found only %d exported metrics: %v", len(exported), exported)
	}
	used := regexp.MustCompile(`\bsitestat_[a-z0-9_]+`).FindAllString(string(rules), -1)
	if len(used) == 0 {
		t.Fatal("the rules use no sitestat metric")
	}
	for _, name := range used {
		if !exported[name] {
			t.Errorf("the rules use %s, which sitestat does not export", name)
		}
	}
}
