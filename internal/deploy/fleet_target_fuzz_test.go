package deploy

import (
	"encoding/json"
	"testing"

	"github.com/fernetflow/fernetflow/internal/fleet"
)

// FuzzReportFrom feeds arbitrary signalled outputs to the parser of a
// node's observation: no panic, and a report is only ever for the server
// asked.
func FuzzReportFrom(f *testing.F) {
	f.Add(`{"observation":{"server_id":"s1","recipient":"age1x","installed":null,"repository":{"fingerprint":"sha256:00","keys":[{"index":0,"id":"abc"}]},"probe":{"token":"t","rejected":[],"checked":1}}}`)
	f.Add(`{"observation":"{\"server_id\":\"s1\"}"}`)
	f.Add(`{"observation":{"server_id":"s2"}}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, in string) {
		var out map[string]any
		if json.Unmarshal([]byte(in), &out) != nil {
			return
		}
		r, err := reportFrom(fleet.Server{Name: "ctl", ID: "s1"}, out)
		if err == nil && (r.ID != "s1" || r.Observation == nil || r.Observation.ServerID != "s1") {
			t.Fatalf("report %+v from %s", r, in)
		}
	})
}
