package keys

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// pythonIntGolden holds CPython's verdict on file names, against which
// pythonInt is checked: a table of names, and an exhaustive summary of the
// code points int() reads as digits or as surrounding white space. It is
// written by go test -run TestPythonIntMatchesCPython -update, which runs
// /usr/bin/python3 (Keystone's interpreter on Debian and Ubuntu nodes).
const pythonIntGolden = "testdata/python-int.golden"

// pythonIntNames are the names of the table: every rule of int() alone and
// combined, then random mixes of the characters that matter.
func pythonIntNames() []string {
	names := []string{
		"0", "7", "12", "01", "007", "00", "-0", "+0", "+4", "-1", "1_0", "0_0", "1_000", "1__0", "_1", "1_", "+_1", "_",
		"", " ", "+", "-", "+-1", "--1", "++1", "+ 1", " +1", "1 ", " 7 ", "7\n", "\t7\r", "\v7\f", "1 2", "1\t2",
		"0.tmp", ".0123", "1e3", "0x10", "0b1", "0o7", "1.0", "foo", "1a", "a1", "Infinity", "nan", "١٢٣٤",
		"\x1c7", "7\x1c", "\x1d7", "\x1e7", "7\x1f", "\x7f7", "\x007"[1:],
		"９９９", "٢", "۲", "߂", "२", "১", "๒", "༢", "၂", "០", "᠑", "𝟎", "𝟗", "🯰", "𑁦", "１_２", "٢_٣", "٢__٣", "+٢", "-٢", "٢7", "7٢",
		"²", "¹", "①", "Ⅻ", "五", "〇", "½", "𐄇", "＋7", "－7", "7８",
		"\u00a07", "7\u00a0", "\u30007", "7\u3000", "\u20287", "\u20297", "\u0085" + "7", "\u16807", "\u20007", "\u200a7", "\u202f7", "\u205f7",
		"1\u00a02", "+\u00a01", "\u00a0+1", "\u00a0\x1c7", "٢\x1c", "\x1f٢", "\x1c\u00a07", "\u00a0 \t7\u3000\n",
		"\u180e7", "\u200b7", "7\ufeff", "\u20607", "\ufffd", "7\ufffd",
		"\xff7", "7\xff", "\xc2\xa07", "\xed\xa0\x80", "\xef\xbf\xbd7",
		"99999999999", "2147483648", "2147483649", "-99999999999", "٩٩٩٩٩٩٩٩٩٩٩", strings.Repeat("9", 255),
	}
	// Random mixes: digits and white space of several scripts, and the
	// characters that trip int(). No digit newer than Unicode 14 (Python
	// 3.11's tables), which the exhaustive summary covers instead.
	alphabet := []string{"0", "7", "٢", "９", "𝟗", " ", "\t", "\u00a0", "\u3000", "\u0085", "\x1c", "\x1f", "_", "+", "-", "a", ".", "²", "\xff"}
	rng := rand.New(rand.NewPCG(13, 13))
	for range 3000 {
		var b strings.Builder
		for range 1 + rng.IntN(5) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		names = append(names, b.String())
	}
	return names
}

// cpythonScript reads hex-encoded file names, one a line, decodes them as
// os.listdir does (UTF-8 with surrogateescape), and prints the golden file.
const cpythonScript = `
import sys, unicodedata
print("# CPython %s int() on file names, Unicode %s: see pythonint_test.go" % (sys.version.split()[0], unicodedata.unidata_version))
print("# regenerate: go test ./internal/keys -run TestPythonIntMatchesCPython -update")
for line in sys.stdin:
    name = bytes.fromhex(line.strip()).decode("utf-8", "surrogateescape")
    try:
        v = str(int(name))
    except ValueError:
        v = "error"
    print("name\t%s\t%s" % (line.strip(), v))
def ranges(kind, pred):
    lo = prev = None
    for c in list(range(0x110000)) + [None]:
        ok = c is not None and not (0xd800 <= c <= 0xdfff) and pred(c)
        if ok and lo is not None and c == prev + 1 and (kind != "digits" or int(chr(c)) == (int(chr(prev)) + 1) % 10):
            prev = c
            continue
        if lo is not None:
            print("%s\t%04X\t%04X" % (kind, lo, prev) + ("\t%d" % int(chr(lo)) if kind == "digits" else ""))
            lo = None
        if ok:
            lo = prev = c
def digit(c):
    try:
        int(chr(c)); return True
    except ValueError:
        return False
def space(c):
    try:
        return int("1" + chr(c)) == 1
    except ValueError:
        return False
ranges("digits", digit)
ranges("space", lambda c: not digit(c) and space(c))
ranges("unassigned", lambda c: unicodedata.category(chr(c)) == "Cn")
`

func writePythonIntGolden(t *testing.T) {
	var in bytes.Buffer
	for _, n := range pythonIntNames() {
		fmt.Fprintln(&in, hex.EncodeToString([]byte(n)))
	}
	cmd := exec.Command("/usr/bin/python3", "-c", cpythonScript)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	if err := os.WriteFile(pythonIntGolden, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// codeRange is a range of code points; for digits, value is lo's.
type codeRange struct {
	lo, hi rune
	value  int
}

// TestPythonIntMatchesCPython checks pythonInt against CPython's int(): the
// same verdict and value on every name of the table, and the same digits
// (with their values) and white space over every code point, except digits
// that CPython's Unicode tables do not have yet (Go's are newer), which
// pythonInt accepts so that a node with a newer Python is covered.
func TestPythonIntMatchesCPython(t *testing.T) {
	if *update {
		writePythonIntGolden(t)
	}
	f, err := os.Open(pythonIntGolden)
	if err != nil {
		t.Fatalf("%v (run go test -update with /usr/bin/python3 to create it)", err)
	}
	defer f.Close()
	var digits, spaces, unassigned []codeRange
	names := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) < 3 {
			t.Fatalf("bad golden line %q", line)
		}
		if fields[0] == "name" {
			names++
			b, err := hex.DecodeString(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			name := string(b)
			n, ok := pythonInt(name)
			want, err := strconv.Atoi(fields[2])
			switch {
			case fields[2] == "error":
				if ok {
					t.Errorf("pythonInt(%q) = %d, but CPython's int() refuses it", name, n)
				}
			case (err != nil || want < -maxIndex) && strings.HasPrefix(fields[2], "-"):
				if !ok || n >= -maxIndex {
					t.Errorf("pythonInt(%q) = %d, %v; CPython reads %s", name, n, ok, fields[2])
				}
			case err != nil || want > maxIndex:
				if !ok || n <= maxIndex {
					t.Errorf("pythonInt(%q) = %d, %v; CPython reads %s", name, n, ok, fields[2])
				}
			case !ok || n != want:
				t.Errorf("pythonInt(%q) = %d, %v; CPython reads %d", name, n, ok, want)
			}
			continue
		}
		lo, err1 := strconv.ParseUint(fields[1], 16, 32)
		hi, err2 := strconv.ParseUint(fields[2], 16, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad golden line %q", line)
		}
		r := codeRange{lo: rune(lo), hi: rune(hi)}
		switch fields[0] {
		case "digits":
			if len(fields) != 4 {
				t.Fatalf("bad golden line %q", line)
			}
			if r.value, err = strconv.Atoi(fields[3]); err != nil {
				t.Fatalf("bad golden line %q", line)
			}
			digits = append(digits, r)
		case "space":
			spaces = append(spaces, r)
		case "unassigned":
			unassigned = append(unassigned, r)
		default:
			t.Fatalf("bad golden line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if names < 3000 || len(digits) < 50 || len(spaces) < 5 || len(unassigned) < 100 {
		t.Fatalf("golden file too short: %d names, %d digit, %d space, %d unassigned ranges", names, len(digits), len(spaces), len(unassigned))
	}
	// in reports the range of rs that holds c, by binary search (CPython
	// prints ranges in order).
	in := func(rs []codeRange, c rune) (codeRange, bool) {
		i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= c })
		if i < len(rs) && rs[i].lo <= c {
			return rs[i], true
		}
		return codeRange{}, false
	}
	extra := 0
	for c := rune(0); c <= unicode.MaxRune; c++ {
		if c >= 0xd800 && c <= 0xdfff {
			continue
		}
		s := string(c)
		v, isDigit := pythonInt(s)
		sp, _ := pythonInt("1" + s)
		isSpace := !isDigit && sp == 1
		if r, ok := in(digits, c); ok {
			// CPython's ranges break wherever the value does not go on
			// by one, and a lone digit's value is its own int().
			if !isDigit {
				t.Errorf("U+%04X is a digit to CPython, not to pythonInt", c)
			} else if want := (r.value + int(c-r.lo)) % 10; v != want {
				t.Errorf("U+%04X: pythonInt reads %d, CPython %d", c, v, want)
			}
		} else if isDigit {
			if _, new := in(unassigned, c); !new {
				t.Errorf("U+%04X is a digit to pythonInt, not to CPython", c)
			}
			extra++
		}
		if _, ok := in(spaces, c); ok != isSpace {
			t.Errorf("U+%04X: white space to CPython %v, to pythonInt %v", c, ok, isSpace)
		}
	}
	t.Logf("%d digits newer than CPython's Unicode tables", extra)
}

// decimalValue relies on every range of unicode.Nd being a union of runs of
// ten digits, 0 to 9.
func TestNdRangesAreRunsOfTen(t *testing.T) {
	for _, r := range unicode.Nd.R16 {
		if r.Stride != 1 || (int(r.Hi)-int(r.Lo)+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d is not runs of ten", r.Lo, r.Hi, r.Stride)
		}
	}
	for _, r := range unicode.Nd.R32 {
		if r.Stride != 1 || (int(r.Hi)-int(r.Lo)+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d is not runs of ten", r.Lo, r.Hi, r.Stride)
		}
	}
	if v, ok := decimalValue(utf8.RuneError); ok {
		t.Errorf("decimalValue(RuneError) = %d", v)
	}
}
