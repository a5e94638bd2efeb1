package mistralapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/actions"
)

// Trusts let cron triggers fire as their creator, later, with no user
// present, as Mistral does (mistral/services/security.py): at POST
// /v2/cron_triggers a Keystone trust is made from the creator (trustor) to
// fernetflow's service user (trustee), with the creator's roles on the
// project and impersonation; the trigger keeps the trust's id only, never a
// token; each firing consumes the trust (a trust-scoped token of the
// service user, which Keystone gives only while the creator still holds
// those roles); deleting the trigger deletes the trust. KeystoneTrusts is
// the implementation; without Trusts (--auth noauth) triggers fire in
// their project with no delegation at all.
type Trusts interface {
	// Create makes the trust from the caller, whose token is callerToken,
	// to the service user, and returns its id.
	Create(ctx context.Context, callerToken string, c *actions.Caller) (trustID string, err error)
	// Consume gets a trust-scoped token for the trust and returns whom it
	// acts for (the trustor, with the delegated project and roles). The
	// token itself is not returned: fernetflow's actions use fernetflow's
	// own credentials, and tokens are never stored.
	Consume(ctx context.Context, trustID string) (*actions.Caller, error)
	// Delete deletes the trust; an unknown trust is no error.
	Delete(ctx context.Context, trustID string) error
}

// ErrTrustForbidden is Keystone refusing a trust: the caller's token
// cannot delegate (a trust-scoped token, say) or a trust is no longer
// valid (its trustor lost a delegated role, or was deleted).
var ErrTrustForbidden = errors.New("keystone refused the trust")

// KeystoneTrusts are Trusts in Keystone's OS-TRUST API.
type KeystoneTrusts struct {
	// URL is Keystone's endpoint, with or without /v3.
	URL string
	// ServiceToken returns the service user's (the trustee's) token,
	// project-scoped; the user needs the admin role to delete trusts it
	// did not make (Keystone's identity:delete_trust is admin or trustor).
	ServiceToken func(ctx context.Context) (string, error)
	// Client is the HTTP client; nil means one with a 15 s timeout.
	Client *http.Client

	mu        sync.Mutex
	serviceID string // the service user's id, learned once
}

func (k *KeystoneTrusts) base() string {
	return strings.TrimSuffix(strings.TrimSuffix(k.URL, "/"), "/v3") + "/v3"
}

// call sends one request to Keystone (with the headers hdr besides the
// token), and returns the status and body; want is the expected status.
func (k *KeystoneTrusts) call(ctx context.Context, method, path, token string, hdr map[string]string, body any, want int) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, k.base()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for h, v := range hdr {
		req.Header.Set(h, v)
	}
	client := k.Client
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("keystone %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("keystone %s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		msg := keystoneMessage(data)
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
			return resp.StatusCode, data, fmt.Errorf("%w: %s %s: HTTP %d: %s", ErrTrustForbidden, method, path, resp.StatusCode, msg)
		}
		return resp.StatusCode, data, fmt.Errorf("keystone %s %s: HTTP %d: %s", method, path, resp.StatusCode, msg)
	}
	return resp.StatusCode, data, nil
}

// keystoneMessage is the message of a Keystone error body (never a token:
// Keystone's errors hold none).
func keystoneMessage(data []byte) string {
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	if len(data) > 200 {
		data = data[:200]
	}
	return string(data)
}

func (k *KeystoneTrusts) serviceToken(ctx context.Context) (string, error) {
	if k.ServiceToken == nil {
		return "", errors.New("cron trigger trusts need fernetflow's service user: set OS_* (or --os-cloud) for fernetflow serve")
	}
	return k.ServiceToken(ctx)
}

// serviceUser is the id of the service user, from its own token.
func (k *KeystoneTrusts) serviceUser(ctx context.Context) (string, error) {
	k.mu.Lock()
	id := k.serviceID
	k.mu.Unlock()
	if id != "" {
		return id, nil
	}
	tok, err := k.serviceToken(ctx)
	if err != nil {
		return "", err
	}
	_, data, err := k.call(ctx, http.MethodGet, "/auth/tokens", tok, map[string]string{"X-Subject-Token": tok}, nil, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("the service user's own token: %w", err)
	}
	var v struct {
		Token struct{ User struct{ ID string } }
	}
	if err := json.Unmarshal(data, &v); err != nil || v.Token.User.ID == "" {
		return "", fmt.Errorf("the service user's own token: Keystone's answer has no user id (%v)", err)
	}
	k.mu.Lock()
	k.serviceID = v.Token.User.ID
	k.mu.Unlock()
	return v.Token.User.ID, nil
}

// Create implements Trusts: POST /v3/OS-TRUST/trusts with the caller's
// token, the caller's roles on its project, impersonation (the trust's
// tokens act as the trustor), no expiry and no redelegation, as Mistral.
func (k *KeystoneTrusts) Create(ctx context.Context, callerToken string, c *actions.Caller) (string, error) {
	trustee, err := k.serviceUser(ctx)
	if err != nil {
		return "", err
	}
	roles := []map[string]string{}
	for _, r := range c.Roles {
		roles = append(roles, map[string]string{"name": r})
	}
	body := map[string]any{"trust": map[string]any{
		"trustor_user_id": c.UserID, "trustee_user_id": trustee, "project_id": c.ProjectID,
		"impersonation": true, "roles": roles,
	}}
	_, data, err := k.call(ctx, http.MethodPost, "/OS-TRUST/trusts", callerToken, nil, body, http.StatusCreated)
	if err != nil {
		return "", fmt.Errorf("trust from user %s to fernetflow's service user on project %s: %w", c.UserID, c.ProjectID, err)
	}
	var v struct {
		Trust struct{ ID string } `json:"trust"`
	}
	if err := json.Unmarshal(data, &v); err != nil || v.Trust.ID == "" {
		return "", fmt.Errorf("trust from user %s: Keystone's answer has no trust id (%v)", c.UserID, err)
	}
	return v.Trust.ID, nil
}

// Consume implements Trusts: the service user rescopes its token to the
// trust (POST /v3/auth/tokens, method token, scope OS-TRUST:trust).
func (k *KeystoneTrusts) Consume(ctx context.Context, trustID string) (*actions.Caller, error) {
	tok, err := k.serviceToken(ctx)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": tok}},
		"scope":    map[string]any{"OS-TRUST:trust": map[string]any{"id": trustID}},
	}}
	_, data, err := k.call(ctx, http.MethodPost, "/auth/tokens", "", nil, body, http.StatusCreated)
	if err != nil {
		return nil, fmt.Errorf("trust %s: a trust-scoped token: %w", trustID, err)
	}
	var v struct {
		Token struct {
			User    struct{ ID, Name string }
			Project *struct {
				ID, Name string
				Domain   struct{ ID, Name string }
			}
			Roles []struct{ Name string }
			Trust *struct {
				ID string `json:"id"`
			} `json:"OS-TRUST:trust"`
		}
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("trust %s: Keystone's token: %w", trustID, err)
	}
	if v.Token.Trust == nil || v.Token.Trust.ID != trustID || v.Token.Project == nil {
		return nil, fmt.Errorf("trust %s: Keystone's token is not scoped to the trust and a project", trustID)
	}
	c := &actions.Caller{UserID: v.Token.User.ID, UserName: v.Token.User.Name, ProjectID: v.Token.Project.ID,
		ProjectName: v.Token.Project.Name, ProjectDomainID: v.Token.Project.Domain.ID, ProjectDomainName: v.Token.Project.Domain.Name}
	for _, r := range v.Token.Roles {
		c.Roles = append(c.Roles, r.Name)
	}
	return c, nil
}

// Delete implements Trusts with the service user's token (Keystone allows
// an admin or the trustor).
func (k *KeystoneTrusts) Delete(ctx context.Context, trustID string) error {
	tok, err := k.serviceToken(ctx)
	if err != nil {
		return err
	}
	code, _, err := k.call(ctx, http.MethodDelete, "/OS-TRUST/trusts/"+trustID, tok, nil, nil, http.StatusNoContent)
	if code == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete trust %s: %w", trustID, err)
	}
	return nil
}
