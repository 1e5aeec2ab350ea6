package main

// InstallDependencies (and Link, the other caller of npm) through the real gRPC service, with fake
// package managers on $PATH that record their arguments and working directory.

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/status"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// fakePackageManagers puts fake npm/yarn/pnpm/bun (shell builtins only) into a directory that
// becomes the whole $PATH, and returns the log file they append "<name> <args>" and "<cwd>" to.
// FAKE_PM_FAIL=N makes them exit N.
func fakePackageManagers(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "pm.log")
	script := `#!/bin/sh
echo "${0##*/} $*" >> "$FAKE_PM_LOG"
pwd >> "$FAKE_PM_LOG"
echo "fake ${0##*/}: added 1 package"
echo "fake ${0##*/} warning" >&2
exit "${FAKE_PM_FAIL:-0}"
`
	for _, pm := range []string{"npm", "yarn", "pnpm", "bun"} {
		writeFile(t, filepath.Join(bin, pm), script)
		if err := os.Chmod(filepath.Join(bin, pm), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	t.Setenv("FAKE_PM_LOG", log)
	t.Setenv("FAKE_PM_FAIL", "")
	return log
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	_ = os.Remove(path)
	return string(b)
}

// install runs InstallDependencies and returns its streamed stdout, stderr and final error.
func install(t *testing.T, client pulumirpc.LanguageRuntimeClient, req *pulumirpc.InstallDependenciesRequest) (string, string, error) {
	t.Helper()
	stream, err := client.InstallDependencies(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stdout.String(), stderr.String(), nil
		}
		if err != nil {
			return stdout.String(), stderr.String(), err
		}
		stdout.Write(msg.GetStdout())
		stderr.Write(msg.GetStderr())
	}
}

func TestInstallDependenciesNpm(t *testing.T) {
	log := fakePackageManagers(t)
	client, _ := startHost(t, "")
	dir := realDir(t)
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"p"}`)

	stdout, stderr, err := install(t, client, &pulumirpc.InstallDependenciesRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readLog(t, log), "npm install --no-fund --no-audit\n"+dir+"\n"; got != want {
		t.Errorf("npm ran as %q, want %q", got, want)
	}
	wantOut := "Installing dependencies in " + dir + " with `npm install --no-fund --no-audit`...\n" +
		"fake npm: added 1 package\nFinished installing dependencies\n"
	if stdout != wantOut || stderr != "fake npm warning\n" {
		t.Errorf("streamed stdout %q stderr %q, want %q and the warning", stdout, stderr, wantOut)
	}

	// The deprecated directory field still works when no program info is sent.
	if _, _, err := install(t, client, &pulumirpc.InstallDependenciesRequest{Directory: dir}); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, log); got != "npm install --no-fund --no-audit\n"+dir+"\n" {
		t.Errorf("with the directory field: %q", got)
	}
}

func TestInstallDependenciesChoosesPackageManager(t *testing.T) {
	log := fakePackageManagers(t)
	client, _ := startHost(t, "")
	for _, c := range []struct {
		lock, option, want string
	}{
		{"", "", "npm install --no-fund --no-audit"},
		{"yarn.lock", "", "yarn install"},
		{"pnpm-lock.yaml", "", "pnpm install"},
		{"bun.lock", "", "bun install"},
		{"bun.lockb", "", "bun install"},
		{"yarn.lock", "auto", "yarn install"},
		{"pnpm-lock.yaml", "yarn", "yarn install"}, // the packagemanager option wins over lock files
		{"yarn.lock", "npm", "npm install --no-fund --no-audit"},
	} {
		dir := realDir(t)
		writeFile(t, filepath.Join(dir, "package.json"), `{"name":"p"}`)
		if c.lock != "" {
			writeFile(t, filepath.Join(dir, c.lock), "")
		}
		info := &pulumirpc.ProgramInfo{ProgramDirectory: dir}
		if c.option != "" {
			info.Options = mustStruct(t, map[string]any{"packagemanager": c.option})
		}
		if _, _, err := install(t, client, &pulumirpc.InstallDependenciesRequest{Info: info}); err != nil {
			t.Errorf("lock %q option %q: %v", c.lock, c.option, err)
			continue
		}
		if got := readLog(t, log); got != c.want+"\n"+dir+"\n" {
			t.Errorf("lock %q option %q: ran %q, want %q in %s", c.lock, c.option, got, c.want, dir)
		}
	}
}

func TestInstallDependenciesFailures(t *testing.T) {
	log := fakePackageManagers(t)
	client, _ := startHost(t, "")
	dir := realDir(t)
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"p"}`)
	info := &pulumirpc.ProgramInfo{ProgramDirectory: dir}
	message := func(err error) string { st, _ := status.FromError(err); return st.Message() }

	// The package manager fails: its output is streamed and the call fails with its status.
	t.Setenv("FAKE_PM_FAIL", "3")
	stdout, _, err := install(t, client, &pulumirpc.InstallDependenciesRequest{Info: info})
	if want := "`npm install --no-fund --no-audit` failed in " + dir + ": exit status 3"; message(err) != want {
		t.Errorf("failing npm: %v, want %q", err, want)
	}
	if !strings.Contains(stdout, "fake npm: added 1 package") || strings.Contains(stdout, "Finished") {
		t.Errorf("failing npm: stdout %q", stdout)
	}
	t.Setenv("FAKE_PM_FAIL", "")

	// No package.json: nothing is run.
	empty := realDir(t)
	_, _, err = install(t, client, &pulumirpc.InstallDependenciesRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: empty}})
	if !strings.HasPrefix(message(err), "no package.json in "+empty) {
		t.Errorf("without package.json: %v", err)
	}

	// The chosen package manager is not installed.
	writeFile(t, filepath.Join(dir, "bun.lock"), "")
	t.Setenv("PATH", t.TempDir())
	_, _, err = install(t, client, &pulumirpc.InstallDependenciesRequest{Info: info})
	if !strings.HasPrefix(message(err), `package manager "bun" not found on $PATH`) {
		t.Errorf("without bun: %v", err)
	}

	// Invalid runtime options.
	_, _, err = install(t, client, &pulumirpc.InstallDependenciesRequest{Info: &pulumirpc.ProgramInfo{
		ProgramDirectory: dir, Options: mustStruct(t, map[string]any{"packagemanager": true}),
	}})
	if message(err) != "runtime option 'packagemanager' must be a string" {
		t.Errorf("bad option: %v", err)
	}
	if got := readLog(t, log); got != "npm install --no-fund --no-audit\n"+dir+"\n" {
		t.Errorf("only the first install should have run a package manager; log %q", got)
	}
}

func TestLink(t *testing.T) {
	log := fakePackageManagers(t)
	client, _ := startHost(t, "")
	root := realDir(t)
	src := filepath.Join(root, "src")
	writeFile(t, filepath.Join(src, "package.json"), `{"name":"p"}`)
	writeFile(t, filepath.Join(root, "sdks", "my-comp", "package.json"), `{"name":"@pulumi/my-comp","version":"0.0.1"}`)

	resp, err := client.Link(context.Background(), &pulumirpc.LinkRequest{
		Info: &pulumirpc.ProgramInfo{RootDirectory: root, ProgramDirectory: src},
		Packages: []*pulumirpc.LinkRequest_LinkDependency{
			{Package: &pulumirpc.PackageDependency{Name: "my-comp"}, Path: "sdks/my-comp"}, // relative to the root
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readLog(t, log), "npm pkg set dependencies.@pulumi/my-comp=file:../sdks/my-comp\n"+src+"\n"; got != want {
		t.Errorf("npm ran as %q, want %q", got, want)
	}
	if want := `import * as myComp from "@pulumi/my-comp";`; !strings.Contains(resp.GetImportInstructions(), want) {
		t.Errorf("import instructions %q do not contain %q", resp.GetImportInstructions(), want)
	}
	for in, want := range map[string]string{"my-comp": "myComp", "pt_comp.v2": "ptCompV2", "plain": "plain", "a/b-c": "aBC"} {
		if got := jsIdentifier(in); got != want {
			t.Errorf("jsIdentifier(%q) = %q, want %q", in, got, want)
		}
	}
}
