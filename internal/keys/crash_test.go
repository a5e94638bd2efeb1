package keys

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The crash tests re-run this test binary as a child that rotates a
// repository and is killed with SIGKILL part-way: at each durable step
// (through WithStepHook), or after a random delay while it rotates in a
// loop (anywhere, mid-write included). The parent then checks what a
// crash may leave.

const (
	envCrashDir  = "FERNETFLOW_TEST_CRASH_DIR"
	envCrashStep = "FERNETFLOW_TEST_CRASH_STEP" // kill after this many steps; "loop" rotates forever
)

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("helper process for the crash tests")
	}
	ro := RotateOptions{MaxActiveKeys: 3, Force: true}
	if os.Getenv(envCrashStep) == "loop" {
		os.Stdout.WriteString("rotating\n")
		for {
			if _, err := Rotate(context.Background(), dir, ro); err != nil {
				t.Fatal(err)
			}
		}
	}
	killAt, _ := strconv.Atoi(os.Getenv(envCrashStep))
	steps := 0
	hook := func(string) {
		steps++
		if steps == killAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	if _, err := Rotate(context.Background(), dir, ro, WithStepHook(hook)); err != nil {
		t.Fatal(err)
	}
}

func crashChild(t *testing.T, dir, step string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashStep+"="+step)
	return cmd
}

func TestCrashAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	start := Set{0: testKey(0), 1: testKey(1), 2: testKey(2)} // at max: a rotation writes, replaces 0, prunes
	for step := 1; ; step++ {
		dir := writeRepo(t, start)
		out, err := crashChild(t, dir, strconv.Itoa(step)).CombinedOutput()
		killed := false
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				killed = true
			}
		}
		if err != nil && !killed {
			t.Fatalf("child failed at step %d: %v\n%s", step, err, out)
		}
		checkAfterCrash(t, dir, start, step)
		if !killed {
			if step < 4 {
				t.Fatalf("a rotation has %d durable steps, want 4 (write 3, write 0, remove 1, metadata)", step-1)
			}
			return
		}
	}
}

// checkAfterCrash checks the invariants a crash must keep: the repository
// loads, holds the old primary or its successor, keeps every key both sets
// share, and the next rotation works and leaves no temporary file.
func checkAfterCrash(t *testing.T, dir string, start Set, step int) {
	t.Helper()
	r, err := Open(dir)
	if err != nil {
		t.Fatalf("step %d: the repository does not load after a crash: %v", step, err)
	}
	oldPrimary := start[2]
	newPrimary := start[0]
	if !r.Keys.Contains(oldPrimary) && !r.Keys.Contains(newPrimary) {
		t.Fatalf("step %d: neither the old nor the new primary is left", step)
	}
	// Keys shared by the old set and the rotated one must never go.
	for _, k := range []Key{start[0], start[2]} {
		if !r.Keys.Contains(k) {
			t.Fatalf("step %d: lost a key both sets hold", step)
		}
	}
	if p, _ := r.Keys.Primary(); r.Keys[p] != oldPrimary && r.Keys[p] != newPrimary {
		t.Fatalf("step %d: the primary is neither the old nor the new one", step)
	}
	if _, err := Rotate(context.Background(), dir, RotateOptions{MaxActiveKeys: 3, Force: true}); err != nil {
		t.Fatalf("step %d: rotation after the crash: %v", step, err)
	}
	for _, name := range mustEntries(t, dir) {
		if tempName.MatchString(name) {
			t.Fatalf("step %d: temporary file %s left behind", step, name)
		}
	}
}

func TestCrashAtRandomTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var rotations uint64
	for i := 0; i < 25; i++ {
		dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1), 2: testKey(2)})
		cmd := crashChild(t, dir, "loop")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill only once the child rotates, at a random point.
		if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.IntN(20000)) * time.Microsecond)
		cmd.Process.Kill()
		cmd.Wait()
		r, err := Open(dir)
		if err != nil {
			t.Fatalf("kill %d: the repository does not load: %v", i, err)
		}
		if len(r.Keys) < 2 || len(r.Keys) > 4 {
			t.Fatalf("kill %d: %d keys, want the 3 of a rotation or one more mid-write", i, len(r.Keys))
		}
		// The next rotation recovers: metadata may be one rotation behind.
		if _, err := Rotate(context.Background(), dir, RotateOptions{MaxActiveKeys: 3, Force: true}); err != nil {
			t.Fatalf("kill %d: rotation after the crash: %v", i, err)
		}
		if got := len(mustOpen(t, dir).Keys); got != 3 {
			t.Fatalf("kill %d: %d keys after recovery, want 3", i, got)
		}
		if m, _ := ReadMetadata(dir); m != nil {
			rotations += m.Generation
		}
	}
	if rotations < 50 {
		t.Fatalf("the children rotated only %d times in all: the kills did not land mid-rotation", rotations)
	}
}
