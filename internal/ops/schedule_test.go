package ops

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC) // a Tuesday; systemd's calendar is in local time, cron's in UTC
	cases := []struct {
		name, spec        string
		next              time.Time
		shortest, longest time.Duration
		err               string
	}{
		{"cron daily", "0 3 * * *", time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC), 24 * time.Hour, 24 * time.Hour, ""},
		{"cron weekly (Mistral's default)", "0 3 * * 0", time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC), 7 * 24 * time.Hour, 7 * 24 * time.Hour, ""},
		{"cron every 10 minutes", "*/10 * * * *", time.Date(2026, 12, 1, 10, 40, 0, 0, time.UTC), 10 * time.Minute, 10 * time.Minute, ""},
		{"cron irregular", "0 3 * * 1,3", time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC), 2 * 24 * time.Hour, 5 * 24 * time.Hour, ""},
		{"cron spaces", "  0  3 * *  * ", time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC), 24 * time.Hour, 24 * time.Hour, ""},
		{"systemd daily", "daily", time.Date(2026, 12, 2, 0, 0, 0, 0, time.Local), 24 * time.Hour, 24 * time.Hour, ""},
		{"systemd Weekly", "Weekly", time.Date(2026, 12, 7, 0, 0, 0, 0, time.Local), 7 * 24 * time.Hour, 7 * 24 * time.Hour, ""},
		{"systemd hourly", "hourly", time.Date(2026, 12, 1, 11, 0, 0, 0, time.Local), time.Hour, time.Hour, ""},
		{"systemd time of day", "*-*-* 03:15", time.Date(2026, 12, 2, 3, 15, 0, 0, time.Local), 24 * time.Hour, 24 * time.Hour, ""},
		{"systemd time with seconds", "*-*-* 3:15:00", time.Date(2026, 12, 2, 3, 15, 0, 0, time.Local), 24 * time.Hour, 24 * time.Hour, ""},
		{"empty", "", time.Time{}, 0, 0, "5 fields, this has 0"},
		{"six fields", "0 0 3 * * *", time.Time{}, 0, 0, "5 fields, this has 6"},
		{"bad minute", "61 3 * * *", time.Time{}, 0, 0, "not a valid cron pattern"},
		{"gronx extension", "0 3 L * *", time.Time{}, 0, 0, "only numbers"},
		{"systemd hour out of range", "*-*-* 25:00", time.Time{}, 0, 0, "out of range"},
		{"systemd seconds", "*-*-* 03:00:30", time.Time{}, 0, 0, "5 fields"},
		{"systemd other", "Mon *-*-* 03:00", time.Time{}, 0, 0, "5 fields"},
		{"never fires", "0 0 31 2 *", time.Time{}, 0, 0, "never fires"},
		{"too long", strings.Repeat("1,", 200) + "1 * * * *", time.Time{}, 0, 0, "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSchedule(c.spec, "--schedule")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrSchedule) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				if !strings.Contains(err.Error(), "give a cron pattern") {
					t.Fatalf("the error says not what to give: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			next, err := s.Next(at)
			if err != nil || !next.Equal(c.next) {
				t.Fatalf("next %v (%v), want %v", next, err, c.next)
			}
			short, long, err := s.Intervals(at)
			if err != nil || short != c.shortest || long != c.longest {
				t.Fatalf("intervals %v..%v (%v), want %v..%v", short, long, err, c.shortest, c.longest)
			}
		})
	}
}

// FuzzParseSchedule: any text is either refused with ErrSchedule or gives
// a schedule whose next slots are after the reference and in order.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "daily", "*-*-* 03:15", "*/7 1-5 1,15 * MON-FRI", "0 0 31 2 *", "61 * * * *"} {
		f.Add(s)
	}
	at := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec, "fuzz")
		if err != nil {
			if !errors.Is(err, ErrSchedule) {
				t.Fatalf("error without ErrSchedule: %v", err)
			}
			return
		}
		next, err := s.Next(at)
		if err != nil {
			return // a pattern that fires only in some years
		}
		if !next.After(at) {
			t.Fatalf("%q: next %v is not after %v", spec, next, at)
		}
	})
}
