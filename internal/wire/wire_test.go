package wire

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestObservationJSON: observations as nodes signal them (a node with an
// install record and a probe; one that never installed and whose
// repository cannot be read, so that it has no fingerprint) read and
// write back byte for byte: typing the fingerprints changed no JSON, and
// an undercloud and a node of different versions still understand each
// other.
func TestObservationJSON(t *testing.T) {
	golden, err := os.ReadFile("testdata/observations.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var obs []Observation
	dec := json.NewDecoder(bytes.NewReader(golden))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obs); err != nil {
		t.Fatal(err)
	}
	if len(obs) != 2 || obs[0].Installed == nil || obs[0].Installed.Fingerprint.IsZero() || obs[0].Repository.Fingerprint.IsZero() || !obs[1].Repository.Fingerprint.IsZero() {
		t.Fatalf("read %+v", obs)
	}
	out, err := json.Marshal(obs)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out)+"\n", string(golden); got != want {
		t.Fatalf("written back:\n%s\nwant:\n%s", got, want)
	}
	// A fingerprint that is not one is refused, not read as none.
	bad := bytes.Replace(golden, []byte(`"fingerprint":"sha256:`), []byte(`"fingerprint":"sha257:`), 1)
	if err := json.Unmarshal(bad, &obs); err == nil {
		t.Fatal("a malformed fingerprint was read")
	}
}
