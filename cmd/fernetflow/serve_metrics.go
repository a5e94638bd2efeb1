package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/ops"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// deliveryTally counts the deliveries of the cron-fired run in progress
// (runs of fernetflow's workflows on one state are serialised by its run
// lock), for that run's record. The totals count every delivery
// (serveDeliveries).
type deliveryTally struct {
	mu     sync.Mutex
	active bool
	counts map[string]int
}

func (d *deliveryTally) start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active, d.counts = true, map[string]int{}
}

func (d *deliveryTally) add(r fleet.Report, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.active {
		d.counts[rotation.DeliveryResult(r, err)]++
	}
}

func (d *deliveryTally) end() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.counts
	d.active, d.counts = false, nil
	return out
}

// countDelivery counts one delivery in st's totals (fernetflow status,
// /metrics); st nil (rotate --no-store): nothing.
func (a *app) countDelivery(st *store.Store, r fleet.Report, err error) {
	if st == nil {
		return
	}
	if cerr := ops.CountDelivery(st, rotation.DeliveryResult(r, err)); cerr != nil {
		a.log.Warn("could not count the delivery for status and metrics", "node", r.Name, "error", cerr)
	}
}

// serveDeliveries is the OnDeliver of serve's fleet: each delivery counts
// in the totals of stateDir's store (whoever runs the workflow: a cron
// trigger, the Mistral API, an OpenStack Mistral through the action
// server) and in the tally of the cron-fired run in progress.
func (a *app) serveDeliveries(stateDir string) (func(fleet.Report, error), error) {
	st, err := a.openStore(stateDir)
	if err != nil {
		return nil, err
	}
	return func(r fleet.Report, err error) {
		if a.tally != nil {
			a.tally.add(r, err)
		}
		a.countDelivery(st, r, err)
	}, nil
}

// recordRun keeps what status and /metrics report of an execution of one
// of fernetflow's workflows that serve ran (a cron trigger's, the Mistral
// API's); nothing for another workflow's.
func (a *app) recordRun(st *store.Store, ex *workflow.Execution, deliveries map[string]int) {
	if !rotation.Own(ex.WorkflowName) || !ex.State.Done() {
		return
	}
	out, err := rotation.Judge(ex)
	rec := rotation.NewRunRecord(&rotation.Result{Execution: ex, Outcome: out, Err: err}, deliveries)
	if err := ops.RecordRun(st, rec); err != nil {
		a.log.Warn("could not record the run for status and metrics", "execution", ex.ID, "error", err)
	}
}

// metricsServer serves /metrics, /healthz and /readyz without
// authentication on its own address (serve --metrics-listen), so that it
// can stay on a management network while the API keeps its own.
type metricsServer struct {
	http *http.Server
	done chan error
	addr net.Addr
}

// startMetricsServer listens on addr. ready says whether serve can do its
// job (its store reads); /healthz only that the process answers.
func startMetricsServer(ctx context.Context, addr string, m *ops.Metrics, ready func(context.Context) error) (*metricsServer, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics server: %w", err)
	}
	s := &metricsServer{
		http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute,
			BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }},
		done: make(chan error, 1),
		addr: ln.Addr(),
	}
	go func() { s.done <- s.http.Serve(ln) }()
	return s, nil
}

func (s *metricsServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
