package main

// The process the engine starts: the test binary re-executes itself as `pulumi-language-nodejs`
// (main()) to check the start-up protocol (port on the first stdout line, engine address argument,
// flags, clean exit on SIGTERM). Also the pulumi-resource-pulumi-nodejs launcher script.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const asLanguageHost = "STS_CANARY_TEST_AS_LANGUAGE_HOST"

func TestMain(m *testing.M) {
	if os.Getenv(asLanguageHost) == "1" {
		// Run as the language host: os.Args[1:] after "--" are its arguments.
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		os.Args = append([]string{"pulumi-language-nodejs"}, args...)
		version.Version = "v3.248.0-test"
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// languageHostCommand runs this test binary as the language host with the given arguments.
func languageHostCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), asLanguageHost+"=1")
	return cmd
}

func TestMainProtocol(t *testing.T) {
	dir, _ := fixtureProgram(t)
	out := filepath.Join(t.TempDir(), "record.json")
	t.Setenv("FAKE_OUT", out)
	t.Setenv("FAKE_MODE", "")

	// Started like the engine does it: flags, then the engine address.
	cmd := languageHostCommand(t, "-tracing", "", "-root", dir, "127.0.0.1:5555")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		go func() { exited <- cmd.Wait() }()
	}()
	var port int
	select {
	case line := <-lines:
		if port, err = strconv.Atoi(strings.TrimSpace(line)); err != nil || port <= 0 {
			t.Fatalf("first stdout line %q is not a port (stderr: %s)", line, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the language host printed no port")
	}

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pulumirpc.NewLanguageRuntimeClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := client.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.GetVersion() != "v3.248.0-test" {
		t.Fatalf("GetPluginInfo = %v, %v", info, err)
	}
	// The engine address from the command line reaches the program.
	resp, err := client.Run(ctx, &pulumirpc.RunRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}})
	if err != nil || resp.GetError() != "" {
		t.Fatalf("Run = %v, %v", resp, err)
	}
	if argv := readRecord(t, out).Argv; len(argv) < 5 || argv[1] != "--engine" || argv[2] != "127.0.0.1:5555" {
		t.Errorf("program argv %q, want --engine 127.0.0.1:5555 first", argv)
	}

	// SIGTERM stops it cleanly.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v (stderr: %s)", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the language host did not exit on SIGTERM")
	}
}

func TestMainFlags(t *testing.T) {
	out, err := languageHostCommand(t, "-version").Output()
	if err != nil || string(out) != "v3.248.0-test\n" {
		t.Errorf("-version: %q, %v", out, err)
	}
	cmd := languageHostCommand(t, "-runtime", "bun")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() != 1 ||
		!strings.Contains(stderr.String(), `unsupported runtime "bun": this language host only supports nodejs`) {
		t.Errorf("-runtime bun: %v, stderr %q", err, stderr.String())
	}
}

// dynamicProviderJS stands in for @pulumi/pulumi/cmd/dynamic-provider: prints its argv.
const dynamicProviderJS = `process.stdout.write(JSON.stringify(process.argv.slice(1)));`

// runLauncher starts the pulumi-resource-pulumi-nodejs script in dir like the engine does (engine
// address, flags), with a node on $PATH that logs each of its command lines before running the
// real node. It returns the launcher's stdout and stderr, those command lines and its error.
func runLauncher(t *testing.T, dir string) (stdout, stderr string, nodeCalls []string, err error) {
	t.Helper()
	script, err := filepath.Abs("pulumi-resource-pulumi-nodejs")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "calls.log")
	writeFile(t, filepath.Join(bin, "node"), "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '"+log+"'\nexec '"+nodePath(t)+"' \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "node"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "127.0.0.1:6666", "--logtostderr")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if b, rerr := os.ReadFile(log); rerr == nil {
		nodeCalls = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	return out.String(), errOut.String(), nodeCalls, err
}

// pulumi-resource-pulumi-nodejs (the dynamic provider launcher) runs the SDK's
// cmd/dynamic-provider that require.resolve would pick from its working directory, passing the
// engine's arguments through. The usual layouts are resolved by the script itself (node starts
// once: the provider); the others are left to `node -p require.resolve(...)`.
func TestDynamicProviderLauncher(t *testing.T) {
	const entry = "@pulumi/pulumi/cmd/dynamic-provider"
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, root string) (dir, want string)
		fast  bool
	}{
		{"walks up from a subdirectory", func(t *testing.T, root string) (string, string) {
			js := fakeSDK(t, root, map[string]string{"cmd/dynamic-provider": dynamicProviderJS})
			mkdir(t, filepath.Join(root, "src/deep"))
			return filepath.Join(root, "src/deep"), js["cmd/dynamic-provider"]
		}, true},
		{"working directory through a symlink: the real path's parents", func(t *testing.T, root string) (string, string) {
			js := fakeSDK(t, filepath.Join(root, "real"), map[string]string{"cmd/dynamic-provider": dynamicProviderJS})
			fakeSDK(t, filepath.Join(root, "other"), map[string]string{"cmd/dynamic-provider": "process.exit(9);"})
			symlink(t, filepath.Join(root, "real"), filepath.Join(root, "other/link"))
			return filepath.Join(root, "other/link"), js["cmd/dynamic-provider"]
		}, true},
		{"SDK package is a symlink: its real path", func(t *testing.T, root string) (string, string) {
			writeFile(t, filepath.Join(root, "packages/sdk/package.json"), sdkManifest)
			writeFile(t, filepath.Join(root, "packages/sdk/cmd/dynamic-provider/index.js"), dynamicProviderJS)
			symlink(t, "../../../packages/sdk", filepath.Join(root, "app/node_modules/@pulumi/pulumi"))
			return filepath.Join(root, "app"), filepath.Join(root, "packages/sdk/cmd/dynamic-provider/index.js")
		}, true},
		{"nearer SDK without the entry point: the next node_modules up", func(t *testing.T, root string) (string, string) {
			js := fakeSDK(t, root, map[string]string{"cmd/dynamic-provider": dynamicProviderJS})
			writeFile(t, filepath.Join(root, "app/node_modules/@pulumi/pulumi/package.json"), sdkManifest)
			return filepath.Join(root, "app"), js["cmd/dynamic-provider"]
		}, true},
		{"inside node_modules: no node_modules/node_modules", func(t *testing.T, root string) (string, string) {
			js := fakeSDK(t, root, map[string]string{"cmd/dynamic-provider": dynamicProviderJS})
			fakeSDK(t, filepath.Join(root, "node_modules"), map[string]string{"cmd/dynamic-provider": "process.exit(9);"})
			return filepath.Join(root, "node_modules"), js["cmd/dynamic-provider"]
		}, true},
		{"exports map: node's answer", func(t *testing.T, root string) (string, string) {
			fakeSDK(t, root, map[string]string{"cmd/dynamic-provider": "process.exit(9);"})
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/package.json"),
				`{"name":"@pulumi/pulumi","exports":{"./cmd/dynamic-provider":{"require":"./alt.js"}}}`)
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/alt.js"), dynamicProviderJS)
			return root, filepath.Join(root, "node_modules/@pulumi/pulumi/alt.js")
		}, false},
		{"cmd/dynamic-provider.js: node's answer", func(t *testing.T, root string) (string, string) {
			fakeSDK(t, root, map[string]string{"cmd/dynamic-provider": "process.exit(9);"})
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/dynamic-provider.js"), dynamicProviderJS)
			return root, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/dynamic-provider.js")
		}, false},
		{"NODE_PATH: node's answer", func(t *testing.T, root string) (string, string) {
			js := fakeSDK(t, filepath.Join(root, "global"), map[string]string{"cmd/dynamic-provider": dynamicProviderJS})
			t.Setenv("NODE_PATH", filepath.Join(root, "global/node_modules"))
			mkdir(t, filepath.Join(root, "app"))
			return filepath.Join(root, "app"), js["cmd/dynamic-provider"]
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := realDir(t)
			dir, want := c.setup(t, root)
			stdout, stderr, calls, err := runLauncher(t, dir)
			if err != nil {
				t.Fatalf("launcher: %v (stderr %q)", err, stderr)
			}
			if w := fmt.Sprintf(`[%q,"127.0.0.1:6666","--logtostderr"]`, want); stdout != w {
				t.Errorf("launcher ran %s, want %s", stdout, w)
			}
			wantCalls := []string{want + " 127.0.0.1:6666 --logtostderr"}
			if !c.fast {
				wantCalls = append([]string{"-p require.resolve(\"" + entry + "\")"}, wantCalls...)
			}
			if !equalStrings(calls, wantCalls) {
				t.Errorf("node command lines %q, want %q", calls, wantCalls)
			}
		})
	}

	// The sts-canary package next to the SDK: its preload (lazy-sdk.js) is required first.
	t.Run("sts-canary's lazy-sdk preload when installed next to the SDK", func(t *testing.T) {
		root := realDir(t)
		js := fakeSDK(t, root, map[string]string{"cmd/dynamic-provider": dynamicProviderJS})
		lazy := filepath.Join(root, "node_modules/sts-canary/lazy-sdk.js")
		writeFile(t, lazy, "globalThis.preloaded = true;\n")
		_, stderr, calls, err := runLauncher(t, root)
		if err != nil {
			t.Fatalf("launcher: %v (stderr %q)", err, stderr)
		}
		if want := []string{"--require " + lazy + " " + js["cmd/dynamic-provider"] + " 127.0.0.1:6666 --logtostderr"}; !equalStrings(calls, want) {
			t.Errorf("node command lines %q, want %q", calls, want)
		}
	})

	// Nothing installed: node's error and exit status, and no provider start.
	dir := realDir(t)
	_, stderr, calls, err := runLauncher(t, dir)
	if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() != 1 ||
		!strings.Contains(stderr, "Error: Cannot find module '"+entry+"'") {
		t.Errorf("without the SDK: %v, stderr %q", err, stderr)
	}
	if want := []string{"-p require.resolve(\"" + entry + "\")"}; !equalStrings(calls, want) {
		t.Errorf("without the SDK: node command lines %q, want %q", calls, want)
	}
}
