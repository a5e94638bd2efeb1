package softwareconfigs

import (
	"encoding/json"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// SoftwareConfig is a Heat software config.
type SoftwareConfig struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Group        string         `json:"group"`
	Config       string         `json:"config"`
	Inputs       []Input        `json:"inputs"`
	Outputs      []Output       `json:"outputs"`
	Options      map[string]any `json:"options"`
	ProjectID    string         `json:"project,omitempty"`
	CreationTime time.Time      `json:"-"`
}

// UnmarshalJSON reads Heat's creation_time, with or without a zone.
func (r *SoftwareConfig) UnmarshalJSON(b []byte) error {
	type tmp SoftwareConfig
	var s struct {
		tmp
		CreationTime string `json:"creation_time"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*r = SoftwareConfig(s.tmp)
	t, err := ParseTime(s.CreationTime)
	if err != nil {
		return err
	}
	r.CreationTime = t
	return nil
}

// ParseTime reads a Heat timestamp: RFC 3339, with or without the zone, or empty.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(gophercloud.RFC3339NoZ, s)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

type commonResult struct {
	gophercloud.Result
}

// Extract returns the software config of a Create or Get.
func (r commonResult) Extract() (*SoftwareConfig, error) {
	var s struct {
		SoftwareConfig *SoftwareConfig `json:"software_config"`
	}
	if err := r.ExtractInto(&s); err != nil {
		return nil, err
	}
	if s.SoftwareConfig == nil {
		return nil, errMissing("software_config")
	}
	return s.SoftwareConfig, nil
}

// CreateResult is the result of a Create.
type CreateResult struct{ commonResult }

// GetResult is the result of a Get.
type GetResult struct{ commonResult }

// DeleteResult is the result of a Delete.
type DeleteResult struct{ gophercloud.ErrResult }

// SoftwareConfigPage is one page of a List.
type SoftwareConfigPage struct {
	pagination.MarkerPageBase
}

// IsEmpty reports whether the page holds no config.
func (r SoftwareConfigPage) IsEmpty() (bool, error) {
	if r.StatusCode == 204 {
		return true, nil
	}
	s, err := ExtractSoftwareConfigs(r)
	return len(s) == 0, err
}

// LastMarker is the id of the page's last config, Heat's marker for the next page.
func (r SoftwareConfigPage) LastMarker() (string, error) {
	s, err := ExtractSoftwareConfigs(r)
	if err != nil || len(s) == 0 {
		return "", err
	}
	return s[len(s)-1].ID, nil
}

// ExtractSoftwareConfigs returns the configs of a List page.
func ExtractSoftwareConfigs(r pagination.Page) ([]SoftwareConfig, error) {
	var s struct {
		SoftwareConfigs []SoftwareConfig `json:"software_configs"`
	}
	err := (r.(SoftwareConfigPage)).ExtractInto(&s)
	return s.SoftwareConfigs, err
}

type errMissing string

func (e errMissing) Error() string {
	return "heat response has no " + string(e) + " object"
}
