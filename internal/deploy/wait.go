package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
)

// WaitOptions configure Wait.
type WaitOptions struct {
	// Timeout bounds the whole wait (default 10 minutes).
	Timeout time.Duration
	// Concurrency bounds the Heat requests in flight (default 8).
	Concurrency int
	// MinInterval and MaxInterval bound the polling backoff of each
	// deployment: it starts at MinInterval and doubles up to MaxInterval
	// (defaults 250ms and 5s).
	MinInterval, MaxInterval time.Duration
	// Receiver, when the deployments were pushed with one, wakes the wait
	// as soon as a signal arrives instead of at the next poll.
	Receiver *Receiver
	// Log gets one line per deployment that ends.
	Log *slog.Logger
}

// Result is how one deployment ended (or where it stood at the timeout).
type Result struct {
	Server       string         `json:"server"`
	ServerID     string         `json:"server_id"`
	DeploymentID string         `json:"deployment_id"`
	Status       string         `json:"status"`
	StatusReason string         `json:"status_reason"`
	Outputs      map[string]any `json:"outputs"`
}

// WaitError says which deployments failed and which did not finish.
type WaitError struct {
	Failed   []Result
	TimedOut []Result
	Timeout  time.Duration
	// Cause is set when the wait ended for another reason (cancellation,
	// Heat errors).
	Cause error
}

func (e *WaitError) Error() string {
	var parts []string
	for _, r := range e.Failed {
		part := fmt.Sprintf("server %s: deployment %s FAILED: %s", r.Server, r.DeploymentID, r.StatusReason)
		// The node's own error (heat-config's deploy_stderr) says why.
		if msg, _ := r.Outputs["deploy_stderr"].(string); strings.TrimSpace(msg) != "" {
			part += ": the node says: " + strings.TrimSpace(msg)
		}
		parts = append(parts, part)
	}
	if len(e.TimedOut) > 0 {
		var names []string
		for _, r := range e.TimedOut {
			names = append(names, fmt.Sprintf("%s (deployment %s %s)", r.Server, r.DeploymentID, r.Status))
		}
		what := fmt.Sprintf("timed out after %s", e.Timeout)
		if e.Cause != nil {
			what = e.Cause.Error()
		}
		parts = append(parts, fmt.Sprintf("%s waiting for %d server(s): %s: no signal came; check that os-collect-config runs on them and can reach Heat and the signal URL",
			what, len(e.TimedOut), strings.Join(names, ", ")))
	}
	return "deploy: wait: " + strings.Join(parts, "; ")
}

func (e *WaitError) Unwrap() error { return e.Cause }

// Wait polls Heat until every deployment is COMPLETE or FAILED, with a
// per-deployment exponential backoff, at most Concurrency requests at a
// time, within Timeout and ctx. It returns every deployment's result, in
// input order, and a *WaitError when any failed or did not finish: its
// message names each such server.
func Wait(ctx context.Context, c *gophercloud.ServiceClient, deps []Deployment, opts WaitOptions) ([]Result, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 8
	}
	minI, maxI := opts.MinInterval, opts.MaxInterval
	if minI <= 0 {
		minI = 250 * time.Millisecond
	}
	if maxI < minI {
		maxI = max(5*time.Second, minI)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	results := make([]Result, len(deps))
	errs := make([]error, len(deps))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, d := range deps {
		results[i] = Result{Server: d.Server.Name, ServerID: d.Server.ID, DeploymentID: d.DeploymentID, Status: softwaredeployments.StatusInProgress}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var wake <-chan struct{}
			if opts.Receiver != nil && d.SignalID != "" {
				wake = opts.Receiver.Done(d.SignalID)
			}
			interval := minI
			for {
				var got *softwaredeployments.SoftwareDeployment
				var err error
				select {
				case sem <- struct{}{}:
					got, err = softwaredeployments.Get(wctx, c, d.DeploymentID).Extract()
					<-sem
				case <-wctx.Done():
					return
				}
				switch {
				case err != nil && wctx.Err() != nil:
					return
				case err != nil && gophercloud.ResponseCodeIs(err, 404):
					errs[i] = fmt.Errorf("server %s: deployment %s no longer exists in Heat", d.Server.Name, d.DeploymentID)
					results[i].Status = "DELETED"
					return
				case err != nil:
					// Transient errors were retried by the client already;
					// keep polling until the deadline.
					log.Warn("poll deployment", "server", d.Server.Name, "deployment", d.DeploymentID, "err", err)
				default:
					results[i].Status, results[i].StatusReason, results[i].Outputs = got.Status, got.StatusReason, got.OutputValues
					if got.Status == softwaredeployments.StatusComplete || got.Status == softwaredeployments.StatusFailed {
						log.Info("deployment ended", "server", d.Server.Name, "deployment", d.DeploymentID, "status", got.Status)
						return
					}
				}
				t := time.NewTimer(interval)
				select {
				case <-t.C:
				case <-wake:
					wake = nil
					t.Stop()
				case <-wctx.Done():
					t.Stop()
					return
				}
				interval = min(interval*2, maxI)
			}
		}()
	}
	wg.Wait()
	we := &WaitError{Timeout: timeout}
	for _, r := range results {
		switch r.Status {
		case softwaredeployments.StatusFailed:
			we.Failed = append(we.Failed, r)
		case softwaredeployments.StatusComplete, "DELETED":
		default:
			we.TimedOut = append(we.TimedOut, r)
		}
	}
	if ctx.Err() != nil {
		we.Cause = ctx.Err()
	}
	if err := errors.Join(errs...); err != nil {
		if we.Cause != nil {
			we.Cause = errors.Join(we.Cause, err)
		} else if len(we.Failed)+len(we.TimedOut) == 0 {
			return results, fmt.Errorf("deploy: wait: %w", err)
		}
	}
	if len(we.Failed)+len(we.TimedOut) == 0 {
		return results, nil
	}
	sort.Slice(we.TimedOut, func(a, b int) bool { return we.TimedOut[a].Server < we.TimedOut[b].Server })
	return results, we
}
