//go:build !fc

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock returns the first code block after the line starting with
// heading in docs/cli.md.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "\n"+heading)
	if !ok {
		t.Fatalf("docs/cli.md has no %q", heading)
	}
	_, after, ok = strings.Cut(after, "```sh\n")
	block, _, closed := strings.Cut(after, "\n```")
	if !ok || !closed {
		t.Fatalf("no sh code block after %q", heading)
	}
	return block + "\n"
}

// TestReadmeTryIt runs the "Trying it without an account" block of docs/cli.md
// as a user pastes it into bash, from the repository's root: each command
// must find what the previous ones made, and the runs must end as the
// docs say (FAILED only for the offline domain, then unchanged).
func TestReadmeTryIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds certdrop and runs the emulator")
	}
	for _, tool := range []string{"bash", "make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	block := readmeBlock(t, "## Trying it without an account")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Interactive bash does not stop at a failing command: neither does
	// this one (no -e).
	cmd := exec.CommandContext(ctx, "bash", "-c", block)
	cmd.Dir = "../.."
	tmp := t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + tmp}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The emulator runs in the background: stop the whole group whatever
	// happens.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A block that leaves the emulator running holds the output open:
	// stop waiting for it shortly after bash has exited.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	out, errs := stdout.String(), stderr.String()
	if err != nil {
		t.Errorf("the block ended with %v", err)
	}
	for _, bad := range []string{"No such file", "command not found", "no Alibaba Cloud credentials", "Usage:", "certdrop deploy:", "panic"} {
		if strings.Contains(errs, bad) || strings.Contains(out, bad) {
			t.Errorf("the output has %q", bad)
		}
	}
	// The first deploy sets every domain but the offline one; the second
	// finds them unchanged.
	runs := strings.Split(out, "\nrun ")
	if len(runs) != 3 {
		t.Fatalf("%d reports, want 2:\nstdout:\n%s\nstderr:\n%s", len(runs)-1, out, errs)
	}
	first, second := runs[1], runs[2]
	for _, want := range []string{"FAILED: 34 deployed, 1 failed of 35 target(s)", "old.certdrop-demo.test", "InvalidDomain.Offline"} {
		if !strings.Contains(first, want) {
			t.Errorf("the first run's report lacks %q", want)
		}
	}
	if !strings.Contains(second, "FAILED: 34 unchanged, 1 failed of 35 target(s)") {
		t.Errorf("the second run's report lacks its summary")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", out, errs)
	}
}
