package main

import (
	"fmt"
	"math"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// duration is a flag taking keystone.conf's plain seconds ("3600") or a Go
// duration ("1h", "48h").
type duration struct{ d *time.Duration }

func (d duration) String() string {
	if d.d == nil {
		return ""
	}
	return d.d.String()
}

func (d duration) Set(s string) error {
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return fmt.Errorf("%q seconds is beyond what a duration holds (about 292 years)", s)
		}
		*d.d = time.Duration(n) * time.Second
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither seconds nor a duration such as 90m or 48h", s)
	}
	*d.d = v
	return nil
}

func (duration) Type() string { return "duration" }

// resolveOwner turns keystone-manage style --keystone-user/--keystone-group
// (names or numeric ids) into an owner. Both empty means "leave ownership
// alone"; like keystone-manage, one without the other is refused.
func resolveOwner(userName, groupName string) (*keys.Owner, error) {
	if userName == "" && groupName == "" {
		return nil, nil
	}
	if userName == "" || groupName == "" {
		return nil, usagef("--keystone-user and --keystone-group go together: give both (as keystone-manage needs) or neither")
	}
	uid, err := lookupID(userName, func(n string) (string, error) {
		u, err := user.Lookup(n)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
	if err != nil {
		return nil, fmt.Errorf("--keystone-user %s: %w", userName, err)
	}
	gid, err := lookupID(groupName, func(n string) (string, error) {
		g, err := user.LookupGroup(n)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
	if err != nil {
		return nil, fmt.Errorf("--keystone-group %s: %w", groupName, err)
	}
	return &keys.Owner{UID: uid, GID: gid}, nil
}

func lookupID(name string, lookup func(string) (string, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	id, err := lookup(name)
	if err != nil {
		return 0, fmt.Errorf("no such user or group on this host (%v)", err)
	}
	return strconv.Atoi(id)
}
