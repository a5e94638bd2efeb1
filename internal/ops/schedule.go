package ops

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/adhocore/gronx"
)

// Schedule is when rotations run: a cron pattern (a cron trigger of
// fernetflow serve, a crontab line: five fields, evaluated in UTC as
// Mistral's cron triggers are) or a systemd timer's OnCalendar= (the
// shorthands minutely, hourly, daily, weekly, monthly, yearly, and
// "*-*-* HH:MM[:SS]", evaluated in the local time zone as systemd does).
type Schedule struct {
	// Spec is the schedule as given.
	Spec string `json:"spec"`
	// Source says where it comes from: "--schedule" or "cron trigger NAME".
	Source string `json:"source"`
	cron   string
	loc    *time.Location
}

// maxScheduleLen bounds what ParseSchedule reads.
const maxScheduleLen = 200

// systemd's OnCalendar= shorthands, as systemd.time(7) expands them.
var calendarShorthands = map[string]string{
	"minutely": "* * * * *",
	"hourly":   "0 * * * *",
	"daily":    "0 0 * * *",
	"weekly":   "0 0 * * 1",
	"monthly":  "0 0 1 * *",
	"yearly":   "0 0 1 1 *",
	"annually": "0 0 1 1 *",
}

var calendarTime = regexp.MustCompile(`^\*-\*-\* ([0-9]{1,2}):([0-9]{2})(?::(00))?$`)

// ErrSchedule is the cause of every ParseSchedule error.
var ErrSchedule = errors.New("schedule")

// ParseSchedule reads a cron pattern or a systemd OnCalendar= expression
// (see Schedule).
func ParseSchedule(spec, source string) (*Schedule, error) {
	s := strings.TrimSpace(spec)
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s; give a cron pattern (minute hour day-of-month month day-of-week, such as '0 3 * * *', in UTC) or a systemd OnCalendar= value (minutely, hourly, daily, weekly, monthly, yearly, or '*-*-* HH:MM')", ErrSchedule, truncate(spec), why)
	}
	if len(s) > maxScheduleLen {
		return nil, bad(fmt.Sprintf("longer than %d characters", maxScheduleLen))
	}
	if c, ok := calendarShorthands[strings.ToLower(s)]; ok {
		return &Schedule{Spec: s, Source: source, cron: c, loc: time.Local}, nil
	}
	if m := calendarTime.FindStringSubmatch(s); m != nil {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		if h > 23 || mi > 59 {
			return nil, bad("the time of day is out of range")
		}
		return &Schedule{Spec: s, Source: source, cron: fmt.Sprintf("%d %d * * *", mi, h), loc: time.Local}, nil
	}
	f := strings.Fields(s)
	if len(f) != 5 {
		return nil, bad(fmt.Sprintf("a cron pattern has 5 fields, this has %d", len(f)))
	}
	for _, field := range f {
		// gronx's extensions (L, W, #, ?) are not cron's, nor Mistral's.
		if strings.ContainsAny(field, "LW#?") {
			return nil, bad("only numbers, names, '*', ',', '-' and '/' are cron")
		}
	}
	c := strings.Join(f, " ")
	if !gronx.IsValid(c) {
		return nil, bad("not a valid cron pattern")
	}
	sc := &Schedule{Spec: s, Source: source, cron: c, loc: time.UTC}
	if _, err := sc.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		return nil, bad("it never fires")
	}
	return sc, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Next is the schedule's first slot after t.
func (s *Schedule) Next(t time.Time) (time.Time, error) {
	n, err := gronx.NextTickAfter(s.cron, t.In(s.loc), false)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w %q: %w", ErrSchedule, s.Spec, err)
	}
	return n.UTC(), nil
}

// scheduleSlots is how many slots Intervals looks at: a few weeks of a
// daily schedule, every day of the week of an irregular one.
const scheduleSlots = 16

// Intervals are the shortest and the longest gap between the schedule's
// next slots after t: the shortest decides how many keys Keystone needs
// (max_active_keys), the longest when a rotation is overdue.
func (s *Schedule) Intervals(t time.Time) (shortest, longest time.Duration, err error) {
	prev, err := s.Next(t)
	if err != nil {
		return 0, 0, err
	}
	for range scheduleSlots {
		next, err := s.Next(prev)
		if err != nil {
			return 0, 0, err
		}
		gap := next.Sub(prev)
		if shortest == 0 || gap < shortest {
			shortest = gap
		}
		longest = max(longest, gap)
		prev = next
	}
	return shortest, longest, nil
}
