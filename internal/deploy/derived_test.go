package deploy

import (
	"encoding/json"
	"testing"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
)

func TestDerivedConfigLikeHeatclient(t *testing.T) {
	src := softwareconfigs.CreateOpts{
		Name: "fernetflow", Group: "fernetflow", Config: "install",
		Inputs: []softwareconfigs.Input{
			{Name: "envelope", Type: "String"},
			{Name: "mode", Type: "String", Default: "install"},
			{Name: "empty", Type: "String"},
		},
		Outputs: []softwareconfigs.Output{{Name: "fingerprint"}},
	}
	got, err := DerivedConfig(src, DerivedParams{
		Name: "fernetflow-ctrl-0", ServerID: "srv-1", Action: "UPDATE",
		InputValues: map[string]any{"envelope": "AGE", "extra": 7},
		SignalURL:   "http://127.0.0.1:9/signal/a/b",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got.Inputs)
	want := `[{"name":"envelope","type":"String","value":"AGE"},` +
		`{"name":"mode","type":"String","default":"install","value":"install"},` +
		`{"name":"empty","type":"String","value":""},` +
		`{"name":"extra","type":"String","value":7},` +
		`{"name":"deploy_server_id","type":"String","description":"ID of the server being deployed to","value":"srv-1"},` +
		`{"name":"deploy_action","type":"String","description":"Name of the current action being deployed","value":"UPDATE"},` +
		`{"name":"deploy_signal_transport","type":"String","description":"How the server should signal to heat with the deployment output values.","value":"TEMP_URL_SIGNAL"},` +
		`{"name":"deploy_signal_id","type":"String","description":"ID of signal to use for signaling output values","value":"http://127.0.0.1:9/signal/a/b"},` +
		`{"name":"deploy_signal_verb","type":"String","description":"HTTP verb to use for signaling output values","value":"PUT"}]`
	if string(b) != want {
		t.Fatalf("inputs\n got %s\nwant %s", b, want)
	}
	if got.Group != "fernetflow" || got.Config != "install" || got.Name != "fernetflow-ctrl-0" || len(got.Outputs) != 1 {
		t.Fatalf("derived config %+v", got)
	}
	if src.Inputs[0].Value != nil {
		t.Fatal("DerivedConfig changed its source")
	}
}

func TestDerivedConfigErrors(t *testing.T) {
	for name, p := range map[string]DerivedParams{
		"no server":            {Name: "x", SignalURL: "u"},
		"temp url without url": {Name: "x", ServerID: "s"},
		"unknown transport":    {Name: "x", ServerID: "s", SignalTransport: "ZAQAR_SIGNAL"},
	} {
		if _, err := DerivedConfig(softwareconfigs.CreateOpts{}, p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	got, err := DerivedConfig(softwareconfigs.CreateOpts{}, DerivedParams{Name: "x", ServerID: "s", SignalTransport: TransportNone})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Inputs) != 3 || got.Group != "Heat::Ungrouped" || got.Inputs[1].Value != "UPDATE" {
		t.Fatalf("NO_SIGNAL derived config: %+v", got)
	}
}
