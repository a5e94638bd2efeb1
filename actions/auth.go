package actions

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Caller is who called the action server, as its Authenticator found out.
type Caller struct {
	UserID      string   `json:"user_id,omitempty"`
	UserName    string   `json:"user_name,omitempty"`
	ProjectID   string   `json:"project_id,omitempty"`
	ProjectName string   `json:"project_name,omitempty"`
	Roles       []string `json:"roles,omitempty"`
}

// Errors an Authenticator returns, wrapped, so that the server answers
// with the right status. Any other error means the authenticator could not
// decide (Keystone unreachable): the server answers 503 and runs nothing.
var (
	// ErrUnauthenticated: no credential, or one that is not valid (401).
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrForbidden: a valid credential whose project or roles are not
	// allowed to run actions (403).
	ErrForbidden = errors.New("forbidden")
)

// An Authenticator decides who sent a request and whether they may run
// actions. It returns the caller, or an error wrapping ErrUnauthenticated
// or ErrForbidden; it must not read the request body.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) (*Caller, error)
}

// TokenHeader carries the caller's credential: a Keystone token
// (KeystoneAuth) or a test secret (SharedSecretAuth).
const TokenHeader = "X-Auth-Token"

// KeystoneAuth validates the caller's X-Auth-Token against Keystone
// (GET /v3/auth/tokens) and allows it when the token is scoped to one of
// Projects (ids or names) and carries one of Roles. Valid tokens are
// remembered for CacheTTL (never past their expiry), by their SHA-256.
type KeystoneAuth struct {
	// URL is Keystone's public endpoint, such as http://127.0.0.1:5000 or
	// http://127.0.0.1:5000/v3.
	URL string
	// ServiceToken, when set, returns fernetflow's own token, sent as
	// X-Auth-Token while the caller's is the X-Subject-Token. When nil the
	// caller's token validates itself, which Keystone's default policy
	// allows (rule token_subject).
	ServiceToken func(ctx context.Context) (string, error)
	// Projects are the project ids or names allowed; empty allows none.
	Projects []string
	// Roles are the roles of which the caller needs one; empty means
	// "admin".
	Roles []string
	// Client is the HTTP client for Keystone; nil means one with a 10 s
	// timeout.
	Client *http.Client
	// CacheTTL is how long a validated token is trusted without asking
	// Keystone again; 0 means 30 s, negative disables the cache.
	CacheTTL time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cachedCaller
}

type cachedCaller struct {
	caller *Caller
	until  time.Time
}

// Authenticate implements Authenticator.
func (k *KeystoneAuth) Authenticate(ctx context.Context, r *http.Request) (*Caller, error) {
	tok := r.Header.Get(TokenHeader)
	if tok == "" {
		return nil, fmt.Errorf("%w: no %s header", ErrUnauthenticated, TokenHeader)
	}
	key := sha256.Sum256([]byte(tok))
	now := time.Now()
	k.mu.Lock()
	if c, ok := k.cache[key]; ok && now.Before(c.until) {
		k.mu.Unlock()
		return c.caller, k.authorize(c.caller)
	}
	k.mu.Unlock()

	c, expires, err := k.validate(ctx, tok)
	if err != nil {
		return nil, err
	}
	if ttl := k.ttl(); ttl > 0 {
		until := now.Add(ttl)
		if !expires.IsZero() && expires.Before(until) {
			until = expires
		}
		k.mu.Lock()
		if k.cache == nil {
			k.cache = map[[32]byte]cachedCaller{}
		}
		for h, e := range k.cache { // keep the cache small: drop the expired
			if !now.Before(e.until) {
				delete(k.cache, h)
			}
		}
		k.cache[key] = cachedCaller{c, until}
		k.mu.Unlock()
	}
	return c, k.authorize(c)
}

func (k *KeystoneAuth) ttl() time.Duration {
	if k.CacheTTL == 0 {
		return 30 * time.Second
	}
	return k.CacheTTL
}

func (k *KeystoneAuth) authorize(c *Caller) error {
	if c.ProjectID == "" {
		return fmt.Errorf("%w: the token is not scoped to a project", ErrForbidden)
	}
	if !slices.Contains(k.Projects, c.ProjectID) && !slices.Contains(k.Projects, c.ProjectName) {
		return fmt.Errorf("%w: project %s (%s) may not run actions", ErrForbidden, c.ProjectName, c.ProjectID)
	}
	roles := k.Roles
	if len(roles) == 0 {
		roles = []string{"admin"}
	}
	for _, r := range c.Roles {
		if slices.Contains(roles, r) {
			return nil
		}
	}
	return fmt.Errorf("%w: user %s has none of the roles %s in project %s", ErrForbidden, c.UserName, strings.Join(roles, ", "), c.ProjectName)
}

// validate asks Keystone about tok.
func (k *KeystoneAuth) validate(ctx context.Context, tok string) (*Caller, time.Time, error) {
	base := strings.TrimSuffix(strings.TrimSuffix(k.URL, "/"), "/v3")
	if base == "" {
		return nil, time.Time{}, errors.New("keystone auth: no Keystone URL")
	}
	auth := tok
	if k.ServiceToken != nil {
		st, err := k.ServiceToken(ctx)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("keystone auth: fernetflow's own token: %w", err)
		}
		auth = st
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v3/auth/tokens", nil)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("keystone auth: %w", err)
	}
	req.Header.Set("X-Auth-Token", auth)
	req.Header.Set("X-Subject-Token", tok)
	req.Header.Set("Accept", "application/json")
	client := k.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("keystone auth: validate the token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("keystone auth: validate the token: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound || (resp.StatusCode == http.StatusUnauthorized && k.ServiceToken == nil):
		return nil, time.Time{}, fmt.Errorf("%w: Keystone does not know the token (HTTP %d)", ErrUnauthenticated, resp.StatusCode)
	default:
		return nil, time.Time{}, fmt.Errorf("keystone auth: validate the token: HTTP %d from %s", resp.StatusCode, req.URL)
	}
	var v struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
			User      struct{ ID, Name string }
			Project   *struct{ ID, Name string }
			Roles     []struct{ ID, Name string }
		}
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, time.Time{}, fmt.Errorf("keystone auth: read Keystone's answer: %w", err)
	}
	c := &Caller{UserID: v.Token.User.ID, UserName: v.Token.User.Name}
	if v.Token.Project != nil {
		c.ProjectID, c.ProjectName = v.Token.Project.ID, v.Token.Project.Name
	}
	for _, r := range v.Token.Roles {
		c.Roles = append(c.Roles, r.Name)
	}
	return c, v.Token.ExpiresAt, nil
}

// SharedSecretAuth is FOR TESTS ONLY: it accepts a request whose
// X-Auth-Token is one of the fixed secrets in Secrets (secret -> project
// name) and allows the projects in Projects. A shared secret cannot be
// revoked, expires never and proves nothing about who holds it; use
// KeystoneAuth in any real deployment. `fernetflow serve` offers it only as
// --auth shared-secret-for-tests.
type SharedSecretAuth struct {
	Secrets  map[string]string
	Projects []string
}

// Authenticate implements Authenticator, comparing in constant time.
func (s *SharedSecretAuth) Authenticate(_ context.Context, r *http.Request) (*Caller, error) {
	tok := r.Header.Get(TokenHeader)
	if tok == "" {
		return nil, fmt.Errorf("%w: no %s header", ErrUnauthenticated, TokenHeader)
	}
	project, found := "", false
	for secret, p := range s.Secrets {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(tok)) == 1 {
			project, found = p, true
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: unknown shared secret", ErrUnauthenticated)
	}
	c := &Caller{UserName: "shared-secret", ProjectID: project, ProjectName: project}
	if !slices.Contains(s.Projects, project) {
		return c, fmt.Errorf("%w: project %s may not run actions", ErrForbidden, project)
	}
	return c, nil
}
