package deploy

import (
	"context"
	"testing"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
)

func TestDeploymentsListsFernetflowsOldestFirst(t *testing.T) {
	_, rcv, targets := setup(t, 2)
	c, ctx := rcv.client, context.Background()
	if _, err := Push(ctx, c, targets, PushOptions{Config: installConfig, Receiver: rcv}); err != nil {
		t.Fatal(err)
	}
	other := softwareconfigs.CreateOpts{Name: "puppet-thing", Group: "puppet", Config: "x"}
	if _, err := Push(ctx, c, targets[:1], PushOptions{Config: other, Receiver: rcv}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		all  bool
		want []string // config names, oldest first
	}{
		{false, []string{"fernetflow-install"}},
		{true, []string{"fernetflow-install", "puppet-thing"}},
	} {
		got, err := Deployments(ctx, c, targets[0].Server, tc.all)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range got {
			if d.Server != "ctrl-0" || d.ServerID != "srv-0" || d.DeploymentID == "" || d.ConfigID == "" {
				t.Errorf("all=%v: %+v", tc.all, d)
			}
			names = append(names, d.ConfigName)
		}
		if len(names) != len(tc.want) || (len(names) > 0 && names[0] != tc.want[0]) {
			t.Errorf("all=%v: configs %v, want %v", tc.all, names, tc.want)
		}
	}
	ids, err := ServersByID(ctx, c, []string{"srv-9"}, "ignored", ServerFilter{})
	if err != nil || len(ids) != 1 || ids[0].ID != "srv-9" || ids[0].Name != "srv-9" {
		t.Errorf("ServersByID by id: %v %v", ids, err)
	}
}
