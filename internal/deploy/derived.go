package deploy

import (
	"fmt"
	"maps"
	"slices"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
)

// Signal transports a derived config can name, as Heat and heat-config
// understand them.
const (
	// TransportTempURL: the node PUTs its outputs to deploy_signal_id
	// (fernetflow's signal receiver stands in for a Swift temp URL).
	TransportTempURL = "TEMP_URL_SIGNAL"
	// TransportHeatSignal: the node signals the stack resource with the
	// deploy_* credentials (stack-managed deployments only).
	TransportHeatSignal = "HEAT_SIGNAL"
	// TransportNone: the node does not signal; someone must mark the
	// deployment by hand.
	TransportNone = "NO_SIGNAL"
)

// DerivedParams are the per-deployment values of a derived config.
type DerivedParams struct {
	// Name of the derived config.
	Name string
	// Action is CREATE or UPDATE (deploy_action).
	Action string
	// ServerID is the server the deployment is for (deploy_server_id).
	ServerID string
	// InputValues set the values of the source's inputs; values without a
	// declared input become String inputs, as heatclient does.
	InputValues map[string]any
	// SignalTransport is TEMP_URL_SIGNAL or NO_SIGNAL.
	SignalTransport string
	// SignalURL is the URL the node PUTs its outputs to (TEMP_URL_SIGNAL).
	SignalURL string
}

// DerivedConfig builds the software config a deployment must point at,
// exactly as heatclient's build_derived_config_params does: each declared
// input carries its value (the given one, else its default), undeclared
// values become String inputs, then deploy_server_id, deploy_action,
// deploy_signal_transport and, for TEMP_URL_SIGNAL, deploy_signal_id and
// deploy_signal_verb=PUT. Agents read only these values: a deployment on a
// config without them is skipped by heat-config (KeyError: 'value').
func DerivedConfig(source softwareconfigs.CreateOpts, p DerivedParams) (softwareconfigs.CreateOpts, error) {
	if p.ServerID == "" {
		return softwareconfigs.CreateOpts{}, fmt.Errorf("deploy: derived config %q: no server id", p.Name)
	}
	transport := p.SignalTransport
	if transport == "" {
		transport = TransportTempURL
	}
	action := p.Action
	if action == "" {
		action = "UPDATE"
	}
	values := maps.Clone(p.InputValues)
	if values == nil {
		values = map[string]any{}
	}
	inputs := make([]softwareconfigs.Input, 0, len(source.Inputs)+len(values)+5)
	for _, in := range source.Inputs {
		if v, ok := values[in.Name]; ok {
			in.Value = v
			delete(values, in.Name)
		} else {
			in.Value = in.Default
		}
		if in.Value == nil {
			in.Value = "" // heat-config needs the key; nil would be left out
		}
		inputs = append(inputs, in)
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		inputs = append(inputs, softwareconfigs.Input{Name: k, Type: "String", Value: values[k]})
	}
	inputs = append(inputs,
		softwareconfigs.Input{Name: "deploy_server_id", Description: "ID of the server being deployed to", Type: "String", Value: p.ServerID},
		softwareconfigs.Input{Name: "deploy_action", Description: "Name of the current action being deployed", Type: "String", Value: action},
		softwareconfigs.Input{Name: "deploy_signal_transport", Description: "How the server should signal to heat with the deployment output values.", Type: "String", Value: transport},
	)
	switch transport {
	case TransportTempURL:
		if p.SignalURL == "" {
			return softwareconfigs.CreateOpts{}, fmt.Errorf("deploy: derived config %q for server %s: TEMP_URL_SIGNAL needs a signal URL", p.Name, p.ServerID)
		}
		inputs = append(inputs,
			softwareconfigs.Input{Name: "deploy_signal_id", Description: "ID of signal to use for signaling output values", Type: "String", Value: p.SignalURL},
			softwareconfigs.Input{Name: "deploy_signal_verb", Description: "HTTP verb to use for signaling output values", Type: "String", Value: "PUT"},
		)
	case TransportNone:
	default:
		return softwareconfigs.CreateOpts{}, fmt.Errorf("deploy: derived config %q: unsupported signal transport %q (want %s or %s)", p.Name, transport, TransportTempURL, TransportNone)
	}
	group := source.Group
	if group == "" {
		group = "Heat::Ungrouped"
	}
	opts := source.Options
	if opts == nil {
		opts = map[string]any{}
	}
	return softwareconfigs.CreateOpts{
		Name:    p.Name,
		Group:   group,
		Config:  source.Config,
		Inputs:  inputs,
		Outputs: source.Outputs,
		Options: opts,
	}, nil
}
