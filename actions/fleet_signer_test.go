package actions

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/wire"
)

// A node that pins no signer, or another undercloud's, would refuse every
// envelope: it must stop the run before the master rotates, whether it
// agrees with the master or is a straggler a delivery would repair.
func TestCheckSigners(t *testing.T) {
	u := &fleet.Undercloud{Dir: filepath.Join(t.TempDir(), "uc")}
	s, err := u.Signer()
	if err != nil {
		t.Fatal(err)
	}
	pub := s.Public().String()
	rep := func(name, signer string) fleet.Report {
		return fleet.Report{Server: fleet.Server{Name: name, ID: name}, Observation: &wire.Observation{ServerID: name, Signer: signer}}
	}
	res := &fleet.CheckResult{
		Agree: []fleet.Report{rep("ok", pub), rep("unpinned", ""), rep("other", "ed25519:AAAA")},
		Stragglers: []fleet.Straggler{
			{Report: rep("behind-ok", pub), Status: fleet.StatusBehind},
			{Report: rep("behind-unpinned", ""), Status: fleet.StatusBehind},
			{Report: rep("drifted", ""), Status: fleet.StatusDrifted, Reason: "drift"},
		},
	}
	if err := checkSigners(u, res); err != nil {
		t.Fatal(err)
	}
	got := map[string]fleet.Status{}
	for _, st := range res.Stragglers {
		got[st.Name] = st.Status
		if st.Status == fleet.StatusSigner && !strings.Contains(st.Reason, "refuse every envelope") {
			t.Errorf("%s: %s", st.Name, st.Reason)
		}
	}
	want := map[string]fleet.Status{"unpinned": fleet.StatusSigner, "other": fleet.StatusSigner, "behind-ok": fleet.StatusBehind,
		"behind-unpinned": fleet.StatusSigner, "drifted": fleet.StatusDrifted}
	if len(res.Agree) != 1 || res.Agree[0].Name != "ok" || len(got) != len(want) {
		t.Fatalf("agree %v, stragglers %v", res.Agree, got)
	}
	for n, s := range want {
		if got[n] != s {
			t.Errorf("%s: %s, want %s", n, got[n], s)
		}
	}
	if _, refuse := res.Decide(nil); len(refuse) != 4 {
		t.Errorf("refused %d, want 4", len(refuse))
	}
}
