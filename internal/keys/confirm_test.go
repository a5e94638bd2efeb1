package keys

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A node that receives generation G+1 late keeps signing with G's primary
// until then; the guard must count from the fleet's confirmation.
func TestConfirmMovesTheDemotion(t *testing.T) {
	ck := newClock()
	dir := filepath.Join(t.TempDir(), "master")
	opts := []Option{WithClock(ck.now)}
	ro := RotateOptions{MaxActiveKeys: 3, TokenExpiration: time.Hour}
	if _, err := Setup(t.Context(), dir, ro, opts...); err != nil {
		t.Fatal(err)
	}
	ck.advance(2 * time.Hour)
	p, err := Rotate(t.Context(), dir, ro, opts...) // key 1 demoted on the master now
	if err != nil {
		t.Fatal(err)
	}
	ck.advance(30 * time.Minute) // the last node confirms half an hour later
	confirmedAt := ck.t
	if changed, err := Confirm(t.Context(), dir, p.Generation, confirmedAt); err != nil || !changed {
		t.Fatalf("confirm: %v %v", changed, err)
	}
	if changed, err := Confirm(t.Context(), dir, p.Generation, confirmedAt.Add(time.Hour)); err != nil || changed {
		t.Fatalf("a second confirmation changed the record: %v %v", changed, err)
	}
	ck.advance(45 * time.Minute) // 1h15 after the rotation, 45m after the confirmation
	_, err = Rotate(t.Context(), dir, ro, opts...)
	if !errors.Is(err, ErrUnsafePrune) || !strings.Contains(err.Error(), confirmedAt.Add(time.Hour).Format(time.RFC3339)) {
		t.Fatalf("err = %v, want a refusal until an hour after the confirmation", err)
	}
	ck.advance(15 * time.Minute)
	if _, err := Rotate(t.Context(), dir, ro, opts...); err != nil {
		t.Fatalf("an hour after the confirmation: %v", err)
	}
	if _, err := Confirm(t.Context(), dir, 1, ck.t); !errors.Is(err, ErrGenerationMismatch) {
		t.Fatalf("confirming an old generation: %v", err)
	}
}
