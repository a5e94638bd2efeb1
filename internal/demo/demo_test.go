package demo

import (
	"testing"
	"time"
)

func TestRunKeepsEveryLiveToken(t *testing.T) {
	tests := []struct {
		name               string
		exp, window, every time.Duration
		rotations, maxKeys int
	}{
		{"hourly, 1h tokens", time.Hour, 0, time.Hour, 6, 3},
		{"hourly, 1h tokens, 2h window", time.Hour, 2 * time.Hour, time.Hour, 8, 5},
		{"every 30m, 1h tokens", time.Hour, 0, 30 * time.Minute, 7, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Run(t.Context(), Options{Dir: t.TempDir(), Rotations: tt.rotations, Interval: tt.every, TokenExpiration: tt.exp, AllowExpiredWindow: tt.window})
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK || r.MaxActiveKeys != tt.maxKeys || len(r.Steps) != tt.rotations+1 {
				t.Fatalf("report %+v", r)
			}
			last := r.Steps[len(r.Steps)-1]
			if len(last.Keys) != tt.maxKeys || len(last.Expired) == 0 {
				t.Fatalf("last step %+v: want %d keys and some expired tokens", last, tt.maxKeys)
			}
			for _, s := range r.Steps {
				if len(s.Broken) != 0 {
					t.Fatalf("generation %d broke live tokens %v", s.Generation, s.Broken)
				}
			}
		})
	}
}
