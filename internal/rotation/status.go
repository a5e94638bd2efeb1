package rotation

import (
	"context"
	"slices"
	"strings"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/workflow"
)

// Status is what a finished run left: every node as the run last heard
// from it, against the master, and where the run's time went. Its JSON is
// what fernetflow rotate|distribute|check -f json print.
type Status struct {
	Execution string         `json:"execution_id"`
	Workflow  string         `json:"workflow_name"`
	State     workflow.State `json:"state"`
	// Outcome is what the run did.
	Outcome Outcome `json:"outcome"`
	// Summary is what the run's last check of the fleet said (adoption,
	// stragglers, refusal).
	Summary    string         `json:"summary,omitempty"`
	StateInfo  string         `json:"state_info,omitempty"`
	Generation uint64         `json:"generation"`
	Servers    []ServerStatus `json:"servers"`
	Report     any            `json:"report,omitempty"`
	Tasks      []TaskTiming   `json:"tasks"`
}

// TaskTiming says where a run's time went.
type TaskTiming struct {
	Name    string         `json:"name"`
	State   workflow.State `json:"state"`
	Seconds float64        `json:"seconds"`
}

// ServerStatus is one node as the run last heard from it.
type ServerStatus struct {
	Name        string           `json:"name"`
	ServerID    string           `json:"server_id"`
	Generation  uint64           `json:"generation"`
	Fingerprint keys.Fingerprint `json:"fingerprint"`
	// State is ok, a straggler's status and reason, "not seen in this
	// run", or "no master key set yet".
	State string `json:"state"`
}

// CheckSummary is what a fleet.check task found, on one line ("" for
// other tasks and for a check that did not succeed).
func CheckSummary(te *workflow.TaskExecution) string {
	if te.Action != "fleet.check" || te.State != workflow.Success {
		return ""
	}
	m, _ := te.Result.(map[string]any)
	s, _ := m["summary"].(string)
	return firstLine(s)
}

// Status says what every node held when this run last heard from it (in
// its report or install round), against the master: it asks the target
// for the servers of sel, and makes no round trip to the nodes. On an
// error listing the servers, the Status has everything but the servers.
func (r *Result) Status(ctx context.Context, sel fleet.Selection) (*Status, error) {
	ex, h := r.Execution, r.Host
	st := &Status{Execution: ex.ID, Workflow: ex.WorkflowName, State: ex.State, StateInfo: ex.StateInfo, Report: ex.Output["report"], Outcome: r.Outcome}
	for _, te := range ex.Tasks {
		st.Tasks = append(st.Tasks, TaskTiming{te.Name, te.State, te.FinishedAt.Sub(te.StartedAt).Seconds()})
		if s := CheckSummary(te); s != "" {
			st.Summary = s
		}
	}
	servers, err := h.Target.Servers(ctx, sel)
	if err != nil {
		return st, err
	}
	seen := h.Seen(servers)
	m, err := h.Undercloud.Master()
	if err != nil {
		// No master yet (a dry run, or a refusal before adoption): say
		// what each node holds.
		byID := map[string]fleet.Report{}
		for _, r := range seen {
			byID[r.ID] = r
		}
		for _, s := range servers {
			ss := ServerStatus{Name: s.Name, ServerID: s.ID, State: "not seen in this run"}
			if r, ok := byID[s.ID]; ok {
				ss.Generation, ss.Fingerprint, ss.State = r.Generation, r.Fingerprint, "no master key set yet"
			}
			st.Servers = append(st.Servers, ss)
		}
		return st, nil
	}
	st.Generation = m.Generation
	cmp := fleet.Compare(m, servers, seen, map[string]error{}, 0)
	for _, r := range cmp.Agree {
		st.Servers = append(st.Servers, ServerStatus{r.Name, r.ID, r.Generation, r.Fingerprint, "ok"})
	}
	for _, s := range cmp.Stragglers {
		state := string(s.Status) + ": " + s.Reason
		if s.Status == fleet.StatusUnreachable {
			state = "not seen in this run"
		}
		st.Servers = append(st.Servers, ServerStatus{s.Name, s.ID, s.Generation, s.Fingerprint, state})
	}
	slices.SortFunc(st.Servers, func(a, b ServerStatus) int { return strings.Compare(a.Name, b.Name) })
	return st, nil
}
