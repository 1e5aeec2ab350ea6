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

// pulumi-resource-pulumi-nodejs (the dynamic provider launcher) resolves the SDK's
// cmd/dynamic-provider from its working directory and passes the engine's arguments through.
func TestDynamicProviderLauncher(t *testing.T) {
	script, err := filepath.Abs("pulumi-resource-pulumi-nodejs")
	if err != nil {
		t.Fatal(err)
	}
	dir := realDir(t)
	js := fakeSDK(t, dir, map[string]string{"cmd/dynamic-provider": `process.stdout.write(JSON.stringify(process.argv.slice(1)));`})
	sub := filepath.Join(dir, "src") // resolution walks up to the program's node_modules
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "127.0.0.1:6666", "--logtostderr")
	cmd.Dir = sub
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	if want := fmt.Sprintf(`[%q,"127.0.0.1:6666","--logtostderr"]`, js["cmd/dynamic-provider"]); string(got) != want {
		t.Errorf("launcher ran %s, want %s", got, want)
	}
}
