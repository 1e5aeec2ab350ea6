package main

// Shared fixtures of the language host tests: an in-process gRPC server, fake @pulumi/pulumi
// entry points (tiny JS files that record how node started them) and small polling helpers.
// Everything lives in t.TempDir(); no engine, network or cluster is involved.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// recordJS is the start of every fake entry point: it captures the process' arguments (without
// the node binary), node options, working directory and complete environment.
const recordJS = `const fs = require("fs");
const rec = { argv: process.argv.slice(1), execArgv: process.execArgv, cwd: process.cwd(),
  env: Object.assign({}, process.env) };
const mode = process.env.FAKE_MODE || "";
`

// fakeRunJS stands in for @pulumi/pulumi/cmd/run. FAKE_MODE: "" (exit 0), "exit:N",
// "kill" (SIGKILL itself) or "wait" (until SIGINT, then exit 7).
const fakeRunJS = recordJS + `fs.writeFileSync(process.env.FAKE_OUT, JSON.stringify(rec));
if (mode.startsWith("exit:")) process.exit(Number(mode.slice(5)));
if (mode === "kill") process.kill(process.pid, "SIGKILL");
if (mode === "wait") {
  process.on("SIGINT", () => { fs.writeFileSync(process.env.FAKE_OUT + ".sigint", "1"); process.exit(7); });
  fs.writeFileSync(process.env.FAKE_OUT + ".ready", "1");
  setInterval(() => {}, 1000);
}
`

// fakeRunPluginJS stands in for @pulumi/pulumi/cmd/run-plugin: the record goes to stdout (one
// JSON line) so the test sees it through the RunPlugin stream; one line goes to stderr.
// FAKE_MODE: "" (exit 0), "exit:N", "wait" (until SIGTERM, then exit 0).
const fakeRunPluginJS = recordJS + `process.stdout.write(JSON.stringify(rec) + "\n");
process.stderr.write("plugin stderr line\n");
if (mode.startsWith("exit:")) process.exitCode = Number(mode.slice(5));
if (mode === "wait") {
  process.on("SIGTERM", () => { fs.writeFileSync(process.env.FAKE_OUT + ".sigterm", "1"); process.exit(0); });
  fs.writeFileSync(process.env.FAKE_OUT + ".ready", "1");
  setInterval(() => {}, 1000);
}
`

// fakeRunPolicyPackJS stands in for @pulumi/pulumi/cmd/run-policy-pack: it records itself to
// FAKE_OUT, announces FAKE_ANALYZER_PORT (a Go analyzer server of the test) as the port it
// serves on, writes one line to stdout and stderr each, then waits for SIGTERM (or exits with N
// shortly after for "exit:N"). The SIGTERM handler is in place before any output, so a test
// that reacts to the output cannot signal too early.
const fakeRunPolicyPackJS = recordJS + `process.on("SIGTERM", () => { fs.writeFileSync(process.env.FAKE_OUT + ".sigterm", "1"); process.exit(0); });
fs.writeFileSync(process.env.FAKE_OUT, JSON.stringify(rec));
process.stdout.write(process.env.FAKE_ANALYZER_PORT + "\n");
process.stdout.write("policy pack stdout line\n");
process.stderr.write("policy pack stderr line\n");
if (mode.startsWith("exit:")) {
  setTimeout(() => process.exit(Number(mode.slice(5))), 300);
} else {
  setInterval(() => {}, 1000);
}
`

// record is what a fake entry point wrote.
type record struct {
	Argv     []string          `json:"argv"`
	ExecArgv []string          `json:"execArgv"`
	Cwd      string            `json:"cwd"`
	Env      map[string]string `json:"env"`
}

func readRecord(t *testing.T, path string) record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the fake entry point left no record: %v", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("parsing record %s: %v", b, err)
	}
	return r
}

// fakeSDK installs a fake @pulumi/pulumi package into dir/node_modules with the given
// entry points (e.g. "cmd/run" -> JS source) and returns the real path of each index.js, which
// is what node's require.resolve answers.
func fakeSDK(t *testing.T, dir string, entries map[string]string) map[string]string {
	t.Helper()
	pkg := filepath.Join(dir, "node_modules", "@pulumi", "pulumi")
	writeFile(t, filepath.Join(pkg, "package.json"), `{"name":"@pulumi/pulumi","version":"3.248.0"}`)
	paths := map[string]string{}
	for entry, js := range entries {
		p := filepath.Join(pkg, entry, "index.js")
		writeFile(t, p, js)
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		paths[entry] = real
	}
	return paths
}

// realDir returns t.TempDir() with symlinks resolved, so that paths compare equal to what node
// reports (process.cwd(), require.resolve).
func realDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// startHost serves a language host in-process, as main() does, and returns a client for it.
func startHost(t *testing.T, engineAddress string) (pulumirpc.LanguageRuntimeClient, *host) {
	t.Helper()
	h := newHost(engineAddress)
	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", handle.Port),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		close(cancel)
		select {
		case <-handle.Done:
		case <-time.After(10 * time.Second):
			t.Error("language host server did not stop")
		}
	})
	return pulumirpc.NewLanguageRuntimeClient(conn), h
}

// waitFor polls cond every 20 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// nodePath is the node binary the host will find on $PATH.
func nodePath(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Node.js 20) must be on $PATH for these tests: %v", err)
	}
	return node
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}
