package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
)

// Host is what everything that talks to Heat shares in one process (the
// heat.* actions, a FleetTarget): the cloud (from --os-cloud, clouds.yaml
// and OS_*), one authenticated client, and one signal receiver that the
// nodes' signals reach while the process runs. Both are made on first use,
// so a workflow that never calls heat.* needs no cloud. Close stops the
// receiver.
type Host struct {
	// Cloud says which cloud (CloudOptions.Cloud is --os-cloud).
	Cloud CloudOptions
	// SignalListen is --signal-listen; SignalBaseURL (--signal-url) is the
	// URL nodes reach it by, when not http://<listen address>. Empty
	// SignalListen derives the address from the route to the Heat
	// endpoint; a loopback address is refused unless Heat is on loopback
	// too (see ResolveSignalAddress).
	SignalListen, SignalBaseURL string
	// Route finds this host's address towards Heat (RouteTo when
	// nil).
	Route Route
	// SignalKeyFile, when set, holds the receiver's key (made on first
	// use), so that signal URLs outlive this process: a fernetflow
	// restarted on the same SignalListen still accepts them.
	SignalKeyFile string
	// Log receives the deploy package's progress lines.
	Log *slog.Logger
	// NewClient makes the client (NewOrchestrationClient when nil).
	NewClient func(context.Context, CloudOptions) (*gophercloud.ServiceClient, error)

	mu     sync.Mutex
	client *gophercloud.ServiceClient
	rcv    *Receiver
}

// Client returns the host's authenticated orchestration client.
func (h *Host) Client(ctx context.Context) (*gophercloud.ServiceClient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client != nil {
		return h.client, nil
	}
	mk := h.NewClient
	if mk == nil {
		mk = NewOrchestrationClient
	}
	c, err := mk(ctx, h.Cloud)
	if err != nil {
		return nil, err
	}
	h.client = c
	return c, nil
}

// Receiver returns the host's signal receiver, started on first use.
func (h *Host) Receiver(ctx context.Context) (*Receiver, error) {
	c, err := h.Client(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rcv == nil {
		var key []byte
		if h.SignalKeyFile != "" {
			if key, err = LoadOrCreateSignalKey(h.SignalKeyFile); err != nil {
				return nil, err
			}
		}
		addr, err := ResolveSignalAddress(ctx, h.SignalListen, h.SignalBaseURL, c.Endpoint, h.Route)
		if err != nil {
			return nil, err
		}
		h.rcv, err = NewReceiver(c, ReceiverOptions{Listen: addr.Listen, BaseURL: addr.BaseURL, AdvertiseHost: addr.AdvertiseHost, Log: h.Logger(), Key: key})
		if err != nil {
			return nil, err
		}
		how := "as given by --signal-listen/--signal-url"
		if addr.Derived {
			how = "derived from this host's route to Heat; set --signal-listen HOST:PORT to choose it"
		}
		h.Logger().Info("signal receiver listening", "listen", h.rcv.Addr(), "url", h.rcv.BaseURL(), "how", how)
	}
	return h.rcv, nil
}

// CleanupStale marks FAILED the fernetflow deployments of servers that an
// earlier run left IN_PROGRESS and whose signal receiver is gone (see
// CleanupStale), logging one INFO line per server saying what and
// why. Deployments this host's receiver would accept are left alone. Call
// it once per run, after the servers are known and before anything is
// pushed; an error is worth a warning, never a reason to stop the run.
func (h *Host) CleanupStale(ctx context.Context, servers []Server) ([]Stale, error) {
	c, err := h.Client(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	rcv := h.rcv
	h.mu.Unlock()
	return CleanupStale(ctx, c, servers, StaleOptions{Receiver: rcv, Log: h.Logger()})
}

// Close stops the receiver, if it was started.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rcv == nil {
		return nil
	}
	err := h.rcv.Close()
	h.rcv = nil
	return err
}

// Started returns the signal receiver if Receiver started it, nil if not:
// a wait for deployments this process did not push has no receiver to
// wake it early.
func (h *Host) Started() *Receiver {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rcv
}

// Logger is Log, or a logger that discards when Log is nil.
func (h *Host) Logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.New(slog.DiscardHandler)
}

// ConfigFor is the source config of an enroll or install deployment,
// what `fernetflow node collect` and `node hook` apply.
func ConfigFor(kind string) (softwareconfigs.CreateOpts, error) {
	switch kind {
	case "enroll":
		return softwareconfigs.CreateOpts{Name: "fernetflow-enroll", Group: Group, Config: "enroll",
			Outputs: []softwareconfigs.Output{{Name: "server_id"}, {Name: "recipient"}}}, nil
	case "report":
		return softwareconfigs.CreateOpts{Name: "fernetflow-report", Group: Group, Config: "report",
			Inputs: []softwareconfigs.Input{
				{Name: "probe_tokens", Type: "Json", Description: "tokens signed with the master's primary key, for the node to check against its repository"},
				{Name: "adopt_request", Type: "String", Description: "the first run only: the undercloud's signed request for the node's keys, sealed to the undercloud"},
			},
			Outputs: []softwareconfigs.Output{{Name: "observation"}}}, nil
	case "install":
		return softwareconfigs.CreateOpts{Name: "fernetflow-install", Group: Group, Config: "install",
			Inputs: []softwareconfigs.Input{
				{Name: "envelope", Type: "String", Description: "the key set sealed to this node and signed by the undercloud"},
				{Name: "probe_tokens", Type: "Json", Description: "tokens signed with the master's primary key, for the node to check once installed"},
				{Name: "allow_fewer", Type: "Boolean", Description: "replace a repository holding more keys (a node the operator chose to overwrite)"},
			},
			Outputs: []softwareconfigs.Output{{Name: "generation"}, {Name: "fingerprint"}, {Name: "changed"}, {Name: "observation"}}}, nil
	}
	return softwareconfigs.CreateOpts{}, fmt.Errorf("heat.deploy: kind %q: want report, install or enroll", kind)
}
