package keys

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestFingerprintJSON: a struct with Fingerprint fields has the JSON it
// had when they were strings (the long form, "" for none, an omitted
// optional one), and reads it back; anything but the long form or "" is
// refused.
func TestFingerprintJSON(t *testing.T) {
	fp := Set{0: testKey(0), 1: testKey(1), 2: testKey(2)}.Fingerprint()
	type typed struct {
		Fingerprint Fingerprint   `json:"fingerprint"`
		Optional    Fingerprint   `json:"optional,omitzero"`
		List        []Fingerprint `json:"list"`
	}
	type strings_ struct {
		Fingerprint string   `json:"fingerprint"`
		Optional    string   `json:"optional,omitempty"`
		List        []string `json:"list"`
	}
	tests := []struct {
		name string
		in   typed
		want strings_
	}{
		{"set", typed{fp, fp, []Fingerprint{fp}}, strings_{fp.String(), fp.String(), []string{fp.String()}}},
		{"none", typed{List: []Fingerprint{{}}}, strings_{List: []string{""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Fatalf("JSON %s, want %s", got, want)
			}
			var back typed
			if err := json.Unmarshal(got, &back); err != nil || back.Fingerprint != tt.in.Fingerprint || back.Optional != tt.in.Optional || back.List[0] != tt.in.List[0] {
				t.Fatalf("round trip %s: %+v, %v", got, back, err)
			}
		})
	}
	for _, bad := range []string{`"sha256:00"`, `"md5:` + strings.Repeat("0", 64) + `"`, `"` + fp.Short() + `"`, `7`} {
		var f Fingerprint
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("%s read as %s", bad, f)
		}
	}
}
