package main

// The test binary re-executes itself as the pause process (main()) and checks what the pod sandbox
// relies on: -v, exit 0 on SIGTERM/SIGINT, and reaping of exited children, including orphans
// re-parented to it (the test makes it a child subreaper, as PID 1 of a pod is for its namespace).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const asPause = "STS_CANARY_TEST_AS_PAUSE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(asPause); mode != "" {
		os.Args = []string{"pause"}
		if mode == "version" {
			os.Args = append(os.Args, "-v")
		}
		if mode == "reaper" {
			// Orphans of our descendants become our children, as they would for PID 1.
			if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, 36 /* PR_SET_CHILD_SUBREAPER */, 1, 0); errno != 0 {
				os.Exit(3)
			}
			go func() {
				// Once main() listens for SIGCHLD: a child that exits at once, leaving two
				// background children behind that exit a little later as orphans.
				time.Sleep(300 * time.Millisecond)
				f, err := os.Create(os.Getenv("PIDS_FILE"))
				if err != nil {
					os.Exit(4)
				}
				_, err = os.StartProcess("/bin/sh", []string{"sh", "-c", "sleep 0.3 & echo $!; sleep 0.4 & echo $!; echo $$"},
					&os.ProcAttr{Files: []*os.File{nil, f, os.Stderr}})
				if err != nil {
					os.Exit(5)
				}
				f.Close()
			}()
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func pauseCommand(mode string, extraEnv ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), asPause+"="+mode), extraEnv...)
	return cmd
}

func TestVersion(t *testing.T) {
	out, err := pauseCommand("version").Output()
	if err != nil || string(out) != "pause (sts-canary) 3.10\n" {
		t.Errorf("pause -v: %q, %v", out, err)
	}
}

// startPause starts the pause process and waits until its Go runtime is up (the SigCgt mask in
// /proc shows SIGTERM caught), plus 200 ms for main() to subscribe to the signals.
func startPause(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
		for _, line := range strings.Split(string(status), "\n") {
			if mask, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(mask), 16, 64); err == nil && m&(1<<(syscall.SIGTERM-1)) != 0 {
					time.Sleep(200 * time.Millisecond)
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("pause did not install its signal handlers")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("pause did not exit")
		return nil
	}
}

func TestExitsCleanlyOnSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := pauseCommand("run")
		startPause(t, cmd)
		// Still running: it sleeps until told otherwise.
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("pause is not running: %v", err)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if err := waitExit(t, cmd); err != nil {
			t.Errorf("exit after %v: %v, want status 0", sig, err)
		}
	}
}

func TestReapsChildren(t *testing.T) {
	pidsFile := filepath.Join(t.TempDir(), "pids")
	cmd := pauseCommand("reaper", "PIDS_FILE="+pidsFile)
	startPause(t, cmd)

	var pids []string
	deadline := time.Now().Add(10 * time.Second)
	for len(pids) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the helper did not start its children (pids %q)", pids)
		}
		time.Sleep(20 * time.Millisecond)
		b, _ := os.ReadFile(pidsFile)
		pids = strings.Fields(string(b))
	}
	// An exited child that nobody reaps stays in /proc as a zombie ("Z") of its parent.
	for _, pid := range pids {
		for {
			stat, err := os.ReadFile("/proc/" + pid + "/stat")
			if err != nil {
				break // reaped
			}
			if time.Now().After(deadline) {
				t.Fatalf("process %s was not reaped: %s", pid, stat)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Children exiting (SIGCHLD) do not stop pause.
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("pause exited with its children: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, cmd); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
