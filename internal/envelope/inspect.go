package envelope

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// Info is what can be known of an envelope without decrypting it: age's
// outer header. It holds nothing secret.
type Info struct {
	// SHA256 identifies the envelope as given (hex), for logs and tickets.
	SHA256 string `json:"sha256"`
	// Bytes is the armored size.
	Bytes int `json:"bytes"`
	// Format is age's version line, "age-encryption.org/v1".
	Format string `json:"format"`
	// Recipients are the stanza types of the header, one per recipient:
	// a fernetflow envelope has exactly one, "X25519".
	Recipients []string `json:"recipients"`
	// PayloadBytes is the size of the encrypted payload after the header.
	PayloadBytes int `json:"payload_bytes"`
	// Fernetflow says whether the header is what Seal writes.
	Fernetflow bool `json:"fernetflow"`
}

// Table implements output.Tabler.
func (i *Info) Table() ([]string, [][]string) {
	return []string{"FIELD", "VALUE"}, [][]string{
		{"sha256", i.SHA256},
		{"bytes", fmt.Sprint(i.Bytes)},
		{"format", i.Format},
		{"recipients", strings.Join(i.Recipients, ", ")},
		{"payload bytes", fmt.Sprint(i.PayloadBytes)},
		{"fernetflow envelope", fmt.Sprint(i.Fernetflow)},
	}
}

// Inspect reads an armored envelope's outer metadata without decrypting
// anything. The server id, generation and keys are inside the encryption
// and can only be read on the node (fernetflow envelope open).
func Inspect(armored []byte) (*Info, error) {
	if len(armored) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: the envelope is %d bytes, at most %d", ErrDamaged, len(armored), MaxEnvelopeSize)
	}
	sum := sha256.Sum256(armored)
	info := &Info{SHA256: hex.EncodeToString(sum[:]), Bytes: len(armored), Recipients: []string{}}
	in := bytes.Trim(armored, "\n")
	if !bytes.HasPrefix(in, []byte(armor.Header+"\n")) {
		return nil, fmt.Errorf("%w: the input does not start with %q", ErrDamaged, armor.Header)
	}
	raw, err := io.ReadAll(io.LimitReader(armor.NewReader(bytes.NewReader(in)), MaxEnvelopeSize))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	hdr, err := age.ExtractHeader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	info.PayloadBytes = len(raw) - len(hdr)
	sc := bufio.NewScanner(bytes.NewReader(hdr))
	first := true
	for sc.Scan() {
		line := sc.Text()
		switch {
		case first:
			info.Format = line
			first = false
		case strings.HasPrefix(line, "-> "):
			if f := strings.Fields(line[3:]); len(f) > 0 {
				info.Recipients = append(info.Recipients, f[0])
			}
		}
	}
	info.Fernetflow = info.Format == "age-encryption.org/v1" && len(info.Recipients) == 1 && info.Recipients[0] == "X25519"
	return info, nil
}
