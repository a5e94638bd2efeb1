package rotation

import (
	"fmt"
	"time"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// Input is the input of one of fernetflow's workflows, as Go values; Map
// gives the workflow's input (what Mistral's execution create takes).
type Input interface {
	Workflow() Workflow
	Map() map[string]any
}

// Fleet selects the nodes on a Heat target (a local target ignores it).
type Fleet struct {
	Stack string // the overcloud stack; "" is overcloud
	Role  string // the role whose servers run Keystone; "" is Controller
}

func (f Fleet) put(m map[string]any) map[string]any {
	m["stack"], m["role"] = or(f.Stack, "overcloud"), or(f.Role, "Controller")
	return m
}

// DefaultCheckTimeout bounds the report round: three of os-collect-config's
// default 30-second polling intervals.
const DefaultCheckTimeout = 90 * time.Second

// RotateInput is rotate_fernet_keys' input. The key rules read as in
// keys.RotateOptions (a zero MaxActiveKeys is Keystone's default, the
// durations are as given: DefaultRotateInput has Keystone's); a zero
// Concurrency, Timeout or CheckTimeout is the workflow's default.
type RotateInput struct {
	Fleet
	// Keystone's [fernet_tokens] max_active_keys and [token] expiration
	// and allow_expired_window: the prune guard's rule.
	MaxActiveKeys                       int
	TokenExpiration, AllowExpiredWindow time.Duration
	// Concurrency is how many deliveries run at once; Timeout bounds each
	// delivery step, CheckTimeout the report round.
	Concurrency           int
	Timeout, CheckTimeout time.Duration
	// DryRun decides and changes nothing anywhere.
	DryRun bool
	// AdoptFrom (a server's name or id) chooses the set to adopt when the
	// nodes hold different ones on the first run; DiscardExistingKeys
	// sets up a new set instead of adopting.
	AdoptFrom           string
	DiscardExistingKeys bool
	// OverwriteDrifted names the servers whose drifted keys may be
	// overwritten with the master's.
	OverwriteDrifted []string
	// Force lets the prune guard delete a key that may still have signed
	// valid tokens.
	Force bool
}

// DefaultRotateInput is Keystone's defaults for the key rules.
func DefaultRotateInput() RotateInput {
	return RotateInput{MaxActiveKeys: keys.DefaultMaxActiveKeys, TokenExpiration: keys.DefaultTokenExpiration, AllowExpiredWindow: keys.DefaultAllowExpiredWindow}
}

// Validate checks the key rules as Keystone would.
func (in RotateInput) Validate() error {
	if in.MaxActiveKeys < 0 {
		return fmt.Errorf("max_active_keys is %d, Keystone needs at least 1", in.MaxActiveKeys)
	}
	return keys.CheckTokenDurations(in.TokenExpiration, in.AllowExpiredWindow)
}

// Workflow is Rotate.
func (RotateInput) Workflow() Workflow { return Rotate }

// Map is the workflow's input.
func (in RotateInput) Map() map[string]any {
	return in.Fleet.put(map[string]any{
		"max_active_keys":       int64(orInt(in.MaxActiveKeys, keys.DefaultMaxActiveKeys)),
		"token_expiration":      seconds(in.TokenExpiration),
		"allow_expired_window":  seconds(in.AllowExpiredWindow),
		"concurrency":           int64(orInt(in.Concurrency, 10)),
		"timeout":               seconds(orDur(in.Timeout, 10*time.Minute)),
		"check_timeout":         seconds(orDur(in.CheckTimeout, DefaultCheckTimeout)),
		"dry_run":               in.DryRun,
		"adopt_from":            in.AdoptFrom,
		"discard_existing_keys": in.DiscardExistingKeys,
		"overwrite_drifted":     anyList(in.OverwriteDrifted),
		"force":                 in.Force,
	})
}

// DistributeInput is distribute_fernet_keys' input.
type DistributeInput struct {
	Fleet
	Concurrency           int
	Timeout, CheckTimeout time.Duration
	OverwriteDrifted      []string
}

// Workflow is Distribute.
func (DistributeInput) Workflow() Workflow { return Distribute }

// Map is the workflow's input.
func (in DistributeInput) Map() map[string]any {
	return in.Fleet.put(map[string]any{
		"concurrency":       int64(orInt(in.Concurrency, 10)),
		"timeout":           seconds(orDur(in.Timeout, 10*time.Minute)),
		"check_timeout":     seconds(orDur(in.CheckTimeout, DefaultCheckTimeout)),
		"overwrite_drifted": anyList(in.OverwriteDrifted),
	})
}

// CheckInput is check_fernet_keys' input.
type CheckInput struct {
	Fleet
	CheckTimeout time.Duration
}

// Workflow is Check.
func (CheckInput) Workflow() Workflow { return Check }

// Map is the workflow's input.
func (in CheckInput) Map() map[string]any {
	return in.Fleet.put(map[string]any{"check_timeout": seconds(orDur(in.CheckTimeout, DefaultCheckTimeout))})
}

// EnrollInput is enroll_nodes' input.
type EnrollInput struct {
	Fleet
	// Reenroll names the servers whose changed recipient is accepted
	// (rebuilt nodes).
	Reenroll []string
}

// Workflow is Enroll.
func (EnrollInput) Workflow() Workflow { return Enroll }

// Map is the workflow's input.
func (in EnrollInput) Map() map[string]any {
	return in.Fleet.put(map[string]any{"reenroll": anyList(in.Reenroll)})
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func anyList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
