package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Keystone's defaults, used when a caller does not say otherwise.
const (
	DefaultMaxActiveKeys      = 3
	DefaultTokenExpiration    = time.Hour      // [token] expiration
	DefaultAllowExpiredWindow = 48 * time.Hour // [token] allow_expired_window
)

// MaxTokenDuration bounds [token] expiration and allow_expired_window: 100
// years (MaxTokenSeconds seconds). Keystone takes any integer there, but
// issuing a token then overflows Python's datetime (year 9999), so no
// working Keystone uses more; bounded so, their sum and every time computed
// from it fit in a time.Duration with room to spare, and the prune guard
// cannot wrap around into the past.
const (
	MaxTokenSeconds  = 100 * 365 * 24 * 60 * 60
	MaxTokenDuration = MaxTokenSeconds * time.Second
)

// CheckTokenDurations reports an error unless [token] expiration and
// allow_expired_window are each between 0 and MaxTokenDuration.
func CheckTokenDurations(tokenExpiration, allowExpiredWindow time.Duration) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"token_expiration", tokenExpiration}, {"allow_expired_window", allowExpiredWindow}} {
		switch {
		case d.v < 0:
			return fmt.Errorf("keys: %s is %s: it cannot be negative", d.name, d.v)
		case d.v > MaxTokenDuration:
			return fmt.Errorf("keys: %s is %s, beyond %d seconds (100 years): no Keystone issues tokens that outlive year 9999, and fernetflow's prune guard bounds it so", d.name, d.v, MaxTokenSeconds)
		}
	}
	return nil
}

// RotateOptions are the knobs of a rotation, named as in keystone.conf.
type RotateOptions struct {
	// MaxActiveKeys is [fernet_tokens] max_active_keys (at least 1).
	MaxActiveKeys int
	// TokenExpiration and AllowExpiredWindow bound how long a token stays
	// usable after it was signed; the prune guard uses their sum.
	TokenExpiration    time.Duration
	AllowExpiredWindow time.Duration
	// Zero is zero: callers pass Keystone's defaults (DefaultTokenExpiration,
	// DefaultAllowExpiredWindow) themselves.
	//
	// Force prunes keys even when the guard cannot prove they are unused.
	Force bool
	// DryRun computes and returns the plan but changes nothing.
	DryRun bool
}

func (o *RotateOptions) defaults() error {
	if o.MaxActiveKeys == 0 {
		o.MaxActiveKeys = DefaultMaxActiveKeys
	}
	if o.MaxActiveKeys < 1 {
		return fmt.Errorf("keys: max_active_keys is %d, Keystone needs at least 1", o.MaxActiveKeys)
	}
	return CheckTokenDurations(o.TokenExpiration, o.AllowExpiredWindow)
}

// Plan says what a setup or rotation does (or, with DryRun, would do).
// It names keys by index and ID, never by content.
type Plan struct {
	Action        string      `json:"action"`
	Repository    string      `json:"key_repository"`
	DryRun        bool        `json:"dry_run"`
	Generation    uint64      `json:"generation"`
	PreviousGen   uint64      `json:"previous_generation,omitempty"`
	Promoted      *Promotion  `json:"promoted,omitempty"`
	Staged        string      `json:"staged_key_id"`
	Primary       int         `json:"primary"`
	Pruned        []Pruned    `json:"pruned"`
	Keys          []int       `json:"keys"`
	Fingerprint   Fingerprint `json:"fingerprint"`
	PreviousPrint Fingerprint `json:"previous_fingerprint,omitzero"`
	Warnings      []string    `json:"warnings,omitempty"`
	Changed       bool        `json:"changed"`

	// Next is the new key set. It is never printed.
	Next Set `json:"-"`
}

// Promotion is the staged key becoming primary.
type Promotion struct {
	From  int    `json:"from"`
	To    int    `json:"to"`
	KeyID string `json:"key_id"`
}

// Pruned is a key a rotation deletes.
type Pruned struct {
	Index int    `json:"index"`
	KeyID string `json:"key_id"`
	// SafeAfter is when every token it may have signed has expired.
	SafeAfter *time.Time `json:"safe_after,omitempty"`
}

// Table implements output.Tabler.
func (p *Plan) Table() ([]string, [][]string) {
	rows := [][]string{
		{"action", p.Action + map[bool]string{true: " (dry run: nothing changed)", false: ""}[p.DryRun]},
		{"key repository", p.Repository},
		{"generation", fmt.Sprintf("%d → %d", p.PreviousGen, p.Generation)},
	}
	if p.Promoted != nil {
		rows = append(rows, []string{"promoted", fmt.Sprintf("staged key 0 (%s) → %d, the new primary", p.Promoted.KeyID, p.Promoted.To)})
	}
	rows = append(rows, []string{"new staged key", "0 (" + p.Staged + ")"})
	var pr []string
	for _, x := range p.Pruned {
		pr = append(pr, fmt.Sprintf("%d (%s)", x.Index, x.KeyID))
	}
	rows = append(rows,
		[]string{"pruned", strings.Join(pr, ", ")},
		[]string{"keys", strings.Trim(fmt.Sprint(p.Keys), "[]")},
		[]string{"fingerprint", p.Fingerprint.String()},
	)
	for _, w := range p.Warnings {
		rows = append(rows, []string{"warning", w})
	}
	return []string{"FIELD", "VALUE"}, rows
}

// Setup initializes the repository in dir as keystone-manage fernet_setup
// does: if 0 exists it does nothing; otherwise it writes a new 0 and
// rotates once, so an empty repository ends with 0 (staged) and 1
// (primary). The directory is created with mode 0700.
func Setup(ctx context.Context, dir string, ro RotateOptions, opts ...Option) (*Plan, error) {
	c := newConfig(opts)
	if err := ro.defaults(); err != nil {
		return nil, err
	}
	if err := c.checkNotCredential(dir); err != nil {
		return nil, err
	}
	if !ro.DryRun {
		if err := ensureDir(dir, c); err != nil {
			return nil, err
		}
		unlock, err := lock(ctx, dir, c)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	r, err := open(dir, c)
	switch {
	case err == nil:
		// Initialized already, as keystone-manage says: nothing to do.
		m, err := ReadMetadata(dir)
		if err != nil {
			return nil, err
		}
		m = reconcile(m, r.Keys, c.now())
		p := &Plan{Action: "setup", Repository: r.Dir, DryRun: ro.DryRun, Generation: m.Generation, PreviousGen: m.Generation,
			Staged: r.Keys[0].ID(), Keys: r.Keys.Indexes(), Fingerprint: r.Keys.Fingerprint(), Pruned: []Pruned{}}
		p.Primary, _ = r.Keys.Primary()
		p.Warnings = append(p.Warnings, "the repository is initialized already: nothing changed")
		return p, nil
	case errors.Is(err, ErrNotInitialized):
		return rotate(ctx, dir, &Repository{Dir: dir, Keys: Set{}}, ro, c, true)
	case errors.Is(err, ErrNoStagedKey):
		// keystone-manage writes 0, then rotates; do the same.
		loose, lerr := load(dir, c)
		if lerr != nil {
			return nil, lerr
		}
		return rotate(ctx, dir, loose, ro, c, true)
	default:
		return nil, err
	}
}

// Rotate rotates the repository in dir as keystone-manage fernet_rotate
// does: the staged key 0 becomes the primary at the highest index plus one,
// a new staged 0 is written, and the lowest-numbered keys other than 0 are
// pruned until MaxActiveKeys remain (0 included). Unlike keystone-manage it
// writes in the safe order under an exclusive lock (see apply), records
// metadata, and refuses to prune a key that may still have signed live
// tokens unless Force is set ([ErrUnsafePrune]).
func Rotate(ctx context.Context, dir string, ro RotateOptions, opts ...Option) (*Plan, error) {
	c := newConfig(opts)
	if err := ro.defaults(); err != nil {
		return nil, err
	}
	if !ro.DryRun {
		if err := c.checkNotCredential(dir); err != nil {
			return nil, err
		}
		unlock, err := lock(ctx, dir, c)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	r, err := open(dir, c)
	if err != nil {
		return nil, err
	}
	return rotate(ctx, dir, r, ro, c, false)
}

// rotate computes the next set from r and, unless dry-running, writes it.
// setup marks the first rotation of keystone-manage fernet_setup, which
// first writes a new 0 when there is none.
func rotate(ctx context.Context, dir string, r *Repository, ro RotateOptions, c *config, setup bool) (*Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	meta, err := ReadMetadata(dir)
	if err != nil {
		return nil, err
	}
	if meta != nil && meta.Stale(r.Keys) && len(r.Keys) > 0 {
		c.log.Warn("key repository changed outside fernetflow", "repository", dir, "generation", meta.Generation)
	}
	now := c.now()
	p, nm, err := PlanRotation(r.Keys, meta, ro, now, c.rand)
	if errors.Is(err, ErrUnsafePrune) && !ro.DryRun && len(r.Keys) > 0 && meta.Stale(r.Keys) {
		// The guard's answer ("safe after T") is only true if the time
		// fernetflow first saw these keys is recorded: record it now, so
		// a retry after T succeeds instead of starting the clock again.
		if werr := writeMetadata(dir, observed(meta, r.Keys, now), c); werr != nil {
			return nil, fmt.Errorf("%w; recording the repository's metadata also failed: %w", err, werr)
		}
	}
	if err != nil {
		return nil, err
	}
	p.Repository = r.Dir
	if setup {
		p.Action = "setup"
	}
	if ro.DryRun {
		return p, nil
	}
	old, next := r.Keys, p.Next
	removeStaleTemps(dir, c)
	if err := apply(dir, old, next, c); err != nil {
		return nil, err
	}
	// keystone-manage renames 0 onto the new primary's name, replacing an
	// empty file there, and then deletes it when max_active_keys prunes the
	// key just promoted: the empty file goes too.
	if to := strconv.Itoa(p.Promoted.To); slices.Contains(r.Skipped, to) {
		if _, kept := next[p.Promoted.To]; !kept {
			if err := os.Remove(filepath.Join(dir, to)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("keys: prune key %s: %w", to, err)
			}
		}
	}
	if err := writeMetadata(dir, nm, c); err != nil {
		return nil, fmt.Errorf("%w (the keys were rotated; the next fernetflow run records them)", err)
	}
	c.step("metadata")
	c.log.Info("rotated key repository", "repository", dir, "generation", p.Generation, "primary", p.Primary, "fingerprint", next.Fingerprint().Short(), "pruned", len(p.Pruned))
	return p, nil
}

// PlanRotation computes, without touching any file, what rotating the set
// old does at time now: Keystone's algorithm (the staged key 0 becomes
// primary at the highest index + 1, a new staged key is drawn from rand,
// the lowest indexes other than 0 are pruned until ro.MaxActiveKeys keys
// remain) and the prune guard over the metadata m (nil for a repository
// fernetflow has never seen). It returns the plan, whose Next is the new
// set, and the metadata to record once Next is written. An old set without
// 0 gets one first, as keystone-manage fernet_setup does. Rotate is
// PlanRotation plus a locked, atomic write; simulations call it directly.
func PlanRotation(old Set, m *Metadata, ro RotateOptions, now time.Time, rand io.Reader) (*Plan, *Metadata, error) {
	if err := ro.defaults(); err != nil {
		return nil, nil, err
	}
	var warnings []string
	stale := m != nil && m.Stale(old) && len(old) > 0
	if stale {
		warnings = append(warnings, fmt.Sprintf("the keys changed outside fernetflow since generation %d (by hand, by keystone-manage, or an interrupted write): recorded as generation %d", m.Generation, m.Generation+1))
	}
	meta := reconcile(m, old, now)
	if len(old) == 0 {
		meta.Adopted = nil // made here, not adopted
	}
	if stale {
		meta.Generation++
		meta.Confirmed = nil
	}
	prevGen, prevPrint := meta.Generation, Fingerprint{}
	if len(old) > 0 {
		prevPrint = old.Fingerprint()
	}

	work := old.Clone()
	if _, ok := work[0]; !ok {
		k, err := GenerateKey(rand)
		if err != nil {
			return nil, nil, err
		}
		work[0] = k
		meta.Keys = append(meta.Keys, KeyRecord{ID: k.ID(), Index: 0, Created: &now})
	}

	// Keystone: the staged key moves to max+1 and a new 0 is made. If 0
	// already equals the primary, an earlier rotation was interrupted
	// after promoting it: finish that one instead of promoting twice.
	next := work.Clone()
	cur, _ := work.Primary()
	newPrimary := cur + 1
	if cur > 0 && work[cur] == work[0] {
		newPrimary = cur
	}
	next[newPrimary] = work[0]
	staged, err := GenerateKey(rand)
	if err != nil {
		return nil, nil, err
	}
	next[0] = staged

	// Prune the lowest indexes other than 0 until max-1 remain.
	nonZero := slices.DeleteFunc(next.Indexes(), func(i int) bool { return i == 0 })
	var pruneIdx []int
	for len(nonZero) > ro.MaxActiveKeys-1 {
		pruneIdx = append(pruneIdx, nonZero[0])
		nonZero = nonZero[1:]
	}
	pruned, guardErr := guard(meta, next, pruneIdx, cur, newPrimary, ro, now)
	for _, i := range pruneIdx {
		delete(next, i)
	}
	if guardErr != nil && !ro.Force {
		return nil, nil, guardErr
	}
	if guardErr != nil {
		warnings = append(warnings, "forced: "+strings.TrimPrefix(guardErr.Error(), ErrUnsafePrune.Error()+": "))
	}

	p := &Plan{
		Action: "rotate", DryRun: ro.DryRun,
		PreviousGen: prevGen, Generation: prevGen + 1,
		Promoted: &Promotion{From: 0, To: newPrimary, KeyID: work[0].ID()},
		Staged:   staged.ID(), Pruned: pruned, Keys: next.Indexes(),
		Fingerprint: next.Fingerprint(), PreviousPrint: prevPrint,
		Changed: !ro.DryRun, Next: next,
	}
	if len(old) == 0 {
		p.PreviousGen = 0
		p.Generation = 1
	}
	p.Primary, _ = next.Primary()
	if _, ok := next[newPrimary]; !ok {
		warnings = append(warnings, fmt.Sprintf("max_active_keys=%d pruned the key just promoted: only the staged key 0 remains, and every rotation invalidates every token", ro.MaxActiveKeys))
	}
	warnings = append(warnings, checkRotationRule(meta, ro, now)...)
	p.Warnings = warnings
	return p, reconcileRotation(meta, next, work[0], newPrimary, cur, staged, now, p.Generation), nil
}

// observed returns metadata recording that s was seen at now: a new
// generation for a set that changed outside fernetflow, an adoption for a
// repository fernetflow had never seen.
func observed(m *Metadata, s Set, now time.Time) *Metadata {
	out := reconcile(m, s, now)
	if m != nil {
		out.Generation = m.Generation + 1
		out.Confirmed = nil
	}
	out.Fingerprint = s.Fingerprint().String()
	return out
}

// reconcileRotation records a rotation in the metadata.
func reconcileRotation(m *Metadata, next Set, promoted Key, newPrimary, oldPrimary int, staged Key, now time.Time, gen uint64) *Metadata {
	byID := map[string]KeyRecord{}
	for _, r := range m.Keys {
		if prev, ok := byID[r.ID]; !ok || r.Index > prev.Index {
			byID[r.ID] = r
		}
	}
	out := &Metadata{Format: MetadataFormat, Generation: gen, Fingerprint: next.Fingerprint().String(), Adopted: m.Adopted}
	out.Rotations = append(slices.Clone(m.Rotations), now)
	if len(out.Rotations) > maxRotationHistory {
		out.Rotations = out.Rotations[len(out.Rotations)-maxRotationHistory:]
	}
	for _, i := range next.Indexes() {
		k := next[i]
		r, ok := byID[k.ID()]
		if !ok {
			r = KeyRecord{ID: k.ID()}
		}
		r.Index = i
		switch {
		case k == staged:
			r.Created = &now
		case k == promoted && i == newPrimary:
			r.Promoted = &now
		case i == oldPrimary && oldPrimary != newPrimary:
			r.Demoted, r.DemotedUnknown = &now, false
		}
		out.Keys = append(out.Keys, r)
	}
	return out
}

// guard checks that no key in prune may still have signed a token that is
// usable: a key is safe to delete once TokenExpiration+AllowExpiredWindow
// have passed since it stopped being primary.
func guard(m *Metadata, next Set, prune []int, oldPrimary, newPrimary int, ro RotateOptions, now time.Time) ([]Pruned, error) {
	// The guard fails closed: durations that could overflow their sum
	// (RotateOptions.defaults refuses them first) leave nothing prunable.
	if err := CheckTokenDurations(ro.TokenExpiration, ro.AllowExpiredWindow); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsafePrune, err)
	}
	life := ro.TokenExpiration + ro.AllowExpiredWindow
	out := []Pruned{}
	var problems []string
	for _, i := range prune {
		k := next[i]
		p := Pruned{Index: i, KeyID: k.ID()}
		var demoted *time.Time
		unknown := false
		switch {
		case i == newPrimary:
			problems = append(problems, fmt.Sprintf("key %d is the primary this rotation promotes; raise max_active_keys to at least 2", i))
			out = append(out, p)
			continue
		case i == oldPrimary:
			demoted = &now // it stops being primary now
		default:
			if r := m.Record(i); r != nil && r.ID == k.ID() {
				demoted, unknown = r.Demoted, r.DemotedUnknown
			}
		}
		if demoted == nil {
			problems = append(problems, fmt.Sprintf("fernetflow does not know when key %d stopped being primary", i))
			out = append(out, p)
			continue
		}
		safe := demoted.Add(life)
		p.SafeAfter = &safe
		out = append(out, p)
		if now.Before(safe) {
			if unknown {
				problems = append(problems, fmt.Sprintf("fernetflow cannot know when key %d stopped being primary: it was already a secondary when fernetflow first saw this repository (made by keystone-manage?) at %s, so tokens it signed may be valid until %s", i, demoted.UTC().Format(time.RFC3339), safe.UTC().Format(time.RFC3339)))
			} else {
				problems = append(problems, fmt.Sprintf("key %d stopped being primary at %s: tokens it signed may be valid until %s (token_expiration %s + allow_expired_window %s)", i, demoted.UTC().Format(time.RFC3339), safe.UTC().Format(time.RFC3339), ro.TokenExpiration, ro.AllowExpiredWindow))
			}
		}
	}
	if len(problems) == 0 {
		return out, nil
	}
	return out, fmt.Errorf("%w: %s; rotate after that time, or raise max_active_keys", ErrUnsafePrune, strings.Join(problems, "; "))
}

// checkRotationRule warns when the rotation interval seen in the metadata
// (the median gap between recorded rotations, including this one) and
// max_active_keys break Keystone's rule (see MaxActiveKeys). It needs three
// gaps at least, so a few rotations by hand do not count as a schedule.
func checkRotationRule(m *Metadata, ro RotateOptions, now time.Time) []string {
	if m == nil || len(m.Rotations) < 3 {
		return nil
	}
	times := append(slices.Clone(m.Rotations), now)
	gaps := make([]time.Duration, 0, len(times)-1)
	for i := 1; i < len(times); i++ {
		gaps = append(gaps, times[i].Sub(times[i-1]))
	}
	slices.Sort(gaps)
	interval := gaps[len(gaps)/2]
	if interval <= 0 {
		return nil
	}
	need, err := MaxActiveKeys(ro.TokenExpiration, ro.AllowExpiredWindow, interval)
	if err != nil || need <= ro.MaxActiveKeys {
		return nil
	}
	return []string{fmt.Sprintf("rotating every %s (the median of the last %d rotations) with token_expiration %s and allow_expired_window %s needs max_active_keys >= %d, but it is %d: tokens will stop validating before they expire", roundDuration(interval), len(gaps), ro.TokenExpiration, ro.AllowExpiredWindow, need, ro.MaxActiveKeys)}
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d > time.Hour:
		return d.Round(time.Minute)
	case d > time.Second:
		return d.Round(time.Second)
	}
	return d
}

// MaxActiveKeys returns the max_active_keys a repository needs, by
// Keystone's FAQ rule:
//
//	max_active_keys = (token_expiration + allow_expired_window) / rotation_interval + 2
//
// rounded up: one key for the staged key, one for the primary, and enough
// secondaries to validate every token signed during the token's life.
func MaxActiveKeys(tokenExpiration, allowExpiredWindow, rotationInterval time.Duration) (int, error) {
	if rotationInterval <= 0 {
		return 0, fmt.Errorf("keys: the rotation interval must be positive, got %s", rotationInterval)
	}
	if err := CheckTokenDurations(tokenExpiration, allowExpiredWindow); err != nil {
		return 0, err
	}
	// Both are at most MaxTokenDuration: the sum cannot overflow, and n
	// is at most 2*MaxTokenDuration nanoseconds, far below MaxInt64.
	life := tokenExpiration + allowExpiredWindow
	n := life / rotationInterval
	if life%rotationInterval != 0 {
		n++
	}
	return int(n) + 2, nil
}
