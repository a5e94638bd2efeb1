package store

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestRecords(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	const c = Collection("things")
	if _, err := s.GetRecord(c, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetRecord of an empty collection: %v, want ErrNotFound", err)
	}
	if recs, err := s.Records(c); err != nil || len(recs) != 0 {
		t.Fatalf("Records of an empty collection: %v, %v", recs, err)
	}
	for _, id := range []string{"b", "a"} {
		if err := s.PutRecord(c, id, []byte(`{"id":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetRecord(c, "a")
	if err != nil || string(got) != `{"id":"a"}` {
		t.Fatalf("GetRecord a = %s, %v", got, err)
	}
	recs, err := s.Records(c)
	if err != nil || len(recs) != 2 || recs[0].ID != "a" || recs[1].ID != "b" {
		t.Fatalf("Records = %v, %v; want a, b", recs, err)
	}
	if err := s.DeleteRecord(c, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecord(c, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteRecord: %v, want ErrNotFound", err)
	}
	if recs, _ := s.Records(Collection("other")); len(recs) != 0 {
		t.Fatalf("another collection sees %v", recs)
	}
}

// TestUpdateRecords: fn sees the records as they are, its puts land in
// several collections at once, and an error from fn writes nothing.
func TestUpdateRecords(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	const a, b = Collection("a"), Collection("b")
	if err := s.PutRecord(a, "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	err = s.UpdateRecords(func(get func(Collection, string) []byte) (map[Collection]map[string][]byte, error) {
		if got, none := get(a, "x"), get(b, "y"); string(got) != "1" || none != nil {
			t.Errorf("get = %q, %q; want 1 and nil", got, none)
		}
		return map[Collection]map[string][]byte{a: {"x": []byte("2")}, b: {"y": []byte("3")}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = s.UpdateRecords(func(func(Collection, string) []byte) (map[Collection]map[string][]byte, error) {
		return map[Collection]map[string][]byte{a: {"x": []byte("lost")}}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateRecords = %v, want fn's error", err)
	}
	if x, _ := s.GetRecord(a, "x"); string(x) != "2" {
		t.Fatalf("a/x = %q after a failed update, want 2", x)
	}
	if y, _ := s.GetRecord(b, "y"); string(y) != "3" {
		t.Fatalf("b/y = %q, want 3", y)
	}
}
