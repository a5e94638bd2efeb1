package ops

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestAlertRulesUseExportedMetrics: every fernetflow_* metric the example
// alert rules query is one this package exports (a renamed metric would
// leave an alert that never fires, which promtool's tests cannot see).
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../../examples/prometheus/fernetflow.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc, 100)
	(&statusCollector{}).Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	var exported []string
	for d := range ch {
		exported = append(exported, fq.FindStringSubmatch(d.String())[1])
	}
	used := regexp.MustCompile(`fernetflow_[a-z_]+`).FindAllString(string(b), -1)
	if len(used) < 5 {
		t.Fatalf("the rules use %d metrics: %v", len(used), used)
	}
	for _, m := range used {
		if !slices.Contains(exported, m) {
			t.Errorf("the alert rules query %s, which fernetflow does not export (it exports %s)", m, strings.Join(exported, ", "))
		}
	}
}
