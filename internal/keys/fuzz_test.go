package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzParseKey: ParseKey never panics, and what it accepts is exactly
// Keystone's format, so it round-trips byte for byte.
func FuzzParseKey(f *testing.F) {
	f.Add(testKey(1).Encode())
	f.Add([]byte(""))
	f.Add(append(testKey(1).Encode(), '\n'))
	f.Add([]byte("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err != nil {
			if bytes.Contains([]byte(err.Error()), b) && len(b) > 8 {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if !bytes.Equal(k.Encode(), b) {
			t.Fatalf("accepted %q, which does not re-encode to itself", b)
		}
	})
}

// FuzzOpen builds a directory from arbitrary bytes (entries separated by
// 0x00, each "name=content") and checks Open never panics and that what it
// accepts is a valid repository whose files hold exactly its keys.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("0=" + string(testKey(0).Encode()) + "\x001=" + string(testKey(1).Encode())))
	f.Add([]byte("0=" + string(testKey(0).Encode()) + "\x00foo=bar\x009="))
	f.Add([]byte("01=" + string(testKey(0).Encode())))
	f.Add([]byte("0=" + string(testKey(0).Encode()) + "\n"))
	f.Add([]byte(" 0=" + string(testKey(0).Encode())))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "keys")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, entry := range bytes.Split(data, []byte{0}) {
			name, content, _ := bytes.Cut(entry, []byte("="))
			n := string(name)
			if n == "" || n == "." || n == ".." || bytes.ContainsRune(name, '/') || len(n) > 200 {
				continue
			}
			os.WriteFile(filepath.Join(dir, n), content, 0o600)
		}
		r, err := Open(dir)
		if err != nil {
			return
		}
		if err := r.Keys.Validate(); err != nil {
			t.Fatalf("Open accepted an invalid set: %v", err)
		}
		for i, k := range r.Keys {
			b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)))
			if err != nil || !bytes.Equal(b, k.Encode()) {
				t.Fatalf("key %d does not match its file: %v", i, err)
			}
		}
	})
}
