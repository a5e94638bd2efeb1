package ops

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/fernetflow/fernetflow/internal/rotation"
)

// Metrics is fernetflow's Prometheus registry: the fleet's state, built
// on every scrape by a status function (Build), and the request latency
// of the HTTP servers it instruments. Its metrics carry no key material,
// no token, no envelope, and fingerprints not at all (generations only).
type Metrics struct {
	Registry *prometheus.Registry
	latency  *prometheus.HistogramVec
}

// StatusFunc builds the status a scrape reports.
type StatusFunc func(ctx context.Context) (*Status, error)

// Outcomes of fernetflow_last_rotation_outcome: one series each, 1 for
// the last rotation's.
var outcomes = []rotation.Outcome{rotation.Rotated, rotation.Resumed, rotation.Refused, rotation.Failed, rotation.NeedsAttention}

// warningCodes are the series of fernetflow_status_warnings.
var warningCodes = []string{WarnMaxActiveKeys, WarnOverdue, WarnNeverRotated, WarnNodeLagging, WarnNodeDisagrees, WarnPrimaryTooOld, WarnLastRefused, WarnLastFailed, WarnPruneGuard, WarnMasterNotReady, WarnNoReport}

// NewMetrics makes the registry; status is called on every scrape (nil:
// only the latency histograms). runtime adds Go's and the process's own
// metrics (go_*, process_*): for a server, never for a node-exporter
// textfile, where node-exporter's own would collide with them.
func NewMetrics(status StatusFunc, runtime bool) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fernetflow_http_request_duration_seconds",
		Help:    "Latency of the requests fernetflow serve answers, by server (mistral-api, action-server), method and status code.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"server", "method", "code"})
	m.Registry.MustRegister(m.latency)
	if runtime {
		m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if status != nil {
		m.Registry.MustRegister(&statusCollector{status: status})
	}
	return m
}

// Instrument wraps h so that its requests are timed under server.
func (m *Metrics) Instrument(server string, h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerDuration(m.latency.MustCurryWith(prometheus.Labels{"server": server}), h)
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// WriteTextfile writes the registry to path for node-exporter's textfile
// collector, atomically: a temporary file in the same directory (whose
// name does not end in .prom, so node-exporter skips it), synced, renamed
// into place with mode 0644, and the directory synced; node-exporter never
// reads half a file, and a crash leaves the old file or the new one.
func (m *Metrics) WriteTextfile(path string) error {
	mfs, err := m.Registry.Gather()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			return err
		}
	}
	dir := filepath.Dir(path)
	if err := renameio.WriteFile(path, b.Bytes(), 0o644, renameio.WithStaticPermissions(0o644), renameio.WithTempDir(dir)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// statusCollector reports a Status.
type statusCollector struct {
	status StatusFunc
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dUp             = desc("fernetflow_status_up", "1 when the status could be built (master, nodes, store read), 0 when not.")
	dNodeGen        = desc("fernetflow_node_generation", "The key set generation each node holds (as it last reported on Heat, read now on the local target).", "node")
	dNodeAgrees     = desc("fernetflow_node_agrees", "1 when the node holds the master's key set, 0 when it lags or disagrees.", "node")
	dNodeAge        = desc("fernetflow_node_report_age_seconds", "Age of what is known of the node: 0 for a repository read now, the age of the last report on Heat.", "node")
	dMasterGen      = desc("fernetflow_master_generation", "The master key set's generation.")
	dMaxActive      = desc("fernetflow_max_active_keys", "max_active_keys the status is judged by.")
	dPrimaryAge     = desc("fernetflow_primary_key_age_seconds", "Time since the master's primary key was promoted.")
	dStagedAge      = desc("fernetflow_staged_key_age_seconds", "Time since the master's staged key (0) was created.")
	dLastSuccess    = desc("fernetflow_last_successful_rotation_timestamp_seconds", "When the last successful rotation (rotated or resumed) ended, Unix time.")
	dLastRotation   = desc("fernetflow_last_rotation_timestamp_seconds", "When the last rotation run ended, whatever its outcome, Unix time.")
	dLastOutcome    = desc("fernetflow_last_rotation_outcome", "1 for the outcome of the last rotation run, 0 for the others.", "outcome")
	dLastDuration   = desc("fernetflow_last_rotation_duration_seconds", "How long the last rotation run took.")
	dDeliveries     = desc("fernetflow_deliveries_total", "Key set deliveries to nodes by result (installed, unchanged, failed), counted as they happen: rotate, serve's cron triggers and Mistral API, the action server.", "result")
	dRefused        = desc("fernetflow_rotations_refused_total", "Refused runs by reason (drifted, unreachable, prune_guard, ...), over every run recorded in the store.", "reason")
	dRuns           = desc("fernetflow_runs_total", "Runs of fernetflow's workflows by workflow and outcome, over every run recorded in the store.", "workflow", "outcome")
	dExecutions     = desc("fernetflow_executions", "Executions the store keeps, by state.", "state")
	dNextRotation   = desc("fernetflow_next_rotation_timestamp_seconds", "When the next rotation is scheduled (cron trigger or --schedule), Unix time.")
	dInterval       = desc("fernetflow_rotation_interval_seconds", "The longest gap between scheduled rotations (or the median of the master's history).")
	dNextFire       = desc("fernetflow_cron_trigger_next_fire_timestamp_seconds", "Next fire time of each cron trigger, Unix time.", "trigger", "workflow")
	dWarnings       = desc("fernetflow_status_warnings", "Warnings of fernetflow status by code (0 or more).", "code")
	dRunning        = desc("fernetflow_running_executions", "Executions of fernetflow's workflows not finished.")
	statusCollDescs = []*prometheus.Desc{dUp, dNodeGen, dNodeAgrees, dNodeAge, dMasterGen, dMaxActive, dPrimaryAge, dStagedAge, dLastSuccess, dLastRotation, dLastOutcome, dLastDuration, dDeliveries, dRefused, dRuns, dExecutions, dNextRotation, dInterval, dNextFire, dWarnings, dRunning}
)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range statusCollDescs {
		ch <- d
	}
}

// scrapeTimeout bounds the status a scrape builds.
const scrapeTimeout = 20 * time.Second

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := c.status(ctx)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if err != nil || s == nil {
		gauge(dUp, 0)
		return
	}
	gauge(dUp, 1)
	unix := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
	for _, n := range s.Nodes {
		gauge(dNodeGen, float64(n.Generation), n.Name)
		gauge(dNodeAgrees, b2f(n.Agrees), n.Name)
		if n.ReportedAt != nil {
			gauge(dNodeAge, n.AgeSeconds, n.Name)
		}
	}
	gauge(dMaxActive, float64(s.Rules.MaxActiveKeys))
	if m := s.Master; m != nil {
		gauge(dMasterGen, float64(m.Generation))
		for _, k := range m.Keys {
			switch {
			case k.Role == "primary" && k.Promoted != nil:
				gauge(dPrimaryAge, since(s.At, *k.Promoted).Seconds())
			case k.Index == 0 && k.Created != nil:
				gauge(dStagedAge, since(s.At, *k.Created).Seconds())
			}
		}
	}
	if s.LastSuccess != nil {
		gauge(dLastSuccess, unix(*s.LastSuccess))
	}
	if r := s.LastRotation; r != nil {
		gauge(dLastRotation, unix(r.FinishedAt))
		gauge(dLastDuration, r.DurationSeconds)
		for _, o := range outcomes {
			gauge(dLastOutcome, b2f(r.Outcome == o), string(o))
		}
	}
	if t := s.totals; t != nil {
		for _, r := range []string{rotation.DeliveryInstalled, rotation.DeliveryUnchanged, rotation.DeliveryFailed} {
			counter(dDeliveries, t.Deliveries[r], r)
		}
		for r, n := range t.Refused {
			counter(dRefused, n, r)
		}
		for wf, byOutcome := range t.Runs {
			for o, n := range byOutcome {
				counter(dRuns, n, wf, o)
			}
		}
	}
	for st, n := range s.Executions {
		gauge(dExecutions, float64(n), st)
	}
	if s.Executions != nil {
		gauge(dRunning, float64(len(s.Running)))
	}
	if s.NextRotation != nil {
		gauge(dNextRotation, unix(s.NextRotation.At))
	}
	if s.Interval != nil {
		gauge(dInterval, s.Interval.LongestSeconds)
	}
	for _, t := range s.CronTriggers {
		gauge(dNextFire, unix(t.Next), t.Name, t.Workflow)
	}
	count := map[string]int{}
	for _, w := range s.Warnings {
		count[w.Code]++
	}
	for _, code := range warningCodes {
		gauge(dWarnings, float64(count[code]), code)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
