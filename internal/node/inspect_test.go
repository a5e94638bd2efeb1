package node

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInspect: Inspect reports the installed record and the repository as
// Report does, changes nothing on the node (no identity, no lock file),
// and issues no probe token.
func TestInspect(t *testing.T) {
	f := newFleet(t)
	// Before any install: no record, an empty repository.
	fresh := filepath.Join(t.TempDir(), "never-enrolled")
	obs, err := Inspect(filepath.Join(fresh, "state"), filepath.Join(fresh, "fernet-keys"), "ctl9", nil)
	if err != nil || obs.Installed != nil || len(obs.Repository.Keys) != 0 || !obs.Repository.Fingerprint.IsZero() {
		t.Fatalf("a node that holds nothing: %+v %v", obs, err)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("Inspect created %s: %v", fresh, err)
	}
	if _, err := f.install(f.seal()); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, filepath.Dir(f.stateDir))
	obs, err = Inspect(f.stateDir, f.repo, f.server, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, filepath.Dir(f.stateDir)); after != before {
		t.Fatalf("Inspect changed the node:\n%s\nwas:\n%s", after, before)
	}
	if obs.Installed == nil || obs.Installed.Generation != f.gen || obs.Repository.Fingerprint != f.nodeSet().Fingerprint() || obs.Probe.Token != "" {
		t.Fatalf("observation %+v", obs)
	}
	// A repository Keystone cannot read is named, not an error.
	if err := os.WriteFile(filepath.Join(f.repo, "0"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	obs, err = Inspect(f.stateDir, f.repo, f.server, nil)
	if err != nil || obs.Repository.Error == "" {
		t.Fatalf("an unreadable repository: %+v %v", obs, err)
	}
	if _, err := Inspect(f.stateDir, "", f.server, nil); err == nil {
		t.Fatal("no key repository was accepted")
	}
}
