package keys

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time              { return c.t }
func (c *clock) advance(d time.Duration)     { c.t = c.t.Add(d) }
func newClock() *clock                       { return &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }
func indexes(t *testing.T, dir string) []int { return mustOpen(t, dir).Keys.Indexes() }

// The sequence keystone-manage produced with max_active_keys=4 (see
// shared/reference/keystone-heat-occ.md, 1a), and where each key went.
func TestRotateMatchesKeystoneSequence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fernet-keys")
	ck := newClock()
	opts := []Option{WithClock(ck.now)}
	ro := RotateOptions{MaxActiveKeys: 4} // zero token life: every prune is safe
	if _, err := Setup(t.Context(), dir, ro, opts...); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("setup made %s with mode %v (%v), want 0700", dir, fi.Mode().Perm(), err)
	}
	want := [][]int{{0, 1}, {0, 1, 2}, {0, 1, 2, 3}, {0, 2, 3, 4}, {0, 3, 4, 5}, {0, 4, 5, 6}}
	if got := indexes(t, dir); !slices.Equal(got, want[0]) {
		t.Fatalf("after setup: %v, want %v", got, want[0])
	}
	for step := 1; step < len(want); step++ {
		before := mustOpen(t, dir).Keys
		ck.advance(time.Hour)
		p, err := Rotate(t.Context(), dir, ro, opts...)
		if err != nil {
			t.Fatalf("rotation %d: %v", step, err)
		}
		after := mustOpen(t, dir).Keys
		if got := after.Indexes(); !slices.Equal(got, want[step]) {
			t.Fatalf("rotation %d: %v, want %v", step, got, want[step])
		}
		top := want[step][len(want[step])-1]
		if after[top] != before[0] {
			t.Errorf("rotation %d: the staged key did not become primary %d", step, top)
		}
		if after[0] == before[0] || before.Contains(after[0]) {
			t.Errorf("rotation %d: the new staged key is not new", step)
		}
		for _, i := range after.Indexes() {
			if i != 0 && i != top && after[i] != before[i] {
				t.Errorf("rotation %d: secondary %d changed", step, i)
			}
		}
		if p.Generation != uint64(step+1) || p.Fingerprint != after.Fingerprint() {
			t.Errorf("rotation %d: plan says generation %d fingerprint %s", step, p.Generation, p.Fingerprint)
		}
		for _, e := range mustEntries(t, dir) {
			fi, _ := os.Stat(filepath.Join(dir, e))
			if fi.Mode().Perm() != 0o600 || fi.Size() != EncodedKeySize {
				t.Errorf("%s: mode %v size %d, want 0600 and 44", e, fi.Mode().Perm(), fi.Size())
			}
		}
	}
}

func mustEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestRotateEdgeCases(t *testing.T) {
	tests := []struct {
		name      string
		start     Set
		extra     map[string]string // files Keystone ignores or skips
		max       int
		want      []int
		promoted  int
		keepFiles []string
	}{
		{"only a staged key", Set{0: testKey(0)}, nil, 3, []int{0, 1}, 1, nil},
		{"max 1 keeps only 0, as Keystone", Set{0: testKey(0), 1: testKey(1)}, nil, 1, []int{0}, 2, nil},
		{"max 2", Set{0: testKey(0), 1: testKey(1), 2: testKey(2)}, nil, 2, []int{0, 3}, 3, nil},
		{"gaps in the numbering", Set{0: testKey(0), 3: testKey(3), 7: testKey(7)}, nil, 3, []int{0, 7, 8}, 8, nil},
		{"far over max", Set{0: testKey(0), 1: testKey(1), 2: testKey(2), 3: testKey(3), 4: testKey(4), 5: testKey(5)}, nil, 3, []int{0, 5, 6}, 6, nil},
		{"ignored and empty files stay", Set{0: testKey(0), 1: testKey(1)}, map[string]string{"foo": "x", "9": ""}, 3, []int{0, 1, 2}, 2, []string{"foo", "9"}},
		{"empty file at the next index is replaced", Set{0: testKey(0), 1: testKey(1)}, map[string]string{"2": ""}, 3, []int{0, 1, 2}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeRepo(t, tt.start)
			for name, content := range tt.extra {
				os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
			}
			p, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: tt.max, Force: true})
			if err != nil {
				t.Fatal(err)
			}
			after := mustOpen(t, dir).Keys
			if got := after.Indexes(); !slices.Equal(got, tt.want) {
				t.Fatalf("indexes %v, want %v", got, tt.want)
			}
			if p.Promoted.To != tt.promoted {
				t.Errorf("promoted to %d, want %d", p.Promoted.To, tt.promoted)
			}
			if k, ok := after[tt.promoted]; ok && k != tt.start[0] {
				t.Error("the promoted key is not the old staged key")
			}
			for _, f := range tt.keepFiles {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("%s was removed: %v", f, err)
				}
			}
		})
	}
}

func TestSetup(t *testing.T) {
	t.Run("initialized already", func(t *testing.T) {
		dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1)})
		before := snapshot(t, dir)
		p, err := Setup(t.Context(), dir, RotateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Changed || !sameSnapshot(before, snapshot(t, dir)) {
			t.Fatal("setup changed an initialized repository")
		}
	})
	t.Run("keys but no 0, as keystone-manage", func(t *testing.T) {
		dir := writeRepo(t, Set{3: testKey(3)})
		if _, err := Setup(t.Context(), dir, RotateOptions{MaxActiveKeys: 3}); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, dir)
		if got := r.Keys.Indexes(); !slices.Equal(got, []int{0, 3, 4}) || r.Keys[3] != testKey(3) {
			t.Fatalf("indexes %v, want [0 3 4] with 3 kept", got)
		}
	})
	t.Run("dry run creates nothing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new")
		p, err := Setup(t.Context(), dir, RotateOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) || !slices.Equal(p.Keys, []int{0, 1}) {
			t.Fatalf("dry-run setup: stat %v, plan keys %v", err, p.Keys)
		}
	})
	t.Run("owner", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("chown needs root")
		}
		dir := filepath.Join(t.TempDir(), "keys")
		if _, err := Setup(t.Context(), dir, RotateOptions{}, WithOwner(4242, 4343)); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, WithOwner(4242, 4343)); err != nil {
			t.Fatalf("files are not owned by the keystone user: %v", err)
		}
		if _, err := Rotate(t.Context(), dir, RotateOptions{}, WithOwner(4242, 4343)); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, WithOwner(4242, 4343)); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	})
}

func TestRotateDryRunChangesNothing(t *testing.T) {
	dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1), 2: testKey(2), 3: testKey(3)})
	before := snapshot(t, dir)
	p, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: 3, DryRun: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSnapshot(before, snapshot(t, dir)) {
		t.Fatal("dry run changed the repository")
	}
	if _, err := os.Stat(MetadataPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("dry run wrote metadata")
	}
	if p.Changed || !p.DryRun || !slices.Equal(p.Keys, []int{0, 3, 4}) || len(p.Pruned) != 2 || p.Pruned[0].Index != 1 {
		t.Fatalf("plan %+v", p)
	}
}

func TestPruneGuard(t *testing.T) {
	ro := RotateOptions{MaxActiveKeys: 3, TokenExpiration: time.Hour, AllowExpiredWindow: 2 * time.Hour}
	t.Run("waits for tokens of a demoted key to expire", func(t *testing.T) {
		ck := newClock()
		dir := filepath.Join(t.TempDir(), "keys")
		opts := []Option{WithClock(ck.now)}
		if _, err := Setup(t.Context(), dir, ro, opts...); err != nil {
			t.Fatal(err)
		}
		ck.advance(time.Hour)
		if _, err := Rotate(t.Context(), dir, ro, opts...); err != nil { // 0 1 2: 1 demoted now
			t.Fatal(err)
		}
		demoted := ck.t
		ck.advance(2 * time.Hour)
		before := snapshot(t, dir)
		_, err := Rotate(t.Context(), dir, ro, opts...) // would prune 1, demoted 2h ago
		if !errors.Is(err, ErrUnsafePrune) {
			t.Fatalf("err = %v, want ErrUnsafePrune", err)
		}
		safe := demoted.Add(3 * time.Hour).Format(time.RFC3339)
		if !strings.Contains(err.Error(), "key 1") || !strings.Contains(err.Error(), safe) {
			t.Fatalf("error %q does not name key 1 and when it is safe (%s)", err, safe)
		}
		if !sameSnapshot(before, snapshot(t, dir)) {
			t.Fatal("a refused rotation changed the repository")
		}
		ck.advance(time.Hour) // exactly safe now
		p, err := Rotate(t.Context(), dir, ro, opts...)
		if err != nil {
			t.Fatalf("rotation once safe: %v", err)
		}
		if len(p.Pruned) != 1 || p.Pruned[0].Index != 1 {
			t.Fatalf("pruned %+v, want key 1", p.Pruned)
		}
	})
	t.Run("adopted repository asks for --force", func(t *testing.T) {
		ck := newClock()
		dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1), 2: testKey(2)}) // as keystone-manage leaves it
		opts := []Option{WithClock(ck.now)}
		_, err := Rotate(t.Context(), dir, ro, opts...)
		if !errors.Is(err, ErrUnsafePrune) || !strings.Contains(err.Error(), "cannot know") {
			t.Fatalf("err = %v, want an unknown-history refusal", err)
		}
		p, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: 3, TokenExpiration: time.Hour, AllowExpiredWindow: 2 * time.Hour, Force: true}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Warnings) == 0 || !strings.Contains(strings.Join(p.Warnings, " "), "forced") {
			t.Fatalf("a forced prune left no warning: %v", p.Warnings)
		}
		m, err := ReadMetadata(dir)
		if err != nil || m == nil || m.Adopted == nil {
			t.Fatalf("metadata %+v, %v: want an adoption time", m, err)
		}
	})
	t.Run("the old primary is never pruned unforced", func(t *testing.T) {
		ck := newClock()
		dir := filepath.Join(t.TempDir(), "keys")
		opts := []Option{WithClock(ck.now)}
		Setup(t.Context(), dir, ro, opts...)
		ck.advance(1000 * time.Hour)
		_, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: 2, TokenExpiration: time.Hour}, opts...)
		if !errors.Is(err, ErrUnsafePrune) || !strings.Contains(err.Error(), "key 1") {
			t.Fatalf("max_active_keys=2 pruned the old primary: %v", err)
		}
	})
	// Issue 13: 2,000,000 h each overflowed their sum into a "safe after"
	// date in 1898, and a key demoted seconds earlier was pruned unforced.
	t.Run("durations that overflow are refused, nothing pruned", func(t *testing.T) {
		ck := newClock()
		dir := filepath.Join(t.TempDir(), "keys")
		opts := []Option{WithClock(ck.now)}
		if _, err := Setup(t.Context(), dir, ro, opts...); err != nil {
			t.Fatal(err)
		}
		ck.advance(time.Hour)
		if _, err := Rotate(t.Context(), dir, ro, opts...); err != nil { // 0 1 2
			t.Fatal(err)
		}
		ck.advance(time.Second)
		before := snapshot(t, dir)
		for _, d := range []time.Duration{2000000 * time.Hour, MaxTokenDuration + 1, 1<<63 - 1} {
			huge := RotateOptions{MaxActiveKeys: 3, TokenExpiration: d, AllowExpiredWindow: d}
			if _, err := Rotate(t.Context(), dir, huge, opts...); err == nil || !strings.Contains(err.Error(), "beyond 3153600000 seconds") {
				t.Fatalf("token_expiration and allow_expired_window %s: %v", d, err)
			}
			pruned, err := guard(nil, Set{0: testKey(0), 1: testKey(1)}, []int{1}, 1, 2, huge, ck.now())
			if !errors.Is(err, ErrUnsafePrune) {
				t.Fatalf("guard with %s: %v, %v", d, pruned, err)
			}
		}
		if !sameSnapshot(before, snapshot(t, dir)) {
			t.Fatal("a refused rotation changed the repository")
		}
		// The largest accepted durations still protect the key.
		max := RotateOptions{MaxActiveKeys: 3, TokenExpiration: MaxTokenDuration, AllowExpiredWindow: MaxTokenDuration}
		if _, err := Rotate(t.Context(), dir, max, opts...); !errors.Is(err, ErrUnsafePrune) || !strings.Contains(err.Error(), "until 2226-") {
			t.Fatalf("rotation with 100-year durations: %v", err)
		}
	})
	t.Run("max 1 would prune the new primary", func(t *testing.T) {
		dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1)})
		_, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: 1})
		if !errors.Is(err, ErrUnsafePrune) || !strings.Contains(err.Error(), "just") && !strings.Contains(err.Error(), "promotes") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRotateRefusals(t *testing.T) {
	t.Run("credential repository", func(t *testing.T) {
		dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1)})
		before := snapshot(t, dir)
		_, err := Rotate(t.Context(), dir, RotateOptions{}, WithCredentialRepositories(dir))
		if !errors.Is(err, ErrCredentialRepository) {
			t.Fatalf("err = %v", err)
		}
		if _, err := Setup(t.Context(), filepath.Join(dir, "."), RotateOptions{}, WithCredentialRepositories(dir)); !errors.Is(err, ErrCredentialRepository) {
			t.Fatalf("setup err = %v", err)
		}
		if !sameSnapshot(before, snapshot(t, dir)) {
			t.Fatal("changed")
		}
	})
	t.Run("max_active_keys below 1", func(t *testing.T) {
		dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1)})
		if _, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: -1}); err == nil || !strings.Contains(err.Error(), "at least 1") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing repository", func(t *testing.T) {
		_, err := Rotate(t.Context(), filepath.Join(t.TempDir(), "nope"), RotateOptions{})
		// The CLI adds how to create it (cmd/fernetflow's hints).
		if !errors.Is(err, ErrNotInitialized) || !strings.Contains(err.Error(), "nope does not exist") {
			t.Fatalf("err = %v (keystone-manage silently does nothing here)", err)
		}
	})
}

func TestMetadata(t *testing.T) {
	ck := newClock()
	dir := filepath.Join(t.TempDir(), "keys")
	opts := []Option{WithClock(ck.now)}
	ro := RotateOptions{MaxActiveKeys: 5}
	Setup(t.Context(), dir, ro, opts...)
	for i := 0; i < 3; i++ {
		ck.advance(time.Hour)
		if _, err := Rotate(t.Context(), dir, ro, opts...); err != nil {
			t.Fatal(err)
		}
	}
	m, err := ReadMetadata(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dir)
	if m.Generation != 4 || m.Stale(r.Keys) || m.Adopted != nil || len(m.Rotations) != 4 {
		t.Fatalf("metadata %+v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.Base(MetadataPath(dir)))); err == nil {
		t.Fatal("metadata inside the repository, where Keystone reads")
	}
	p := m.Record(4)
	if p == nil || p.Promoted == nil || !p.Promoted.Equal(ck.t) || p.Demoted != nil {
		t.Fatalf("primary record %+v", p)
	}
	s := m.Record(3)
	if s == nil || s.Demoted == nil || !s.Demoted.Equal(ck.t) || s.DemotedUnknown {
		t.Fatalf("secondary record %+v", s)
	}
	// A hand edit makes the metadata stale; the next rotation says so and
	// gives the edited set a generation of its own.
	os.Remove(filepath.Join(dir, "1"))
	st, err := Inspect(dir, opts...)
	if err != nil || !st.MetadataStale || len(st.Warnings) == 0 {
		t.Fatalf("Inspect after a hand edit: %+v %v", st, err)
	}
	ck.advance(time.Hour)
	pl, err := Rotate(t.Context(), dir, ro, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if pl.Generation != 6 || len(pl.Warnings) == 0 {
		t.Fatalf("after a hand edit: generation %d warnings %v, want 6 and a warning", pl.Generation, pl.Warnings)
	}
	os.WriteFile(MetadataPath(dir), []byte("{"), 0o600)
	if _, err := Rotate(t.Context(), dir, ro, opts...); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("corrupt metadata: %v", err)
	}
}

func TestRotationRuleWarning(t *testing.T) {
	ck := newClock()
	dir := filepath.Join(t.TempDir(), "keys")
	opts := []Option{WithClock(ck.now)}
	ro := RotateOptions{MaxActiveKeys: 3, TokenExpiration: time.Hour, Force: true}
	Setup(t.Context(), dir, ro, opts...)
	var last *Plan
	for i := 0; i < 4; i++ {
		ck.advance(30 * time.Minute) // needs 1h/30m + 2 = 4 keys
		p, err := Rotate(t.Context(), dir, ro, opts...)
		if err != nil {
			t.Fatal(err)
		}
		last = p
	}
	if w := strings.Join(last.Warnings, " "); !strings.Contains(w, "max_active_keys >= 4") {
		t.Fatalf("warnings %q, want the rule broken", w)
	}
}

func TestMaxActiveKeys(t *testing.T) {
	tests := []struct {
		exp, window, interval time.Duration
		want                  int
	}{
		{time.Hour, 0, time.Hour, 3},
		{time.Hour, 48 * time.Hour, 24 * time.Hour, 5}, // 49/24 = 2.04, rounded up
		{24 * time.Hour, 48 * time.Hour, 24 * time.Hour, 5},
		{time.Hour, 0, 2 * time.Hour, 3},
		{0, 0, time.Hour, 2},
		{6 * time.Hour, 0, time.Hour, 8},
	}
	for _, tt := range tests {
		got, err := MaxActiveKeys(tt.exp, tt.window, tt.interval)
		if err != nil || got != tt.want {
			t.Errorf("MaxActiveKeys(%s, %s, %s) = %d, %v; want %d", tt.exp, tt.window, tt.interval, got, err, tt.want)
		}
	}
	if _, err := MaxActiveKeys(time.Hour, 0, 0); err == nil {
		t.Error("a zero interval was accepted")
	}
	// Issue 13: 2,000,000 h each printed a negative number.
	for _, d := range []time.Duration{2000000 * time.Hour, MaxTokenDuration + time.Second, -time.Second} {
		if n, err := MaxActiveKeys(d, d, time.Hour); err == nil {
			t.Errorf("MaxActiveKeys(%s, %s, 1h) = %d, want an error", d, d, n)
		}
	}
	if n, err := MaxActiveKeys(MaxTokenDuration, MaxTokenDuration, time.Nanosecond); err != nil || n != 2*MaxTokenSeconds*1e9+2 {
		t.Errorf("MaxActiveKeys at the bound = %d, %v", n, err)
	}
}

func TestResumeInterruptedPromotion(t *testing.T) {
	// A rotation killed after writing the new primary leaves 0 == primary.
	dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1), 2: testKey(0)})
	p, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: 3})
	if err != nil {
		t.Fatal(err)
	}
	after := mustOpen(t, dir).Keys
	if !slices.Equal(after.Indexes(), []int{0, 1, 2}) || after[2] != testKey(0) || p.Promoted.To != 2 {
		t.Fatalf("resumed rotation gave %v (promoted to %d)", after.Indexes(), p.Promoted.To)
	}
}

// keystone-manage renames 0 over an empty file at the new primary's index;
// with max_active_keys=1 it then deletes that name, empty file and all.
func TestRotateMaxOneOverAnEmptyFile(t *testing.T) {
	dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1), 2: testKey(2), 3: testKey(3)})
	os.WriteFile(filepath.Join(dir, "4"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "99"), nil, 0o600)
	if _, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: 1, Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(mustEntries(t, dir), " "); got != "0 99" {
		t.Fatalf("files %q, want %q as keystone-manage leaves them", got, "0 99")
	}
}

// A refused rotation of an adopted repository records when fernetflow
// first saw it, so the time the refusal names is when a retry succeeds.
func TestRefusalStartsTheAdoptionClock(t *testing.T) {
	ck := newClock()
	dir := writeRepo(t, Set{0: testKey(0), 2: testKey(2), 3: testKey(3)})
	ro := RotateOptions{MaxActiveKeys: 3, TokenExpiration: time.Hour}
	opts := []Option{WithClock(ck.now)}
	_, err := Rotate(t.Context(), dir, ro, opts...)
	if !errors.Is(err, ErrUnsafePrune) {
		t.Fatalf("err = %v", err)
	}
	safe := ck.t.Add(time.Hour)
	if !strings.Contains(err.Error(), safe.Format(time.RFC3339)) {
		t.Fatalf("error %q does not name %s", err, safe.Format(time.RFC3339))
	}
	ck.advance(30 * time.Minute)
	if _, err := Rotate(t.Context(), dir, ro, opts...); !errors.Is(err, ErrUnsafePrune) || !strings.Contains(err.Error(), safe.Format(time.RFC3339)) {
		t.Fatalf("a retry before the named time: %v (the named time must not move)", err)
	}
	ck.advance(30 * time.Minute)
	if _, err := Rotate(t.Context(), dir, ro, opts...); err != nil {
		t.Fatalf("a retry at the named time: %v", err)
	}
}
