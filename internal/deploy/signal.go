package deploy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
)

// DefaultSignalListen is where a Receiver listens unless told otherwise:
// loopback only, any free port.
const DefaultSignalListen = "127.0.0.1:0"

// maxSignalBody bounds a signal: Heat itself refuses bodies over 1 MiB.
const maxSignalBody = 1 << 20

// ReceiverOptions configure a Receiver.
type ReceiverOptions struct {
	// Listen is the address to listen on (--signal-listen), default
	// 127.0.0.1:0. Listening on another address exposes the receiver to
	// whoever reaches it; every signal URL still carries its own secret.
	Listen string
	// BaseURL is the URL the nodes use to reach the receiver, when it is
	// not http://<listen address> (a proxy, or a routable address).
	BaseURL string
	// AdvertiseHost, when BaseURL is empty, is the host of the URL with
	// the port listened on: for a wildcard Listen (":8991"), which nodes
	// cannot dial (see ResolveSignalAddress).
	AdvertiseHost string
	// Log receives one line per signal (server, deployment, status); the
	// secrets are never logged.
	Log *slog.Logger
	// UpdateTimeout bounds the Heat update a signal triggers (default 30s).
	UpdateTimeout time.Duration
	// Key, when set (at least 32 bytes, see LoadOrCreateSignalKey), makes
	// signal URLs that outlive this receiver: each secret is an HMAC of the
	// URL's id, which names the server, so a later receiver with the same
	// key (a restarted fernetflow on the same --signal-listen) accepts a
	// signal it never registered and finds its deployment in Heat (the one
	// whose derived config holds that URL). Without a key, a signal reaches
	// only the receiver that made its URL.
	Key []byte
}

// Receiver receives the signals nodes PUT (or POST) to their deployment's
// signal URL, authenticates each with its per-deployment secret, records
// the outputs and marks the Heat deployment COMPLETE (deploy_status_code
// 0 or absent) or FAILED, with PUT /software_deployments/{id}, as Heat does
// for the signals it receives itself.
//
// It answers 200 once Heat has been updated, 404 for an unknown signal or a
// wrong secret (which are not told apart to the caller), 405 for other
// methods, 400 for a body that is not a JSON object, and 502 when Heat
// could not be updated (the node may signal again). A deployment action
// takes one signal: once one is recorded (or while it is being recorded),
// another to the same URL is refused with 409 and logged at WARN, and the
// first one's outputs stand. With trust-on-first-use pinning of a node's
// recipient, a second signal that overwrote the first would let whoever
// else holds the URL race enrollment. An unknown signal is
// almost always a deployment of an earlier run, applied by a node after
// that run ended: it is logged at INFO as such, and `fernetflow node
// collect` takes the 404 as "nothing waits for this" and moves on. A
// wrong secret for a signal this receiver knows is logged at WARN.
//
// GET (or HEAD) on a signal URL answers 200 when this receiver would
// accept that signal and 404 otherwise, recording nothing: CleanupStale
// asks it whether a deployment's signal still has somewhere to go.
type Receiver struct {
	client *gophercloud.ServiceClient
	log    *slog.Logger
	base   string
	upd    time.Duration

	ln  net.Listener
	srv *http.Server

	key []byte

	mu   sync.Mutex
	regs map[string]*registration
}

type registration struct {
	id, secret string
	server     string
	bound      chan struct{} // closed by Bind
	deployment string
	done       chan struct{} // closed on the first recorded signal
	outputs    map[string]any
	status     string
	// claimed is set while a signal is being recorded, and stays set once
	// it is: a deployment action takes one signal.
	claimed bool
}

// Signal is one registered signal URL.
type Signal struct {
	// ID identifies the registration; it is not secret.
	ID string
	// URL is what the node PUTs its outputs to; it holds the secret.
	URL string
}

// NewReceiver starts a receiver that updates deployments through c. Close
// stops it.
func NewReceiver(c *gophercloud.ServiceClient, opts ReceiverOptions) (*Receiver, error) {
	listen := opts.Listen
	if listen == "" {
		listen = DefaultSignalListen
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, signalAddrErr(fmt.Errorf("deploy: signal receiver: listen on %s: %w", listen, err))
	}
	if opts.Key != nil && len(opts.Key) < 32 {
		ln.Close()
		return nil, fmt.Errorf("deploy: signal receiver: key is %d bytes, want at least 32", len(opts.Key))
	}
	r := &Receiver{
		client: c, log: opts.Log, ln: ln, regs: map[string]*registration{}, key: opts.Key,
		base: strings.TrimSuffix(opts.BaseURL, "/"), upd: opts.UpdateTimeout,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.upd <= 0 {
		r.upd = 30 * time.Second
	}
	if r.base == "" {
		r.base = "http://" + ln.Addr().String()
		if opts.AdvertiseHost != "" {
			r.base = "http://" + net.JoinHostPort(opts.AdvertiseHost, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/signal/{id}/{secret}", r.handle)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Addr is the address the receiver listens on.
func (r *Receiver) Addr() string { return r.ln.Addr().String() }

// BaseURL is the URL the nodes are given, without the path and secret of
// each signal: safe to log.
func (r *Receiver) BaseURL() string { return r.base }

// Close stops the receiver; signals arriving later are refused.
func (r *Receiver) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.srv.Shutdown(ctx)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Register makes a signal URL for a deployment to the server with this
// name (for logs and errors) and id. Bind must follow once the deployment
// exists.
func (r *Receiver) Register(server, serverID string) Signal {
	reg := &registration{
		id: randomHex(12), secret: randomHex(32), server: server,
		bound: make(chan struct{}), done: make(chan struct{}),
	}
	if r.key != nil {
		reg.id += "." + base64.RawURLEncoding.EncodeToString([]byte(serverID))
		reg.secret = r.mac(reg.id)
	}
	r.mu.Lock()
	r.regs[reg.id] = reg
	r.mu.Unlock()
	return Signal{ID: reg.id, URL: r.base + "/signal/" + reg.id + "/" + reg.secret}
}

// Bind ties a registered signal to the Heat deployment it completes.
func (r *Receiver) Bind(signalID, deploymentID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if reg, ok := r.regs[signalID]; ok && reg.deployment == "" {
		reg.deployment = deploymentID
		close(reg.bound)
	}
}

// Forget drops a registration: its URL is refused from then on.
func (r *Receiver) Forget(signalID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.regs, signalID)
}

// Done returns a channel closed once the signal has been received and
// recorded in Heat, or nil for an unknown id.
func (r *Receiver) Done(signalID string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if reg, ok := r.regs[signalID]; ok {
		return reg.done
	}
	return nil
}

// Outputs returns the outputs and status recorded for a signal.
func (r *Receiver) Outputs(signalID string) (map[string]any, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg, ok := r.regs[signalID]
	if !ok || reg.status == "" {
		return nil, "", false
	}
	return reg.outputs, reg.status, true
}

// signalTaken is the answer to a second signal for one deployment action.
const signalTaken = "this deployment has been signalled already: a deployment action takes one signal, and the first one's outputs stand\n"

// unknownSignal is the answer to a signal this receiver does not wait for.
const unknownSignal = "no fernetflow run waits for this signal: its deployment belongs to an earlier run, which has ended; nothing needs doing, the next run reads the node's state itself\n"

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	id, secret := req.PathValue("id"), req.PathValue("secret")
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		r.probe(w, id, secret)
		return
	}
	if req.Method != http.MethodPut && req.Method != http.MethodPost {
		w.Header().Set("Allow", "PUT, POST, GET, HEAD")
		http.Error(w, "signal with PUT or POST", http.StatusMethodNotAllowed)
		return
	}
	r.mu.Lock()
	reg, known := r.regs[id]
	r.mu.Unlock()
	ok := known
	if !ok && r.key != nil {
		reg, ok = r.recover(req.Context(), id, secret)
	}
	if ok && subtle.ConstantTimeCompare([]byte(reg.secret), []byte(secret)) != 1 {
		if known {
			r.log.Warn("signal refused: wrong secret for a deployment this run waits for; a node or something else on the network sent a bad URL",
				"remote", req.RemoteAddr, "server", reg.server, "signal", id)
		}
		ok = false
	}
	if !ok {
		if !known {
			r.log.Info("signal for a deployment of an earlier run: nothing waits for it and nothing needs doing (the node applied a deployment queued before that run ended)",
				"remote", req.RemoteAddr, "signal", id)
		}
		http.Error(w, unknownSignal, http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxSignalBody+1))
	if err != nil || len(body) > maxSignalBody {
		http.Error(w, "signal body unreadable or over 1 MiB", http.StatusBadRequest)
		return
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil || out == nil {
		http.Error(w, "signal body must be a JSON object of outputs", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	taken := reg.claimed
	reg.claimed = true
	r.mu.Unlock()
	if taken {
		r.log.Warn("signal refused: this deployment was signalled already and takes one signal; the first one's outputs stand (a node that retried after a lost answer, or someone else holding the signal URL)",
			"remote", req.RemoteAddr, "server", reg.server, "deployment", reg.deployment, "signal", id)
		http.Error(w, signalTaken, http.StatusConflict)
		return
	}
	recorded := false
	defer func() {
		if !recorded { // not recorded: the node may signal again
			r.mu.Lock()
			reg.claimed = false
			r.mu.Unlock()
		}
	}()
	select {
	case <-reg.bound:
	case <-req.Context().Done():
		return
	case <-time.After(r.upd):
		http.Error(w, "deployment not created yet", http.StatusServiceUnavailable)
		return
	}
	status, reason := SignalStatus(out)
	ctx, cancel := context.WithTimeout(req.Context(), r.upd)
	defer cancel()
	_, err = softwaredeployments.Update(ctx, r.client, reg.deployment, softwaredeployments.UpdateOpts{
		Status: status, StatusReason: reason, OutputValues: out,
	}).Extract()
	if err != nil {
		r.log.Error("signal received but Heat not updated", "server", reg.server, "deployment", reg.deployment, "err", err)
		http.Error(w, "could not update the Heat deployment; signal again", http.StatusBadGateway)
		return
	}
	r.mu.Lock()
	recorded = true
	reg.outputs, reg.status = out, status
	close(reg.done) // once: claimed stays set from here on
	r.mu.Unlock()
	r.log.Info("signal received", "server", reg.server, "deployment", reg.deployment, "status", status)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "{}\n")
}

// probe answers whether this receiver would accept a signal (200: one it
// registered, or with a key, one an earlier receiver with that key made)
// or not (404). It records nothing and asks Heat nothing.
func (r *Receiver) probe(w http.ResponseWriter, id, secret string) {
	if !r.accepts(id, secret) {
		http.Error(w, unknownSignal, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"accepted": true}`+"\n")
}

func (r *Receiver) accepts(id, secret string) bool {
	r.mu.Lock()
	reg, ok := r.regs[id]
	r.mu.Unlock()
	if ok {
		return subtle.ConstantTimeCompare([]byte(reg.secret), []byte(secret)) == 1
	}
	return r.key != nil && strings.Contains(id, ".") && subtle.ConstantTimeCompare([]byte(r.mac(id)), []byte(secret)) == 1
}

// Knows reports whether this receiver would accept a signal to signalURL:
// one it registered, or (with a key) one an earlier receiver with the same
// key and address made.
func (r *Receiver) Knows(signalURL string) bool {
	rest, ok := strings.CutPrefix(signalURL, r.base+"/signal/")
	if !ok {
		return false
	}
	id, secret, ok := strings.Cut(rest, "/")
	return ok && r.accepts(id, secret)
}

// SignalStatus decides a deployment's status from its signalled outputs as
// Heat does: a deploy_status_code other than 0 fails it.
func SignalStatus(out map[string]any) (status, reason string) {
	code, ok := out["deploy_status_code"]
	if ok && code != nil {
		s := fmt.Sprint(code)
		if s != "0" && s != "" {
			return softwaredeployments.StatusFailed, "deploy_status_code : Deployment exited with non-zero status code: " + s
		}
	}
	return softwaredeployments.StatusComplete, "Outputs received"
}

func (r *Receiver) mac(id string) string {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte("fernetflow-signal\x00" + id))
	return hex.EncodeToString(m.Sum(nil))
}

// recover accepts a signal this receiver did not register (made by an
// earlier receiver with the same key): it checks the HMAC, then finds the
// deployment of the server named in the id whose derived config holds the
// URL, and registers it.
func (r *Receiver) recover(ctx context.Context, id, secret string) (*registration, bool) {
	if subtle.ConstantTimeCompare([]byte(r.mac(id)), []byte(secret)) != 1 {
		return nil, false
	}
	_, enc, ok := strings.Cut(id, ".")
	sid, err := base64.RawURLEncoding.DecodeString(enc)
	if !ok || err != nil || len(sid) == 0 {
		return nil, false
	}
	serverID := string(sid)
	ctx, cancel := context.WithTimeout(ctx, r.upd)
	defer cancel()
	dep, err := findSignalled(ctx, r.client, serverID, "/signal/"+id+"/")
	if err != nil {
		r.log.Info("signal for a deployment of an earlier run that is no longer in Heat (cleaned up since): nothing needs doing", "server_id", serverID, "err", err)
		return nil, false
	}
	reg := &registration{id: id, secret: secret, server: serverID, deployment: dep,
		bound: make(chan struct{}), done: make(chan struct{})}
	close(reg.bound)
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.regs[id]; ok {
		return prev, true
	}
	r.regs[id] = reg
	return reg, true
}

// findSignalled returns the deployment of serverID whose derived config's
// deploy_signal_id contains path.
func findSignalled(ctx context.Context, c *gophercloud.ServiceClient, serverID, path string) (string, error) {
	md, err := softwaredeployments.Metadata(ctx, c, serverID).Extract()
	if err != nil {
		return "", err
	}
	var config string
	for _, cfg := range md {
		for _, in := range cfg.Inputs {
			if v, _ := in.Value.(string); in.Name == "deploy_signal_id" && strings.Contains(v, path) {
				config = cfg.ID
			}
		}
	}
	if config == "" {
		return "", fmt.Errorf("no deployment of server %s signals to this URL (deleted?)", serverID)
	}
	pages, err := softwaredeployments.List(c, softwaredeployments.ListOpts{ServerID: serverID}).AllPages(ctx)
	if err != nil {
		return "", err
	}
	deps, err := softwaredeployments.ExtractSoftwareDeployments(pages)
	if err != nil {
		return "", err
	}
	for _, d := range deps {
		if d.ConfigID == config {
			return d.ID, nil
		}
	}
	return "", fmt.Errorf("config %s of server %s has no deployment", config, serverID)
}

// maxSignalKey bounds the signal-key file: the key is 32 bytes; anything
// much larger is not a key fernetflow made.
const maxSignalKey = 1024

// LoadOrCreateSignalKey reads the receiver key at path, or makes one (32
// random bytes, mode 0600) when the file does not exist. Whoever reads the
// key can forge every signal URL, so it refuses a key file that is not a
// regular file (a symlink is not followed), that group or others may read
// or write, or that is over 1 KiB.
func LoadOrCreateSignalKey(path string) ([]byte, error) {
	b, err := readSignalKey(path)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	_, _ = rand.Read(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateSignalKey(path)
		}
		return nil, fmt.Errorf("deploy: signal key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("deploy: signal key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("deploy: signal key: %w", err)
	}
	return b, nil
}

// readSignalKey reads an existing key file, checking it first; an error
// wrapping os.ErrNotExist means there is none.
func readSignalKey(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("deploy: signal key %s is a symbolic link: refusing to follow it; put the key file itself there", path)
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("deploy: signal key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("deploy: signal key: %w", err)
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("deploy: signal key %s is not a regular file (%s)", path, fi.Mode().Type())
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("deploy: signal key %s is accessible to group or others (mode %#o): whoever reads it can forge signals; chmod 0600 %s", path, fi.Mode().Perm(), path)
	case fi.Size() > maxSignalKey:
		return nil, fmt.Errorf("deploy: signal key %s is %d bytes, at most %d: not a key fernetflow made; remove it to make a new one", path, fi.Size(), maxSignalKey)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSignalKey+1))
	if err != nil {
		return nil, fmt.Errorf("deploy: signal key: %w", err)
	}
	if len(b) > maxSignalKey {
		return nil, fmt.Errorf("deploy: signal key %s is over %d bytes: not a key fernetflow made; remove it to make a new one", path, maxSignalKey)
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("deploy: signal key %s is %d bytes, want at least 32: remove it to make a new one", path, len(b))
	}
	return b, nil
}
