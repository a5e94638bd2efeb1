//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// startKeystone starts Debian's Keystone alone under uwsgi on 127.0.0.1
// (sqlite in WAL mode, as the reference notes found necessary), serving
// tokens from keyRepo, bootstrapped with admin/adminpw in project admin.
// With fernetSetup, keystone-manage makes the keys; otherwise the caller
// has put them there (fernetflow did). The env's adminTok is empty; it is
// stopped when the test ends.
func startKeystone(t *testing.T, keyRepo string, fernetSetup bool) *heatEnv {
	t.Helper()
	return startKeystoneOn(t, keyRepo, fernetSetup, nil)
}

// startKeystoneOn is startKeystone; with shared set, the new Keystone
// uses shared's database (no db_sync, no bootstrap), as the Keystones of
// an overcloud's controllers share theirs: a token one issues, another
// holding the same keys validates.
func startKeystoneOn(t *testing.T, keyRepo string, fernetSetup bool, shared *heatEnv) *heatEnv {
	t.Helper()
	requireTool(t, "/usr/bin/keystone-manage", "python3-keystone")
	requireTool(t, "/usr/bin/uwsgi", "uwsgi-core")
	if _, err := os.Stat("/usr/lib/uwsgi/plugins/python3_plugin.so"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("uwsgi's python3 plugin is missing: .ci/run must install uwsgi-plugin-python3")
		}
		t.Skip("uwsgi python3 plugin not found: apt-get install uwsgi-plugin-python3")
	}
	base, err := os.MkdirTemp("", "fernetflow-keystone-")
	if err != nil {
		t.Fatal(err)
	}
	e := &heatEnv{base: base}
	t.Cleanup(e.stop)
	port := heatFreePort(t)
	e.ksURL = fmt.Sprintf("http://127.0.0.1:%d/v3", port)
	dbDir := base
	if shared != nil {
		dbDir = shared.base
	}
	conf := filepath.Join(base, "keystone.conf")
	heatWriteFile(t, conf, fmt.Sprintf(`[DEFAULT]
log_file = %[1]s/keystone.log
[database]
connection = sqlite:///%[3]s/keystone.db
[fernet_tokens]
key_repository = %[2]s
max_active_keys = 5
[fernet_receipts]
key_repository = %[2]s
max_active_keys = 5
[credential]
key_repository = %[1]s/credential-keys
`, base, keyRepo, dbDir))
	km := func(args ...string) {
		heatRunEnv(t, 2*time.Minute, nil, "keystone-manage", append([]string{"--config-file", conf}, args...)...)
	}
	if shared == nil {
		km("db_sync")
		heatRunEnv(t, time.Minute, nil, debianPython, "-c", "import sqlite3,sys;sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL')", filepath.Join(base, "keystone.db"))
	}
	if fernetSetup {
		km("fernet_setup", "--keystone-user", "root", "--keystone-group", "root")
	}
	if shared == nil {
		km("credential_setup", "--keystone-user", "root", "--keystone-group", "root")
		km("bootstrap", "--bootstrap-password", "adminpw", "--bootstrap-region-id", "RegionOne",
			"--bootstrap-admin-url", e.ksURL+"/", "--bootstrap-public-url", e.ksURL+"/", "--bootstrap-internal-url", e.ksURL+"/")
	} else {
		// The credential repository is per host; the credentials are in the shared database.
		if err := os.CopyFS(filepath.Join(base, "credential-keys"), os.DirFS(filepath.Join(shared.base, "credential-keys"))); err != nil {
			t.Fatal(err)
		}
	}
	e.start(t, filepath.Join(base, "uwsgi.log"), nil, "uwsgi", "--plugin", "python3",
		"--http-socket", fmt.Sprintf("127.0.0.1:%d", port), "--wsgi-file", "/usr/bin/keystone-wsgi-public",
		"--processes", "1", "--threads", "2", "--master", "--lazy-apps", "--die-on-term",
		"--add-header", "Connection: close", "--env", "OS_KEYSTONE_CONFIG_FILES="+conf)
	if err := heatWaitHTTP(e.ksURL, time.Minute); err != nil {
		t.Fatalf("keystone: %v\n%s", err, e.tail())
	}
	return e
}
