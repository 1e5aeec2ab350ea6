package main

// The policy-pack path (policy.go): RunPlugin with kind "analyzer" through the real gRPC service.
// The test plays the engine: it reads the policy proxy's port from the stream, configures the
// stack through it and calls the analyzer. The fake @pulumi/pulumi/cmd/run-policy-pack records how
// it was started and announces a Go analyzer server of the test as its own, so calls made through
// the proxy must arrive there.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// fakeAnalyzer is the policy pack's analyzer as the proxy sees it.
type fakeAnalyzer struct {
	pulumirpc.UnimplementedAnalyzerServer
	mu         sync.Mutex
	configured *pulumirpc.AnalyzerStackConfigureRequest
}

func (a *fakeAnalyzer) ConfigureStack(_ context.Context, req *pulumirpc.AnalyzerStackConfigureRequest,
) (*pulumirpc.AnalyzerStackConfigureResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.configured = req
	return &pulumirpc.AnalyzerStackConfigureResponse{}, nil
}

func (a *fakeAnalyzer) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: "9.9.9-fake-pack"}, nil
}

func (a *fakeAnalyzer) GetAnalyzerInfo(context.Context, *emptypb.Empty) (*pulumirpc.AnalyzerInfo, error) {
	return &pulumirpc.AnalyzerInfo{Name: "fake-pack", Policies: []*pulumirpc.PolicyInfo{{Name: "no-latest-tag"}}}, nil
}

func startFakeAnalyzer(t *testing.T) (*fakeAnalyzer, int) {
	t.Helper()
	a := &fakeAnalyzer{}
	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterAnalyzerServer(srv, a)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(cancel); <-handle.Done })
	return a, handle.Port
}

func fixturePolicyPack(t *testing.T) (dir, runPolicyJS string) {
	dir = realDir(t)
	writeFile(t, filepath.Join(dir, "PulumiPolicy.yaml"), "runtime: nodejs\ndescription: fake pack\n")
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"fake-pack","version":"0.0.1"}`)
	writeFile(t, filepath.Join(dir, "index.ts"), "export {};\n")
	return dir, fakeSDK(t, dir, map[string]string{"cmd/run-policy-pack": fakeRunPolicyPackJS})["cmd/run-policy-pack"]
}

// startPolicyPack calls RunPlugin for the pack and returns the stream's output and an analyzer
// client connected to the policy proxy whose port the host printed first.
func startPolicyPack(t *testing.T, ctx context.Context, dir string, env []string) (*pluginOutput, pulumirpc.AnalyzerClient) {
	t.Helper()
	client, _ := startHost(t, "")
	stream, err := client.RunPlugin(ctx, &pulumirpc.RunPluginRequest{
		Kind: "analyzer",
		Pwd:  dir,
		Args: []string{"127.0.0.1:4444"}, // the engine address, as the engine passes it
		Env:  env,
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := collect(stream)
	var port int
	waitFor(t, "the policy proxy's port", func() bool {
		first, _, ok := strings.Cut(o.Stdout(), "\n")
		if ok {
			port, err = strconv.Atoi(first)
		}
		return ok
	})
	if err != nil || port == 0 {
		t.Fatalf("first stdout line is not a port: %q", o.Stdout())
	}
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return o, pulumirpc.NewAnalyzerClient(conn)
}

func TestPolicyPack(t *testing.T) {
	dir, runPolicyJS := fixturePolicyPack(t)
	analyzer, analyzerPort := startFakeAnalyzer(t)
	out := filepath.Join(t.TempDir(), "record.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o, proxy := startPolicyPack(t, ctx, dir, []string{
		"PATH=" + os.Getenv("PATH"), "FAKE_OUT=" + out, "FAKE_ANALYZER_PORT=" + strconv.Itoa(analyzerPort),
	})

	// The engine configures the stack first; only then is the pack started, with that stack in
	// its environment.
	stack := &pulumirpc.AnalyzerStackConfigureRequest{
		Stack: "dev", Project: "sts-canary", Organization: "acme", DryRun: true,
		Config: map[string]string{"sts-canary:replicas": "5"},
	}
	if _, err := proxy.ConfigureStack(ctx, stack); err != nil {
		t.Fatal(err)
	}
	info, err := proxy.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.GetVersion() != "9.9.9-fake-pack" {
		t.Fatalf("GetPluginInfo through the proxy = %v, %v; want the pack's answer", info, err)
	}
	ainfo, err := proxy.GetAnalyzerInfo(ctx, &emptypb.Empty{})
	if err != nil || ainfo.GetName() != "fake-pack" || len(ainfo.GetPolicies()) != 1 {
		t.Fatalf("GetAnalyzerInfo through the proxy = %v, %v", ainfo, err)
	}
	analyzer.mu.Lock()
	forwarded := analyzer.configured
	analyzer.mu.Unlock()
	if forwarded.GetStack() != "dev" || forwarded.GetConfig()["sts-canary:replicas"] != "5" {
		t.Errorf("stack configuration forwarded to the pack: %v", forwarded)
	}

	rec := readRecord(t, out)
	// run-policy-pack gets the engine address (the request's args) first and the pack directory last.
	if want := []string{runPolicyJS, "127.0.0.1:4444", dir}; !equalStrings(rec.Argv, want) {
		t.Errorf("argv\n got %q\nwant %q", rec.Argv, want)
	}
	if rec.Cwd != dir {
		t.Errorf("cwd = %q, want the pack directory %q", rec.Cwd, dir)
	}
	for k, want := range map[string]string{
		"PULUMI_NODEJS_ORGANIZATION": "acme",
		"PULUMI_NODEJS_PROJECT":      "sts-canary",
		"PULUMI_NODEJS_STACK":        "dev",
		"PULUMI_NODEJS_DRY_RUN":      "true",
		"PULUMI_CONFIG":              `{"sts-canary:replicas":"5"}`,
		"PULUMI_NODEJS_TYPESCRIPT":   "true",
	} {
		if got := rec.Env[k]; got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	if _, ok := rec.Env["HOME"]; ok {
		t.Error("the request's env should replace the host's (HOME leaked through)")
	}

	// After the port line, the pack's output is streamed through.
	waitFor(t, "the pack's output", func() bool {
		return strings.Contains(o.Stdout(), "policy pack stdout line\n") && strings.Contains(o.Stderr(), "policy pack stderr line\n")
	})
	if lines := strings.Split(o.Stdout(), "\n"); len(lines) != 3 || lines[1] != "policy pack stdout line" {
		t.Errorf("the pack's own port line must be consumed by the proxy, not streamed: %q", o.Stdout())
	}

	// The engine ends the pack by cancelling RunPlugin: SIGTERM.
	cancel()
	waitFor(t, "the pack to get SIGTERM", func() bool { return fileExists(out + ".sigterm") })
	o.wait(t)
}

// A pack used without stack configuration (e.g. `pulumi policy publish` asks for its info first)
// starts without the PULUMI_NODEJS_* stack variables.
func TestPolicyPackWithoutStackConfiguration(t *testing.T) {
	dir, _ := fixturePolicyPack(t)
	_, analyzerPort := startFakeAnalyzer(t)
	out := filepath.Join(t.TempDir(), "record.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o, proxy := startPolicyPack(t, ctx, dir, []string{
		"PATH=" + os.Getenv("PATH"), "FAKE_OUT=" + out, "FAKE_ANALYZER_PORT=" + strconv.Itoa(analyzerPort),
	})
	info, err := proxy.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.GetVersion() != "9.9.9-fake-pack" {
		t.Fatalf("GetPluginInfo = %v, %v", info, err)
	}
	rec := readRecord(t, out)
	for _, k := range []string{"PULUMI_NODEJS_STACK", "PULUMI_NODEJS_PROJECT", "PULUMI_CONFIG"} {
		if v, ok := rec.Env[k]; ok {
			t.Errorf("%s=%q set without a stack configuration", k, v)
		}
	}
	cancel()
	o.wait(t)
}

func TestPolicyPackExitCode(t *testing.T) {
	dir, _ := fixturePolicyPack(t)
	_, analyzerPort := startFakeAnalyzer(t)
	ctx := context.Background()
	o, proxy := startPolicyPack(t, ctx, dir, []string{
		"PATH=" + os.Getenv("PATH"), "FAKE_OUT=" + filepath.Join(t.TempDir(), "record.json"),
		"FAKE_ANALYZER_PORT=" + strconv.Itoa(analyzerPort), "FAKE_MODE=exit:3",
	})
	if _, err := proxy.ConfigureStack(ctx, &pulumirpc.AnalyzerStackConfigureRequest{Stack: "dev"}); err != nil {
		t.Fatal(err)
	}
	o.wait(t)
	if st, _ := status.FromError(o.err); o.err == nil || st.Message() != "policy pack exited with code 3" {
		t.Errorf("stream ended with %v, want \"policy pack exited with code 3\"", o.err)
	}
}
