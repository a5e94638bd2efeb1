package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/wire"
)

// The transport between Heat and this package: what os-collect-config's
// command (`fernetflow node collect`) and heat-config's hook
// (`fernetflow node hook`) do with a deployment.
//
// A fernetflow deployment is a Heat (derived) software config of group
// "fernetflow" whose config text is "enroll" or "install" and whose inputs
// carry values: "envelope" (install: the armored envelope) and Heat's
// deploy_* inputs (deploy_server_id, deploy_signal_transport,
// deploy_signal_id, deploy_signal_verb, and for HEAT_SIGNAL the deploy_*
// credentials). Its outputs are heat-config's deploy_stdout (the JSON node
// enroll/install print), deploy_stderr (the error, if any) and
// deploy_status_code (0, 1 on a refusal or failure, 75 when another install
// held the lock), plus the fields of the result as named outputs:
// server_id and recipient (enroll), generation, fingerprint and changed
// (install).

// HeatGroup is the software config group this package applies.
const HeatGroup = "fernetflow"

// HeatConfig is one deployment as Heat publishes it in a server's metadata
// (a derived config), and as heat-config passes it to a hook on stdin.
type HeatConfig struct {
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Group   string         `json:"group"`
	Config  any            `json:"config"`
	Inputs  []HeatInput    `json:"inputs"`
	Options map[string]any `json:"options,omitempty"`
}

// HeatInput is one input of a derived config.
type HeatInput struct {
	Name  string `json:"name"`
	Type  string `json:"type,omitempty"`
	Value any    `json:"value"`
}

// Input returns the value of an input as a string ("" when absent); JSON
// values that are not strings are returned as their JSON text.
func (c HeatConfig) Input(name string) string {
	for _, in := range c.Inputs {
		if in.Name != name {
			continue
		}
		switch v := in.Value.(type) {
		case nil:
			return ""
		case string:
			return v
		default:
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	return ""
}

// TransportOptions say how this node applies and signals deployments.
type TransportOptions struct {
	// Install holds the state directory, key repository, pinned signer and
	// owner. Its ServerID, when set, must equal each deployment's
	// deploy_server_id; when empty, deploy_server_id is this node's id.
	Install InstallOptions
	// HTTPClient signals (default: a client with a 60s timeout).
	HTTPClient *http.Client
	// Logger receives one line per deployment; never key material or
	// signal URLs (they hold secrets).
	Logger *slog.Logger
}

func (o TransportOptions) log() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ApplyHeatConfig runs one fernetflow deployment (enroll or install) and
// returns its outputs in heat-config's shape. It never returns an error:
// a failure is deploy_status_code 1 with the error in deploy_stderr, which
// is what the undercloud must see.
func ApplyHeatConfig(ctx context.Context, c HeatConfig, o TransportOptions) map[string]any {
	res, err := applyHeatConfig(ctx, c, o)
	out := map[string]any{"deploy_stdout": "", "deploy_stderr": "", "deploy_status_code": 0}
	if err != nil {
		out["deploy_stderr"] = err.Error()
		out["deploy_status_code"] = 1
		if errors.Is(err, ErrBusy) {
			out["deploy_status_code"] = 75
		}
		o.log().Warn("deployment failed", "deployment", c.ID, "server_id", c.Input("deploy_server_id"), "err", err)
		return out
	}
	b, _ := json.Marshal(res)
	var fields map[string]any
	_ = json.Unmarshal(b, &fields)
	for k, v := range fields {
		out[k] = v
	}
	// deploy_stdout is for a person reading the deployment: the result
	// without the observation (a separate output, for the undercloud).
	delete(fields, "observation")
	if len(fields) > 0 {
		b, _ = json.MarshalIndent(fields, "", "  ")
		out["deploy_stdout"] = string(b) + "\n"
	}
	o.log().Info("deployment applied", "deployment", c.ID, "server_id", c.Input("deploy_server_id"), "config", configText(c))
	return out
}

func configText(c HeatConfig) string {
	s, _ := c.Config.(string)
	return strings.TrimSpace(s)
}

func applyHeatConfig(ctx context.Context, c HeatConfig, o TransportOptions) (any, error) {
	if c.Group != HeatGroup {
		return nil, fmt.Errorf("node: deployment %s is of group %q, not %q", c.ID, c.Group, HeatGroup)
	}
	server := c.Input("deploy_server_id")
	opts := o.Install
	switch {
	case opts.ServerID == "" && server == "":
		return nil, fmt.Errorf("%w: deployment %s has no deploy_server_id and none was given", ErrNoServerID, c.ID)
	case opts.ServerID == "":
		opts.ServerID = server
	case server != "" && server != opts.ServerID:
		return nil, fmt.Errorf("node: deployment %s is for server %s, this node is %s: refusing it", c.ID, server, opts.ServerID)
	}
	switch what := configText(c); what {
	case PinSignerConfig:
		return applyPinSigner(c, opts)
	case "enroll":
		return Enroll(opts.StateDir, opts.ServerID, time.Now())
	case "install":
		env := c.Input("envelope")
		if env == "" {
			return nil, fmt.Errorf("node: install deployment %s has no envelope input", c.ID)
		}
		if opts.Logger == nil {
			opts.Logger = o.Logger
		}
		tokens, err := probeTokens(c)
		if err != nil {
			return nil, err
		}
		opts.ProbeTokens = tokens
		// The undercloud sets allow_fewer only for a node the operator chose
		// to overwrite (--overwrite-drifted, --adopt-from).
		opts.AllowFewer = opts.AllowFewer || c.Input("allow_fewer") == "true"
		return Install(ctx, []byte(env), opts)
	case "report":
		tokens, err := probeTokens(c)
		if err != nil {
			return nil, err
		}
		ro := ReportOptions{StateDir: opts.StateDir, KeyRepository: opts.KeyRepository, ServerID: opts.ServerID,
			Owner: opts.Owner, ProbeTokens: tokens, AdoptRequest: c.Input("adopt_request")}
		if opts.Signer != (envelope.PublicKey{}) {
			ro.Signer = &opts.Signer
		}
		return reportResult(ctx, ro)
	default:
		return nil, fmt.Errorf("node: deployment %s: unknown fernetflow config %q (want report, install or enroll): upgrade fernetflow on this node", c.ID, what)
	}
}

// probeTokens reads a deployment's probe_tokens input: a JSON list of
// strings (Heat may pass it as the list or as its JSON text).
func probeTokens(c HeatConfig) ([]string, error) {
	raw := c.Input("probe_tokens")
	if raw == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("node: deployment %s: probe_tokens is not a JSON list of strings", c.ID)
	}
	return out, nil
}

// ReportResult is what a report deployment and `fernetflow node report`
// print: the observation, and a one-line summary for a person reading
// os-collect-config's log.
type ReportResult struct {
	Observation *wire.Observation `json:"observation"`
}

func reportResult(ctx context.Context, o ReportOptions) (*ReportResult, error) {
	obs, err := Report(ctx, o)
	if err != nil {
		return nil, err
	}
	return &ReportResult{Observation: obs}, nil
}

// CollectOptions configure Collect.
type CollectOptions struct {
	TransportOptions
	// ConfigFiles are the metadata files os-collect-config passes in
	// OS_CONFIG_FILES (colon-separated there); each holds a
	// "deployments" list.
	ConfigFiles []string
}

// CollectedDeployment is what Collect did with one deployment.
type CollectedDeployment struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	ServerID   string         `json:"server_id"`
	Transport  string         `json:"signal_transport"`
	StatusCode int            `json:"deploy_status_code"`
	Outputs    map[string]any `json:"outputs"`
	// Signalled is false for NO_SIGNAL, or when signalling failed (see
	// Collect's error).
	Signalled bool `json:"signalled"`
	// Undelivered says why a signal was given up: its receiver is gone
	// (the undercloud run that pushed the deployment has ended). Nothing
	// needs doing: the next run reads the node's state itself.
	Undelivered string `json:"undelivered,omitempty"`
}

// CollectReport lists what a Collect run did.
type CollectReport struct {
	Applied []CollectedDeployment `json:"applied"`
	// Skipped counts deployments of other groups or applied before.
	Skipped int `json:"skipped"`
}

// collectRecord is STATE_DIR/heat/<deployment id>.json: the outputs of an
// applied deployment and whether they reached the undercloud.
type collectRecord struct {
	Outputs   map[string]any `json:"outputs"`
	Signalled bool           `json:"signalled"`
	// Refused counts signals whose connection was refused in a row;
	// Undelivered is set when the signal was given up (see ErrSignalGone).
	Refused     int    `json:"refused,omitempty"`
	Undelivered string `json:"undelivered,omitempty"`
}

// ErrSignalGone is wrapped by SignalHeat's error when the signal's
// receiver is gone: it answered 404 or 410 (fernetflow's receiver does for
// a deployment no run waits for), or refused the connection.
var ErrSignalGone = errors.New("nothing waits for this signal any more")

// errSignalRefused is ErrSignalGone for a refused connection, which is
// given one more run (a restarting receiver refuses too).
var errSignalRefused = fmt.Errorf("connection refused: %w", ErrSignalGone)

// errSignalTaken is ErrSignalGone for a receiver that took another signal
// for this deployment first (HTTP 409): sending again cannot help. If this
// node did not send that signal, someone else holds its signal URL.
var errSignalTaken = fmt.Errorf("the receiver accepted another signal for this deployment first: %w", ErrSignalGone)

// errSignalUnusable is ErrSignalGone for a deployment that cannot be
// signalled at all (no transport, a URL that does not parse): it never
// will be.
var errSignalUnusable = fmt.Errorf("this deployment cannot be signalled: %w", ErrSignalGone)

// Collect is os-collect-config's command: it reads the cached metadata,
// applies every fernetflow deployment not applied before (oldest first),
// and signals each per its deploy_signal_transport: TEMP_URL_SIGNAL (or any
// deploy_signal_id) by deploy_signal_verb to that URL, HEAT_SIGNAL to the
// stack resource with the deploy_* credentials, NO_SIGNAL not at all.
// Deployments of other groups are ignored.
//
// A deployment is applied once: its outputs are kept in STATE_DIR/heat/,
// and a signal that failed is sent again by the next run without applying
// again. Collect returns an error when any signal failed, so that
// os-collect-config keeps the metadata marked as not applied and runs it
// again. A signal whose receiver is gone (ErrSignalGone: HTTP 404 or 410
// at once, or a connection refused on two runs in a row) is not an error:
// the deployment belongs to an undercloud run that has ended (failed or
// interrupted), nothing waits for it, and the node's repository already
// holds what it applied. It is recorded (Undelivered), logged once at
// INFO, and never sent again.
func Collect(ctx context.Context, o CollectOptions) (*CollectReport, error) {
	if o.Install.StateDir == "" {
		return nil, ErrNoStateDir
	}
	if len(o.ConfigFiles) == 0 {
		return nil, fmt.Errorf("%w: OS_CONFIG_FILES is empty (run me as os-collect-config's command)", ErrNoMetadata)
	}
	rep := &CollectReport{Applied: []CollectedDeployment{}}
	var errs []error
	var deployments []parsedDeployment
	for _, f := range o.ConfigFiles {
		ds, skipped, err := readMetadata(f)
		if err != nil {
			// One unreadable file does not block the others.
			errs = append(errs, err)
			continue
		}
		rep.Skipped += skipped
		deployments = append(deployments, ds...)
	}
	if len(deployments) == 0 && len(errs) > 0 {
		return rep, fmt.Errorf("node: collect: %w", errors.Join(errs...))
	}
	dir := filepath.Join(o.Install.StateDir, "heat")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("node: collect: %w", err)
	}
	for _, d := range deployments {
		c := d.HeatConfig
		path := filepath.Join(dir, recordName(c.ID))
		var rec collectRecord
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &rec) == nil && rec.Outputs != nil {
			if rec.Signalled {
				rep.Skipped++
				continue
			}
		} else {
			if d.problem == "" && !canSignal(c) {
				d.problem = fmt.Sprintf("signal transport %q without deploy_signal_id or deploy_auth_url: its result could reach nobody", c.Input("deploy_signal_transport"))
			}
			if d.problem != "" {
				rec = collectRecord{Outputs: refusedOutputs(fmt.Errorf("node: deployment %s: %s: not applied", printableID(c.ID), d.problem))}
				o.log().Warn("deployment refused", "deployment", printableID(c.ID), "reason", d.problem)
			} else {
				rec = collectRecord{Outputs: ApplyHeatConfig(ctx, c, o.TransportOptions)}
			}
			if err := writeRecord(path, rec); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		transport := c.Input("deploy_signal_transport")
		cd := CollectedDeployment{ID: c.ID, Name: c.Name, ServerID: c.Input("deploy_server_id"), Transport: transport,
			StatusCode: statusCode(rec.Outputs), Outputs: rec.Outputs}
		signalled, err := SignalHeat(ctx, c, rec.Outputs, o.TransportOptions)
		if errors.Is(err, ErrSignalGone) {
			if errors.Is(err, errSignalRefused) && rec.Refused == 0 {
				// Once may be a restart of the undercloud's fernetflow:
				// try again on the next run.
				rec.Refused++
			} else {
				rec.Signalled, rec.Undelivered = true, err.Error()
				cd.Undelivered = rec.Undelivered
				switch {
				case errors.Is(err, errSignalTaken):
					o.log().Warn("signal not delivered: the undercloud took another signal for this deployment first; if this node did not send it, someone else holds its signal URL; it is not sent again",
						"deployment", printableID(c.ID), "server_id", cd.ServerID, "reason", rec.Undelivered)
				case errors.Is(err, errSignalUnusable):
					o.log().Warn("signal not delivered: this deployment cannot be signalled; it is not sent again",
						"deployment", printableID(c.ID), "server_id", cd.ServerID, "reason", rec.Undelivered)
				default:
					o.log().Info("signal not delivered: the undercloud run that pushed this deployment has ended; nothing needs doing (the next run reads this node's state itself), and it is not sent again",
						"deployment", printableID(c.ID), "server_id", cd.ServerID, "reason", rec.Undelivered)
				}
				err = nil
			}
			if werr := writeRecord(path, rec); werr != nil {
				errs = append(errs, werr)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("deployment %s: %w", printableID(c.ID), err))
		} else if cd.Undelivered == "" {
			rec.Signalled = true
			cd.Signalled = signalled
			if err := writeRecord(path, rec); err != nil {
				errs = append(errs, err)
			}
		}
		rep.Applied = append(rep.Applied, cd)
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("node: collect: %w", err)
	}
	return rep, nil
}

// parsedDeployment is a fernetflow deployment read from the metadata, and
// what is wrong with it ("" when nothing is).
type parsedDeployment struct {
	HeatConfig
	problem string
}

// maxMetadata bounds a metadata file (Heat's own limit on a server's
// metadata is far lower).
const maxMetadata = 64 << 20

// readMetadata reads the fernetflow deployments of one metadata file and
// counts the others. Deployments of other groups are not ours: whatever
// their shape, they are skipped. A fernetflow deployment that does not
// parse is returned with its problem, to be refused alone.
func readMetadata(path string) ([]parsedDeployment, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetadata+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxMetadata {
		return nil, 0, fmt.Errorf("%s is over %d bytes: not os-collect-config metadata", path, maxMetadata)
	}
	var md struct {
		Deployments []json.RawMessage `json:"deployments"`
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, 0, fmt.Errorf("%s is not os-collect-config metadata: %w", path, err)
	}
	var out []parsedDeployment
	skipped := 0
	for _, raw := range md.Deployments {
		var head struct {
			Group any `json:"group"`
		}
		if json.Unmarshal(raw, &head) != nil || head.Group != HeatGroup {
			skipped++
			continue
		}
		out = append(out, parseDeployment(raw))
	}
	return out, skipped, nil
}

// parseDeployment reads a fernetflow deployment field by field, keeping
// what parses (its id and signal inputs, to refuse it with a signal) and
// naming what does not.
func parseDeployment(raw json.RawMessage) parsedDeployment {
	var d parsedDeployment
	d.Group = HeatGroup
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(raw, &fields) // an object: its group parsed
	var problems []string
	if json.Unmarshal(fields["id"], &d.ID) != nil {
		problems = append(problems, "its id is not a string")
	}
	_ = json.Unmarshal(fields["name"], &d.Name)
	_ = json.Unmarshal(fields["config"], &d.Config)
	_ = json.Unmarshal(fields["options"], &d.Options)
	if in, ok := fields["inputs"]; ok && string(in) != "null" {
		var list []json.RawMessage
		if json.Unmarshal(in, &list) != nil {
			problems = append(problems, "its inputs are not a list")
		}
		for i, e := range list {
			var hi HeatInput
			if err := json.Unmarshal(e, &hi); err != nil || hi.Name == "" {
				problems = append(problems, fmt.Sprintf("input %d is not an object with a name", i))
				continue
			}
			d.Inputs = append(d.Inputs, hi)
		}
	}
	if !validID(d.ID) {
		problems = append(problems, fmt.Sprintf("id %s is not a deployment id (1 to %d letters, digits, '.', '_' or '-')", printableID(d.ID), maxIDLen))
	}
	d.problem = strings.Join(problems, "; ")
	return d
}

// maxIDLen bounds a deployment id (Heat's are 36-character UUIDs): it
// names a file of STATE_DIR/heat.
const maxIDLen = 128

func validID(id string) bool {
	if id == "" || len(id) > maxIDLen || id == "." || id == ".." {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// printableID is an id for logs and errors: quoted, and cut when long.
func printableID(id string) string {
	if len(id) > 80 {
		id = id[:80] + "..."
	}
	return strconv.Quote(id)[1 : len(strconv.Quote(id))-1]
}

// recordName is the file of STATE_DIR/heat that records deployment id: the
// id itself, or for an id that cannot name a file, a digest of it.
func recordName(id string) string {
	if validID(id) {
		return id + ".json"
	}
	sum := sha256.Sum256([]byte(id))
	return "invalid-id-" + hex.EncodeToString(sum[:16]) + ".json"
}

// canSignal reports whether SignalHeat can report c's result (or need not).
func canSignal(c HeatConfig) bool {
	t := c.Input("deploy_signal_transport")
	return t == "NO_SIGNAL" || c.Input("deploy_signal_id") != "" || t == "HEAT_SIGNAL" || c.Input("deploy_auth_url") != ""
}

// refusedOutputs are the outputs of a deployment refused without applying it.
func refusedOutputs(err error) map[string]any {
	return map[string]any{"deploy_stdout": "", "deploy_stderr": err.Error(), "deploy_status_code": 1}
}

func statusCode(out map[string]any) int {
	switch v := out["deploy_status_code"].(type) {
	case int:
		return v
	case float64:
		return int(v)
	}
	return 0
}

func writeRecord(path string, rec collectRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("node: collect: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("node: collect: %w", err)
	}
	return nil
}

// SignalHeat sends a deployment's outputs back per its
// deploy_signal_transport, as heat-config-notify does. It reports whether a
// signal was sent (false for NO_SIGNAL).
func SignalHeat(ctx context.Context, c HeatConfig, outputs map[string]any, o TransportOptions) (bool, error) {
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	body, err := json.Marshal(outputs)
	if err != nil {
		return false, err
	}
	transport := c.Input("deploy_signal_transport")
	switch {
	case transport == "NO_SIGNAL":
		return false, nil
	case c.Input("deploy_signal_id") != "":
		verb := strings.ToUpper(c.Input("deploy_signal_verb"))
		if verb == "" {
			verb = http.MethodPost
		}
		return true, send(ctx, hc, verb, c.Input("deploy_signal_id"), "", body)
	case transport == "HEAT_SIGNAL" || c.Input("deploy_auth_url") != "":
		return true, heatSignal(ctx, hc, c, body)
	default:
		return false, fmt.Errorf("node: deployment %s: signal transport %q without deploy_signal_id or deploy_auth_url: %w", printableID(c.ID), transport, errSignalUnusable)
	}
}

// send makes one signal request; the URL is never put in errors (it may
// hold a secret).
func send(ctx context.Context, hc *http.Client, method, url, token string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("node: bad signal URL: %w", errSignalUnusable)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap() // drop the URL
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("node: signal %s %s: %w", method, req.URL.Host, errSignalRefused)
		}
		return fmt.Errorf("node: signal %s %s: %w", method, req.URL.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusConflict {
		return fmt.Errorf("node: signal %s %s: HTTP 409: %w", method, req.URL.Host, errSignalTaken)
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return fmt.Errorf("node: signal %s %s: HTTP %d: %w", method, req.URL.Host, resp.StatusCode, ErrSignalGone)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("node: signal %s %s: HTTP %d", method, req.URL.Host, resp.StatusCode)
	}
	return nil
}

// maxTokenResponse bounds Keystone's answer to the deploy user's
// authentication (a token with its service catalog, a few KiB to a few
// hundred KiB on a large cloud).
const maxTokenResponse = 4 << 20

// heatSignal signals the stack resource with the deploy user's credentials.
func heatSignal(ctx context.Context, hc *http.Client, c HeatConfig, body []byte) error {
	auth := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"id": c.Input("deploy_user_id"), "password": c.Input("deploy_password")}}},
		"scope": map[string]any{"project": map[string]any{"id": c.Input("deploy_project_id")}},
	}}
	ab, _ := json.Marshal(auth)
	authURL := strings.TrimSuffix(c.Input("deploy_auth_url"), "/")
	if !strings.HasSuffix(authURL, "/v3") {
		authURL += "/v3"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, authURL+"/auth/tokens", bytes.NewReader(ab))
	if err != nil {
		return fmt.Errorf("node: HEAT_SIGNAL: deploy_auth_url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("node: HEAT_SIGNAL: authenticate: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("node: HEAT_SIGNAL: authenticate as the deploy user at %s: HTTP %d", authURL, resp.StatusCode)
	}
	var tok struct {
		Token struct {
			Catalog []struct {
				Type      string `json:"type"`
				Endpoints []struct {
					Interface string `json:"interface"`
					Region    string `json:"region_id"`
					URL       string `json:"url"`
				} `json:"endpoints"`
			} `json:"catalog"`
		} `json:"token"`
	}
	tokBody, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return fmt.Errorf("node: HEAT_SIGNAL: token response: %w", err)
	}
	if len(tokBody) > maxTokenResponse {
		return fmt.Errorf("node: HEAT_SIGNAL: token response from %s is over %d bytes: refusing it", authURL, maxTokenResponse)
	}
	if err := json.Unmarshal(tokBody, &tok); err != nil {
		return fmt.Errorf("node: HEAT_SIGNAL: token response: %w", err)
	}
	region := c.Input("deploy_region_name")
	var heat string
	for _, s := range tok.Token.Catalog {
		if s.Type != "orchestration" {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Interface == "public" && (region == "" || e.Region == region) {
				heat = strings.TrimSuffix(e.URL, "/")
			}
		}
	}
	if heat == "" {
		return fmt.Errorf("node: HEAT_SIGNAL: no public orchestration endpoint in region %q", region)
	}
	url := fmt.Sprintf("%s/stacks/%s/resources/%s/signal", heat, c.Input("deploy_stack_id"), c.Input("deploy_resource_name"))
	return send(ctx, hc, http.MethodPost, url, resp.Header.Get("X-Subject-Token"), body)
}
