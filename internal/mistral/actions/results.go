package actions

import (
	"encoding/json"
	"net/url"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Action is an action as Mistral describes it.
type Action struct {
	// ID is the action's unique id.
	ID string `json:"id"`
	// Name is the action's name, unique in its namespace.
	Name string `json:"name"`
	// Namespace is the action's namespace ("" for none).
	Namespace string `json:"namespace"`
	// Description is the action's description.
	Description string `json:"description"`
	// Definition is the YAML document the action was created from (the
	// whole document, with any other action it holds); empty for system
	// actions.
	Definition string `json:"definition"`
	// Input lists the action's parameters, comma separated, with their
	// defaults ("servers, adopt_from=\"\"").
	Input string `json:"input"`
	// Tags are the action's tags.
	Tags []string `json:"tags"`
	// IsSystem is true for Mistral's own actions (std.*, and those of
	// installed action packs), which cannot be changed.
	IsSystem bool `json:"is_system"`
	// Scope is "private" or "public".
	Scope string `json:"scope"`
	// ProjectID is the project that owns the action.
	ProjectID string `json:"project_id"`
	// CreatedAt and UpdatedAt are when the action was created and last
	// updated (UpdatedAt nil: never).
	CreatedAt time.Time  `json:"-"`
	UpdatedAt *time.Time `json:"-"`
}

// UnmarshalJSON decodes Mistral's dates.
func (r *Action) UnmarshalJSON(b []byte) error {
	type tmp Action
	var s struct {
		tmp
		CreatedAt gophercloud.JSONRFC3339ZNoTNoZ  `json:"created_at"`
		UpdatedAt *gophercloud.JSONRFC3339ZNoTNoZ `json:"updated_at"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*r = Action(s.tmp)
	r.CreatedAt = time.Time(s.CreatedAt)
	if s.UpdatedAt != nil {
		t := time.Time(*s.UpdatedAt)
		r.UpdatedAt = &t
	}
	return nil
}

type actionsResult struct {
	gophercloud.Result
}

// Extract returns the actions the definition created or updated.
func (r actionsResult) Extract() ([]Action, error) {
	var s struct {
		Actions []Action `json:"actions"`
	}
	err := r.ExtractInto(&s)
	return s.Actions, err
}

// CreateResult is the answer to Create: call Extract for the actions.
type CreateResult struct {
	actionsResult
}

// UpdateResult is the answer to Update: call Extract for the actions.
type UpdateResult struct {
	actionsResult
}

// GetResult is the answer to Get: call Extract for the action.
type GetResult struct {
	gophercloud.Result
}

// Extract returns the action.
func (r GetResult) Extract() (*Action, error) {
	var s Action
	if err := r.ExtractInto(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DeleteResult is the answer to Delete: call ExtractErr.
type DeleteResult struct {
	gophercloud.ErrResult
}

// ActionPage is one page of a List.
type ActionPage struct {
	pagination.LinkedPageBase
}

// IsEmpty says whether the page holds no action.
func (r ActionPage) IsEmpty() (bool, error) {
	if r.StatusCode == 204 {
		return true, nil
	}
	a, err := ExtractActions(r)
	return len(a) == 0, err
}

// NextPageURL returns the next page's URL: Mistral's "next" link's query
// on this page's URL, so that the pages are read from the endpoint the
// client uses even when Mistral, behind a proxy, names another host.
func (r ActionPage) NextPageURL() (string, error) {
	var s struct {
		Next string `json:"next"`
	}
	if err := r.ExtractInto(&s); err != nil || s.Next == "" {
		return "", err
	}
	next, err := url.Parse(s.Next)
	if err != nil {
		return "", err
	}
	u := r.URL
	u.RawQuery = next.RawQuery
	return u.String(), nil
}

// ExtractActions returns the actions of a page.
func ExtractActions(r pagination.Page) ([]Action, error) {
	var s struct {
		Actions []Action `json:"actions"`
	}
	err := (r.(ActionPage)).ExtractInto(&s)
	return s.Actions, err
}
