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
