// Package demo runs fernetflow's story on a throwaway key repository, with
// no cloud: set up a repository, rotate it on a simulated schedule, issue a
// token at every generation and show which tokens every later key set still
// validates. It uses the same internal/keys code a real rotation does; only
// the clock is simulated, so a week of rotations takes a second.
package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// Options shape the demo.
type Options struct {
	// Dir is where the throwaway repository goes; empty means a new
	// temporary directory, removed at the end unless Keep is set.
	Dir  string
	Keep bool
	// Rotations is how many rotations to run after setup.
	Rotations int
	// Interval is the simulated time between rotations.
	Interval time.Duration
	// TokenExpiration and AllowExpiredWindow are keystone.conf's.
	TokenExpiration, AllowExpiredWindow time.Duration
}

// Step is one generation of the repository.
type Step struct {
	Generation  uint64   `json:"generation"`
	Time        string   `json:"time"`
	Action      string   `json:"action"`
	Keys        []int    `json:"keys"`
	Primary     int      `json:"primary"`
	Pruned      []int    `json:"pruned"`
	Fingerprint string   `json:"fingerprint"`
	Valid       []uint64 `json:"tokens_valid"`   // generations whose token this set validates
	Expired     []uint64 `json:"tokens_expired"` // generations whose token had expired anyway
	Broken      []uint64 `json:"tokens_broken"`  // unexpired tokens this set rejects: must stay empty
}

// Report is the result of a demo run.
type Report struct {
	Repository    string        `json:"key_repository"`
	MaxActiveKeys int           `json:"max_active_keys"`
	Interval      string        `json:"rotation_interval"`
	TokenLife     string        `json:"token_life"`
	Steps         []Step        `json:"steps"`
	Rule          string        `json:"rule"`
	OK            bool          `json:"ok"`
	Elapsed       time.Duration `json:"elapsed_ns"`
}

// Table implements output.Tabler.
func (r *Report) Table() ([]string, [][]string) {
	var rows [][]string
	list := func(xs []uint64) string {
		var s []string
		for _, x := range xs {
			s = append(s, strconv.FormatUint(x, 10))
		}
		return strings.Join(s, ",")
	}
	for _, s := range r.Steps {
		var pruned []string
		for _, p := range s.Pruned {
			pruned = append(pruned, strconv.Itoa(p))
		}
		rows = append(rows, []string{
			strconv.FormatUint(s.Generation, 10), s.Time, s.Action,
			strings.Trim(fmt.Sprint(s.Keys), "[]"), strconv.Itoa(s.Primary), strings.Join(pruned, ","),
			s.Fingerprint[len("sha256:"):][:12], list(s.Valid), list(s.Expired), list(s.Broken),
		})
	}
	return []string{"GEN", "TIME", "ACTION", "KEYS", "PRIMARY", "PRUNED", "FINGERPRINT", "TOKENS VALID", "EXPIRED", "BROKEN"}, rows
}

type token struct {
	gen     uint64
	value   string
	expires time.Time
}

// Run runs the demo.
func Run(ctx context.Context, o Options) (*Report, error) {
	started := time.Now()
	if o.Rotations <= 0 {
		o.Rotations = 6
	}
	if o.Interval <= 0 {
		o.Interval = time.Hour
	}
	if o.TokenExpiration <= 0 {
		o.TokenExpiration = time.Hour
	}
	base := o.Dir
	if base == "" {
		tmp, err := os.MkdirTemp("", "fernetflow-demo-")
		if err != nil {
			return nil, err
		}
		base = tmp
		if !o.Keep {
			defer os.RemoveAll(tmp)
		}
	}
	dir := filepath.Join(base, "fernet-keys")
	maxActive, err := keys.MaxActiveKeys(o.TokenExpiration, o.AllowExpiredWindow, o.Interval)
	if err != nil {
		return nil, err
	}
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ro := keys.RotateOptions{MaxActiveKeys: maxActive, TokenExpiration: o.TokenExpiration, AllowExpiredWindow: o.AllowExpiredWindow}
	life := o.TokenExpiration + o.AllowExpiredWindow
	rep := &Report{
		Repository: dir, MaxActiveKeys: maxActive, Interval: o.Interval.String(), TokenLife: life.String(), OK: true,
		Rule: fmt.Sprintf("max_active_keys = (token_expiration %s + allow_expired_window %s) / rotation_interval %s + 2 = %d", o.TokenExpiration, o.AllowExpiredWindow, o.Interval, maxActive),
	}
	var tokens []token
	for step := 0; step <= o.Rotations; step++ {
		var p *keys.Plan
		if step == 0 {
			p, err = keys.Setup(ctx, dir, ro, keys.WithClock(clock))
		} else {
			now = now.Add(o.Interval)
			p, err = keys.Rotate(ctx, dir, ro, keys.WithClock(clock))
		}
		if err != nil {
			return nil, err
		}
		repo, err := keys.Open(dir)
		if err != nil {
			return nil, err
		}
		tok, err := keys.IssueToken(repo.Keys, []byte("demo token of generation "+strconv.FormatUint(p.Generation, 10)))
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, token{p.Generation, tok, now.Add(life)})
		s := Step{Generation: p.Generation, Time: now.Format("Mon 15:04"), Action: p.Action, Keys: p.Keys, Primary: p.Primary, Fingerprint: p.Fingerprint}
		for _, pr := range p.Pruned {
			s.Pruned = append(s.Pruned, pr.Index)
		}
		for _, t := range tokens {
			_, _, verr := keys.VerifyToken(repo.Keys, t.value, 0)
			switch {
			case verr == nil:
				s.Valid = append(s.Valid, t.gen)
			case !now.Before(t.expires):
				s.Expired = append(s.Expired, t.gen)
			default:
				s.Broken = append(s.Broken, t.gen)
				rep.OK = false
			}
		}
		rep.Steps = append(rep.Steps, s)
	}
	rep.Elapsed = time.Since(started)
	return rep, nil
}
