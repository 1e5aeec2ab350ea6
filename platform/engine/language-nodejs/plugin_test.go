package main

// The plugin path: RunPlugin of a source-based plugin (PulumiPlugin.yaml, runtime nodejs) through
// the real gRPC service, with a fake @pulumi/pulumi/cmd/run-plugin that echoes how it was started
// on the streamed stdout.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/status"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func fixturePlugin(t *testing.T) (dir, runPluginJS string) {
	dir = realDir(t)
	writeFile(t, filepath.Join(dir, "PulumiPlugin.yaml"), "runtime: nodejs\n")
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"pt-comp","version":"0.1.0"}`)
	writeFile(t, filepath.Join(dir, "index.ts"), "export {};\n")
	return dir, fakeSDK(t, dir, map[string]string{"cmd/run-plugin": fakeRunPluginJS})["cmd/run-plugin"]
}

// pluginOutput collects a RunPlugin stream as it arrives.
type pluginOutput struct {
	mu             sync.Mutex
	stdout, stderr strings.Builder
	err            error // how the stream ended; io.EOF for a clean end
	done           chan struct{}
}

func collect(stream pulumirpc.LanguageRuntime_RunPluginClient) *pluginOutput {
	o := &pluginOutput{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for {
			msg, err := stream.Recv()
			o.mu.Lock()
			if err != nil {
				o.err = err
				o.mu.Unlock()
				return
			}
			o.stdout.Write(msg.GetStdout())
			o.stderr.Write(msg.GetStderr())
			o.mu.Unlock()
		}
	}()
	return o
}

func (o *pluginOutput) wait(t *testing.T) {
	t.Helper()
	waitFor(t, "the RunPlugin stream to end", func() bool {
		select {
		case <-o.done:
			return true
		default:
			return false
		}
	})
}

func (o *pluginOutput) Stdout() string { o.mu.Lock(); defer o.mu.Unlock(); return o.stdout.String() }
func (o *pluginOutput) Stderr() string { o.mu.Lock(); defer o.mu.Unlock(); return o.stderr.String() }

func parseStdoutRecord(t *testing.T, stdout string) record {
	t.Helper()
	var r record
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &r); err != nil {
		t.Fatalf("plugin stdout is not the fake's record: %q: %v", stdout, err)
	}
	return r
}

func envKeys(env map[string]string) []string {
	var keys []string
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestRunPlugin(t *testing.T) {
	dir, runPluginJS := fixturePlugin(t)
	client, _ := startHost(t, "")
	pwd := realDir(t)
	out := filepath.Join(t.TempDir(), "record.json")

	stream, err := client.RunPlugin(context.Background(), &pulumirpc.RunPluginRequest{
		Pwd:  pwd,
		Args: []string{"--port", "0", "two words"},
		// The engine's environment for the plugin replaces the host's, plus the TypeScript switches.
		Env:  []string{"PATH=" + os.Getenv("PATH"), "FAKE_OUT=" + out, "FAKE_MODE=", "PULUMI_DEBUG_X=1"},
		Kind: "resource",
		Info: &pulumirpc.ProgramInfo{
			RootDirectory: dir, ProgramDirectory: dir, EntryPoint: ".",
			Options: mustStruct(t, map[string]any{"nodeargs": "--no-warnings", "tsconfig": "tsconfig.build.json"}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := collect(stream)
	o.wait(t)
	if !errors.Is(o.err, io.EOF) {
		t.Fatalf("stream ended with %v, want a clean end", o.err)
	}
	rec := parseStdoutRecord(t, o.Stdout())
	if want := []string{runPluginJS, dir, "--port", "0", "two words"}; !equalStrings(rec.Argv, want) {
		t.Errorf("argv\n got %q\nwant %q", rec.Argv, want)
	}
	if want := []string{"--no-warnings"}; !equalStrings(rec.ExecArgv, want) {
		t.Errorf("node options = %q, want %q", rec.ExecArgv, want)
	}
	if rec.Cwd != pwd {
		t.Errorf("cwd = %q, want the request's pwd %q", rec.Cwd, pwd)
	}
	wantKeys := []string{"FAKE_MODE", "FAKE_OUT", "PATH", "PULUMI_DEBUG_X", "PULUMI_NODEJS_TSCONFIG_PATH", "PULUMI_NODEJS_TYPESCRIPT"}
	if got := envKeys(rec.Env); !equalStrings(got, wantKeys) {
		t.Errorf("environment variables %q, want exactly %q", got, wantKeys)
	}
	if rec.Env["PULUMI_NODEJS_TSCONFIG_PATH"] != "tsconfig.build.json" || rec.Env["PULUMI_NODEJS_TYPESCRIPT"] != "true" {
		t.Errorf("TypeScript variables: %v", rec.Env)
	}
	if got := o.Stderr(); got != "plugin stderr line\n" {
		t.Errorf("stderr = %q", got)
	}
}

func TestRunPluginInheritsHostEnvironment(t *testing.T) {
	dir, _ := fixturePlugin(t)
	client, _ := startHost(t, "")
	t.Setenv("FAKE_MODE", "")
	t.Setenv("STS_CANARY_TEST_INHERITED", "from the host")
	stream, err := client.RunPlugin(context.Background(), &pulumirpc.RunPluginRequest{
		Kind: "resource",
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir, Options: mustStruct(t, map[string]any{"typescript": false})},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := collect(stream)
	o.wait(t)
	rec := parseStdoutRecord(t, o.Stdout())
	if rec.Env["STS_CANARY_TEST_INHERITED"] != "from the host" {
		t.Errorf("without an env in the request the host's environment is used; got %v", envKeys(rec.Env))
	}
	if _, ok := rec.Env["PULUMI_NODEJS_TYPESCRIPT"]; ok {
		t.Error("typescript: false still set PULUMI_NODEJS_TYPESCRIPT")
	}
	if rec.Cwd != dir {
		t.Errorf("cwd = %q, want the plugin directory %q when no pwd is given", rec.Cwd, dir)
	}
}

func TestRunPluginFailures(t *testing.T) {
	dir, _ := fixturePlugin(t)
	client, _ := startHost(t, "")
	ctx := context.Background()

	// Non-zero exit: the output so far is streamed, then the call fails naming the plugin.
	stream, err := client.RunPlugin(ctx, &pulumirpc.RunPluginRequest{
		Env:  []string{"PATH=" + os.Getenv("PATH"), "FAKE_MODE=exit:5"},
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := collect(stream)
	o.wait(t)
	want := "plugin " + filepath.Base(dir) + " exited with non-zero exit code: 5"
	if st, _ := status.FromError(o.err); st.Message() != want {
		t.Errorf("stream ended with %v, want %q", o.err, want)
	}
	if !strings.Contains(o.Stderr(), "plugin stderr line") || !strings.Contains(o.Stdout(), `"argv"`) {
		t.Errorf("output before the failure was not streamed: stdout %q stderr %q", o.Stdout(), o.Stderr())
	}

	// No @pulumi/pulumi installed in the plugin directory.
	bare := realDir(t)
	stream, err = client.RunPlugin(ctx, &pulumirpc.RunPluginRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: bare}})
	if err != nil {
		t.Fatal(err)
	}
	o = collect(stream)
	o.wait(t)
	if st, _ := status.FromError(o.err); !strings.HasPrefix(st.Message(), "cannot find @pulumi/pulumi/cmd/run-plugin from "+bare) {
		t.Errorf("without dependencies: %v", o.err)
	}
}

// The engine stops a plugin by cancelling the RunPlugin call: the plugin gets SIGTERM (not
// SIGKILL), so it can shut down cleanly.
func TestRunPluginCancelSendsSIGTERM(t *testing.T) {
	dir, _ := fixturePlugin(t)
	client, _ := startHost(t, "")
	out := filepath.Join(t.TempDir(), "record.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.RunPlugin(ctx, &pulumirpc.RunPluginRequest{
		Env:  []string{"PATH=" + os.Getenv("PATH"), "FAKE_MODE=wait", "FAKE_OUT=" + out},
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := collect(stream)
	waitFor(t, "the plugin to start", func() bool { return fileExists(out + ".ready") })
	cancel()
	waitFor(t, "the plugin to get SIGTERM", func() bool { return fileExists(out + ".sigterm") })
	o.wait(t)
}
