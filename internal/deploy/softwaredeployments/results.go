package softwaredeployments

import (
	"encoding/json"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
)

// SoftwareDeployment is a Heat software deployment.
type SoftwareDeployment struct {
	ID           string         `json:"id"`
	ConfigID     string         `json:"config_id"`
	ServerID     string         `json:"server_id"`
	Action       string         `json:"action"`
	Status       string         `json:"status"`
	StatusReason string         `json:"status_reason"`
	InputValues  map[string]any `json:"input_values"`
	OutputValues map[string]any `json:"output_values"`
	CreationTime time.Time      `json:"-"`
	UpdatedTime  time.Time      `json:"-"`
}

// UnmarshalJSON reads Heat's timestamps, with or without a zone.
func (r *SoftwareDeployment) UnmarshalJSON(b []byte) error {
	type tmp SoftwareDeployment
	var s struct {
		tmp
		CreationTime string `json:"creation_time"`
		UpdatedTime  string `json:"updated_time"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*r = SoftwareDeployment(s.tmp)
	var err error
	if r.CreationTime, err = softwareconfigs.ParseTime(s.CreationTime); err != nil {
		return err
	}
	r.UpdatedTime, err = softwareconfigs.ParseTime(s.UpdatedTime)
	return err
}

type commonResult struct {
	gophercloud.Result
}

// Extract returns the deployment of a Create, Get or Update.
func (r commonResult) Extract() (*SoftwareDeployment, error) {
	var s struct {
		SoftwareDeployment *SoftwareDeployment `json:"software_deployment"`
	}
	if err := r.ExtractInto(&s); err != nil {
		return nil, err
	}
	if s.SoftwareDeployment == nil {
		return nil, errMissing("software_deployment")
	}
	return s.SoftwareDeployment, nil
}

// CreateResult is the result of a Create.
type CreateResult struct{ commonResult }

// GetResult is the result of a Get.
type GetResult struct{ commonResult }

// UpdateResult is the result of an Update.
type UpdateResult struct{ commonResult }

// DeleteResult is the result of a Delete.
type DeleteResult struct{ gophercloud.ErrResult }

// MetadataResult is the result of a Metadata call.
type MetadataResult struct{ gophercloud.Result }

// Extract returns the configs Heat publishes to the server, oldest first.
func (r MetadataResult) Extract() ([]softwareconfigs.SoftwareConfig, error) {
	var s struct {
		Metadata *[]softwareconfigs.SoftwareConfig `json:"metadata"`
	}
	if err := r.ExtractInto(&s); err != nil {
		return nil, err
	}
	if s.Metadata == nil {
		return nil, errMissing("metadata")
	}
	return *s.Metadata, nil
}

// SoftwareDeploymentPage is one page of a List.
type SoftwareDeploymentPage struct {
	pagination.SinglePageBase
}

// IsEmpty reports whether the page holds no deployment.
func (r SoftwareDeploymentPage) IsEmpty() (bool, error) {
	if r.StatusCode == 204 {
		return true, nil
	}
	s, err := ExtractSoftwareDeployments(r)
	return len(s) == 0, err
}

// ExtractSoftwareDeployments returns the deployments of a List page.
func ExtractSoftwareDeployments(r pagination.Page) ([]SoftwareDeployment, error) {
	var s struct {
		SoftwareDeployments []SoftwareDeployment `json:"software_deployments"`
	}
	err := (r.(SoftwareDeploymentPage)).ExtractInto(&s)
	return s.SoftwareDeployments, err
}

type errMissing string

func (e errMissing) Error() string {
	return "heat response has no " + string(e) + " object"
}
