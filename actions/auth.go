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
	UserID      string `json:"user_id,omitempty"`
	UserName    string `json:"user_name,omitempty"`
	ProjectID   string `json:"project_id,omitempty"`
	ProjectName string `json:"project_name,omitempty"`
	// ProjectDomainID and ProjectDomainName are the project's domain
	// (Keystone's Default domain is id "default", name "Default").
	ProjectDomainID   string   `json:"project_domain_id,omitempty"`
	ProjectDomainName string   `json:"project_domain_name,omitempty"`
	Roles             []string `json:"roles,omitempty"`
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
// Projects and carries one of Roles. A project name means nothing without
// its domain (any domain may have a project called admin), so each entry
// of Projects is matched as (see ProjectAllowed):
//
//	ID           the project with this id, in whatever domain
//	DOMAIN/NAME  the project called NAME in the domain whose name or id is DOMAIN
//	NAME         the project called NAME in the Default domain (id "default")
//
// Valid tokens are remembered for CacheTTL (never past their expiry), by
// their SHA-256: a token revoked in Keystone is still honoured until its
// cache entry ends.
type KeystoneAuth struct {
	// URL is Keystone's public endpoint, such as http://127.0.0.1:5000 or
	// http://127.0.0.1:5000/v3.
	URL string
	// ServiceToken, when set, returns fernetflow's own token, sent as
	// X-Auth-Token while the caller's is the X-Subject-Token. When nil the
	// caller's token validates itself, which Keystone's default policy
	// allows (rule token_subject).
	ServiceToken func(ctx context.Context) (string, error)
	// Projects are the projects allowed (ID, DOMAIN/NAME or NAME in the
	// Default domain, see above); empty allows none.
	Projects []string
	// Roles are the roles of which the caller needs one; empty means
	// "admin".
	Roles []string
	// Client is the HTTP client for Keystone; nil means one with a 10 s
	// timeout.
	Client *http.Client
	// CacheTTL is how long a validated token is trusted without asking
	// Keystone again: a token revoked meanwhile is honoured until then.
	// 0 (or negative) disables the cache: every request asks Keystone.
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
	c, err := k.Identify(ctx, r)
	if err != nil {
		return nil, err
	}
	return c, k.authorize(c)
}

// Identify validates the caller's X-Auth-Token as Authenticate does (and
// with the same cache) but allows every valid token, whatever its project
// and roles: it is keystonemiddleware's part only, for a service where
// every project is a tenant (the Mistral API) and the caller decides what
// the project and roles allow. Its errors are Authenticate's, without
// ErrForbidden.
func (k *KeystoneAuth) Identify(ctx context.Context, r *http.Request) (*Caller, error) {
	tok := r.Header.Get(TokenHeader)
	if tok == "" {
		return nil, fmt.Errorf("%w: no %s header", ErrUnauthenticated, TokenHeader)
	}
	key := sha256.Sum256([]byte(tok))
	now := time.Now()
	k.mu.Lock()
	if c, ok := k.cache[key]; ok && now.Before(c.until) {
		k.mu.Unlock()
		return c.caller, nil
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
	return c, nil
}

func (k *KeystoneAuth) ttl() time.Duration { return k.CacheTTL }

// DefaultDomainID is the id of Keystone's Default domain, where a bare
// project NAME in KeystoneAuth.Projects is looked for.
const DefaultDomainID = "default"

// ProjectAllowed reports whether c's project is one of allowed, each an
// ID, DOMAIN/NAME or NAME (in the Default domain): see KeystoneAuth.
func ProjectAllowed(c *Caller, allowed []string) bool {
	if c.ProjectID == "" {
		return false
	}
	for _, p := range allowed {
		if p == c.ProjectID {
			return true
		}
		domain, name, scoped := strings.Cut(p, "/")
		if !scoped {
			domain, name = DefaultDomainID, p
		}
		if name == "" || name != c.ProjectName {
			continue
		}
		if domain == c.ProjectDomainID || (scoped && domain == c.ProjectDomainName && domain != "") {
			return true
		}
	}
	return false
}

// Authorize applies k's rule (Projects, then Roles; admin when Roles is
// empty) to a caller identified elsewhere, such as the Mistral API's: an
// error wrapping ErrForbidden that names the project or the user.
func (k *KeystoneAuth) Authorize(c *Caller) error { return k.authorize(c) }

func (k *KeystoneAuth) authorize(c *Caller) error {
	if c.ProjectID == "" {
		return fmt.Errorf("%w: the token is not scoped to a project", ErrForbidden)
	}
	if !ProjectAllowed(c, k.Projects) {
		return fmt.Errorf("%w: project %s (%s) of domain %s (%s) may not run actions", ErrForbidden,
			c.ProjectName, c.ProjectID, c.ProjectDomainName, c.ProjectDomainID)
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
			Project   *struct {
				ID, Name string
				Domain   struct{ ID, Name string }
			}
			Roles []struct{ ID, Name string }
		}
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, time.Time{}, fmt.Errorf("keystone auth: read Keystone's answer: %w", err)
	}
	c := &Caller{UserID: v.Token.User.ID, UserName: v.Token.User.Name}
	if v.Token.Project != nil {
		c.ProjectID, c.ProjectName = v.Token.Project.ID, v.Token.Project.Name
		c.ProjectDomainID, c.ProjectDomainName = v.Token.Project.Domain.ID, v.Token.Project.Domain.Name
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
