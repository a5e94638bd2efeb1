package rotation

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/keys"
)

func TestRefusalReasons(t *testing.T) {
	refusal := func(st ...fleet.Status) error {
		var ss []fleet.Straggler
		for i, s := range st {
			ss = append(ss, fleet.Straggler{Report: fleet.Report{Server: fleet.Server{Name: fmt.Sprint("ctl", i), ID: fmt.Sprint(i)}}, Status: s})
		}
		return fleet.NewRefusal(ss, nil, false)
	}
	for _, c := range []struct {
		name string
		err  error
		want []string
	}{
		{"prune guard", errors.Join(ErrRefused, fmt.Errorf("preflight: %w", keys.ErrUnsafePrune)), []string{ReasonPruneGuard}},
		{"drifted and unreachable", errors.Join(ErrRefused, refusal(fleet.StatusDrifted, fleet.StatusUnreachable)), []string{ReasonDrifted, ReasonUnreachable}},
		{"ahead is split brain", errors.Join(ErrRefused, refusal(fleet.StatusAhead)), []string{ReasonSplitBrain}},
		{"signer", errors.Join(ErrRefused, refusal(fleet.StatusSigner)), []string{ReasonSigner}},
		{"recipient changed", errors.Join(ErrRefused, fleet.ErrRecipientChanged), []string{ReasonRecipientChanged}},
		{"sets differ", errors.Join(ErrRefused, fleet.NewRefusal(nil, nil, true)), []string{ReasonKeySetsDiffer}},
		{"unknown", ErrRefused, []string{ReasonOther}},
	} {
		if got := RefusalReasons(c.err); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDeliveryResult(t *testing.T) {
	if DeliveryResult(fleet.Report{Changed: true}, nil) != DeliveryInstalled || DeliveryResult(fleet.Report{}, nil) != DeliveryUnchanged ||
		DeliveryResult(fleet.Report{Changed: true}, errors.New("x")) != DeliveryFailed {
		t.Fatal("delivery results")
	}
}
