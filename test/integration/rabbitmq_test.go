//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// rabbitServer is the Debian script that runs the broker, without the
// wrapper in /usr/sbin that su-s to user rabbitmq and writes to /var/log.
const rabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// rabbitMQ is a private RabbitMQ broker on 127.0.0.1 (as
// reference/mistral-api/rabbit/start_rabbit.sh runs it): free ports for
// AMQP, Erlang distribution and its own epmd, its node name, HOME (Erlang
// cookie), database and logs under the test's temporary directory, no
// plugins. Both processes lead their own process group.
type rabbitMQ struct {
	URL  string // rabbit://guest:guest@127.0.0.1:PORT/
	dir  string
	epmd *exec.Cmd
	cmd  *exec.Cmd // rabbitmq-server, then beam.smp and its children
}

// startRabbitMQ brings a broker up (about 5-15 s) and stops it, by PID,
// when the test ends. It skips when rabbitmq-server is not installed: no
// suite needs a broker, so CI does not install one.
func startRabbitMQ(t *testing.T) *rabbitMQ {
	t.Helper()
	if _, err := os.Stat(rabbitServer); err != nil {
		t.Skipf("%s not found: apt-get install rabbitmq-server (only this measurement needs a broker)", rabbitServer)
	}
	dir := t.TempDir()
	for _, d := range []string{"home", "mnesia", "log"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[].\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	amqp, dist, epmdPort := freePort(t), freePort(t), freePort(t)
	env := append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		fmt.Sprintf("RABBITMQ_NODENAME=fernetflow%d@localhost", amqp),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(amqp),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbit.pid"),
		// No such files: the defaults, not /etc/rabbitmq's.
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "none"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "none"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "none.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
	)
	r := &rabbitMQ{URL: fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", amqp), dir: dir}
	out, err := os.Create(filepath.Join(dir, "rabbit.out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	start := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, dir
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	t0 := time.Now()
	// Our own epmd in the foreground, so that its PID is known: the node
	// would otherwise start one as a daemon, outside any process we own.
	r.epmd = start("epmd", "-port", strconv.Itoa(epmdPort), "-address", "127.0.0.1")
	t.Cleanup(func() { stopGroup(r.epmd, syscall.SIGTERM, 5*time.Second) })
	if err := waitListening(epmdPort, r.epmd, 10*time.Second); err != nil {
		t.Fatalf("epmd: %v", err)
	}
	r.cmd = start(rabbitServer)
	// SIGTERM: the script stops the node (rabbitmqctl stop's way).
	t.Cleanup(func() { stopGroup(r.cmd, syscall.SIGTERM, 30*time.Second) })
	if err := waitListening(amqp, r.cmd, 120*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "rabbit.out"))
		t.Fatalf("RabbitMQ: %v\n%s", err, log)
	}
	t.Logf("RabbitMQ up on 127.0.0.1:%d in %s", amqp, time.Since(t0).Round(100*time.Millisecond))
	return r
}

// waitListening waits until something accepts connections on
// 127.0.0.1:port, or cmd ends, or timeout passes. It does not reap cmd
// (stopGroup does).
func waitListening(port int, cmd *exec.Cmd, timeout time.Duration) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(timeout); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)); len(st) == 0 || bytes.Contains(st, []byte(") Z ")) {
			return fmt.Errorf("%s ended before listening on %s", cmd.Path, addr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
