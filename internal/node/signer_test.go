package node

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/internal/envelope"
)

func newSignerKey(t *testing.T) string {
	t.Helper()
	s, err := envelope.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	return s.Public().String()
}

func TestPinSigner(t *testing.T) {
	a, b := newSignerKey(t), newSignerKey(t)
	for _, tc := range []struct {
		name    string
		before  string // STATE_DIR/signer.pub before; "" for none
		pin     string
		changed bool
		wantErr []string // substrings of the error; nil for success
	}{
		{name: "first pin", pin: a, changed: true},
		{name: "same key again", before: a + "\n", pin: a},
		{name: "same key, no newline", before: a, pin: "  " + a + "\n"},
		{name: "another key", before: a + "\n", pin: b,
			wantErr: []string{SignerFile, "pins the signer " + a, "refusing to replace it with " + b, "remove"}},
		{name: "malformed pinned file", before: "AGE-SECRET-KEY-1XYZ\n", pin: a,
			wantErr: []string{SignerFile, "is not a signer public key", "remove it"}},
		{name: "not a public key", pin: "AGE-SECRET-KEY-1XYZ",
			wantErr: []string{"pin the signer", "ed25519:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			path := filepath.Join(dir, SignerFile)
			if tc.before != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := PinSigner(dir, tc.pin)
			after, _ := os.ReadFile(path)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("pinned %+v, want an error", res)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if string(after) != tc.before {
					t.Errorf("a refusal changed %s: %q, was %q", path, after, tc.before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSpace(tc.pin)
			if res.SignerPublicKey != want || res.Changed != tc.changed {
				t.Errorf("result %+v, want key %s changed %v", res, want, tc.changed)
			}
			if tc.changed && string(after) != want+"\n" {
				t.Errorf("%s holds %q", path, after)
			}
			if !tc.changed && string(after) != tc.before {
				t.Errorf("pinning the same key rewrote %s: %q", path, after)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.changed && st.Mode().Perm() != 0o644 {
				t.Errorf("%s mode %v, want 0644", path, st.Mode().Perm())
			}
			got, err := PinnedSigner(dir)
			if err != nil || got.String() != want {
				t.Errorf("PinnedSigner = %v, %v; want %s", got, err, want)
			}
		})
	}
}

func TestPinnedSignerMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := PinnedSigner(dir)
	if !errors.Is(err, ErrNoSigner) || !strings.Contains(err.Error(), filepath.Join(dir, SignerFile)) ||
		!strings.Contains(err.Error(), "--signer-public-key") || !strings.Contains(err.Error(), "fernet-node.yaml") {
		t.Fatalf("err = %v, want ErrNoSigner naming the file and both fixes", err)
	}
	// Install without a signer and without a pinned one refuses, naming it,
	// and changes nothing.
	f := newFleet(t)
	o := f.options()
	o.Signer = envelope.PublicKey{}
	before := snapshot(t, f.stateDir, f.repo)
	if _, err := Install(context.Background(), f.seal(), o); !errors.Is(err, ErrNoSigner) {
		t.Fatalf("install without a signer: %v, want ErrNoSigner", err)
	}
	if snapshot(t, f.stateDir, f.repo) != before {
		t.Fatal("a refused install changed the node")
	}
}

// TestCollectPinSigner: a pin-signer deployment pins the signer, and the
// install that follows in the same run uses it; a later deployment that
// pins another key fails with the error in deploy_stderr, and the pinned
// key stays; a node run with another --signer-public-key refuses the pin.
func TestCollectPinSigner(t *testing.T) {
	f := newFleet(t)
	sig, srv := newSignals(t)
	pin := withSignal(derived("cfg-pin", PinSignerConfig, f.server, map[string]any{"signer_public_key": f.signer.Public().String()}), "TEMP_URL_SIGNAL", srv.URL+"/pin")
	install := withSignal(derived("cfg-install", "install", f.server, map[string]any{"envelope": string(f.seal())}), "TEMP_URL_SIGNAL", srv.URL+"/install")
	opts := CollectOptions{TransportOptions: TransportOptions{Install: f.options()}, ConfigFiles: []string{writeMetadata(t, t.TempDir(), pin, install)}}
	opts.Install.Signer = envelope.PublicKey{} // node collect without --signer-public-key
	if _, err := Collect(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	got := sig.take()
	p, i := got["PUT /pin"], got["PUT /install"]
	if len(p) != 1 || p[0]["deploy_status_code"] != 0.0 || p[0]["signer_public_key"] != f.signer.Public().String() || p[0]["changed"] != true {
		t.Fatalf("pin signal %v", p)
	}
	if len(i) != 1 || i[0]["deploy_status_code"] != 0.0 || i[0]["generation"] != float64(f.gen) {
		t.Fatalf("install signal %v", i)
	}

	other := newSignerKey(t)
	repin := withSignal(derived("cfg-repin", PinSignerConfig, f.server, map[string]any{"signer_public_key": other}), "TEMP_URL_SIGNAL", srv.URL+"/repin")
	opts.ConfigFiles = []string{writeMetadata(t, t.TempDir(), pin, install, repin)}
	if _, err := Collect(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	got = sig.take()
	r := got["PUT /repin"]
	if len(got) != 1 || len(r) != 1 || r[0]["deploy_status_code"] != 1.0 ||
		!strings.Contains(r[0]["deploy_stderr"].(string), filepath.Join(f.stateDir, SignerFile)) {
		t.Fatalf("re-pin signals %v, want only /repin, failed, naming the file", got)
	}
	if k, err := PinnedSigner(f.stateDir); err != nil || k != f.signer.Public() {
		t.Fatalf("pinned %v %v after a refused re-pin", k, err)
	}

	// The hook, on a node run with --signer-public-key: a deployment
	// pinning another key is refused; the same key is pinned.
	for _, tc := range []struct {
		name, key, wantErr string
	}{
		{"flag differs", other, "--signer-public-key " + f.signer.Public().String()},
		{"flag agrees", f.signer.Public().String(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ho := f.options()
			ho.StateDir = t.TempDir()
			c := derived("cfg-hook", PinSignerConfig, f.server, map[string]any{"signer_public_key": tc.key})
			b, _ := json.Marshal(c)
			out, err := Hook(context.Background(), strings.NewReader(string(b)), TransportOptions{Install: ho})
			if err != nil {
				t.Fatal(err)
			}
			stderr, _ := out["deploy_stderr"].(string)
			if tc.wantErr != "" {
				if out["deploy_status_code"] != 1 || !strings.Contains(stderr, tc.wantErr) {
					t.Fatalf("outputs %v, want a failure containing %q", out, tc.wantErr)
				}
				if _, err := os.Stat(filepath.Join(ho.StateDir, SignerFile)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("a refused pin wrote %s", SignerFile)
				}
				return
			}
			if out["deploy_status_code"] != 0 || out["signer_public_key"] != tc.key {
				t.Fatalf("outputs %v", out)
			}
		})
	}
}
