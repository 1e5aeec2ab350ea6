package main

// The program path: runtime options, the node command line and environment Run builds, exit code
// handling, resolving @pulumi/pulumi/cmd/run from the program directory, Cancel. Run is driven
// through the real gRPC service against a fixture program whose fake cmd/run records how it was
// started; the engine and resource monitor addresses are stubs (the fake never dials them).

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseOptionsValues(t *testing.T) {
	o, err := parseOptions(mustStruct(t, map[string]any{
		"typescript": true, "tsconfig": "cfg/tsconfig.json",
		"nodeargs":       "  --no-warnings\t--max-old-space-size=64   --enable-source-maps ",
		"packagemanager": "yarn", "unknownOption": 42,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--no-warnings", "--max-old-space-size=64", "--enable-source-maps"}; !equalStrings(o.nodeargs, want) {
		t.Errorf("nodeargs = %q, want %q", o.nodeargs, want)
	}
	if o.packagemanager != "yarn" || o.tsconfig != "cfg/tsconfig.json" || !o.typescript {
		t.Errorf("options = %+v", o)
	}
	if env, want := o.tsEnv(), []string{"PULUMI_NODEJS_TYPESCRIPT=true", "PULUMI_NODEJS_TSCONFIG_PATH=cfg/tsconfig.json"}; !equalStrings(env, want) {
		t.Errorf("tsEnv = %q, want %q", env, want)
	}
	// Defaults: TypeScript on (ts-node registered by the SDK), nothing else.
	o, err = parseOptions(&structpb.Struct{})
	if err != nil {
		t.Fatal(err)
	}
	if env := o.tsEnv(); !equalStrings(env, []string{"PULUMI_NODEJS_TYPESCRIPT=true"}) || o.nodeargs != nil || o.packagemanager != "" {
		t.Errorf("defaults: %+v, tsEnv %q", o, env)
	}
	o, _ = parseOptions(mustStruct(t, map[string]any{"typescript": false}))
	if env := o.tsEnv(); len(env) != 0 {
		t.Errorf("typescript false: tsEnv = %q, want none", env)
	}
}

func TestParseOptionsErrors(t *testing.T) {
	for _, c := range []struct {
		key  string
		val  any
		want string
	}{
		{"typescript", "yes", "runtime option 'typescript' must be a boolean"},
		{"tsconfig", true, "runtime option 'tsconfig' must be a string"},
		{"nodeargs", []any{"--inspect"}, "runtime option 'nodeargs' must be a string"},
		{"packagemanager", 3.0, "runtime option 'packagemanager' must be a string"},
	} {
		_, err := parseOptions(mustStruct(t, map[string]any{c.key: c.val}))
		if err == nil || err.Error() != c.want {
			t.Errorf("%s=%v: error %v, want %q", c.key, c.val, err, c.want)
		}
	}
}

func TestProgramCommand(t *testing.T) {
	req := &pulumirpc.RunRequest{
		Project: "proj", Stack: "dev", Organization: "org", Pwd: "/ignored/pwd", Program: "ignored.js",
		Args:   []string{"a1", "a 2"},
		Config: map[string]string{"proj:name": "v", "proj:secret": "s3cr3t"}, ConfigSecretKeys: []string{"proj:secret"},
		DryRun: true, Parallel: 16, MonitorAddress: "127.0.0.1:1111",
		Info: &pulumirpc.ProgramInfo{RootDirectory: "/p", ProgramDirectory: "/p/src", EntryPoint: "main.ts"},
	}
	opts := options{typescript: true, tsconfig: "tsconfig.json", nodeargs: []string{"--no-warnings"}}
	args, env, err := programCommand(req, opts, "/p/src", "/p/node_modules/@pulumi/pulumi/cmd/run/index.js", "127.0.0.1:2222")
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := []string{"--no-warnings", "/p/node_modules/@pulumi/pulumi/cmd/run/index.js",
		"--monitor", "127.0.0.1:1111", "--engine", "127.0.0.1:2222", "--organization", "org", "--project", "proj",
		"--root-directory", "/p", "--stack", "dev", "--pwd", "/p/src", "--dry-run", "--parallel", "16",
		"main.ts", "a1", "a 2"}
	if !equalStrings(args, wantArgs) {
		t.Errorf("args\n got %q\nwant %q", args, wantArgs)
	}
	wantEnv := []string{`PULUMI_CONFIG={"proj:name":"v","proj:secret":"s3cr3t"}`, `PULUMI_CONFIG_SECRET_KEYS=["proj:secret"]`,
		"PULUMI_NODEJS_TYPESCRIPT=true", "PULUMI_NODEJS_TSCONFIG_PATH=tsconfig.json"}
	if !equalStrings(env, wantEnv) {
		t.Errorf("env\n got %q\nwant %q", env, wantEnv)
	}

	// Minimal request: empty flags are left out, --parallel always given, entry point ".",
	// config and secret keys are empty JSON values rather than null.
	args, env, err = programCommand(&pulumirpc.RunRequest{Pwd: "/w"}, options{}, "/w", "run.js", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"run.js", "--pwd", "/w", "--parallel", "0", "."}; !equalStrings(args, want) {
		t.Errorf("minimal args = %q, want %q", args, want)
	}
	if want := []string{"PULUMI_CONFIG={}", "PULUMI_CONFIG_SECRET_KEYS=[]"}; !equalStrings(env, want) {
		t.Errorf("minimal env = %q, want %q", env, want)
	}

	// Without an entry point in the program info, the deprecated `program` field is used.
	args, _, _ = programCommand(&pulumirpc.RunRequest{Program: "bin/index.js", Info: &pulumirpc.ProgramInfo{}},
		options{}, "/w", "run.js", "")
	if got := args[len(args)-1]; got != "bin/index.js" {
		t.Errorf("entry point = %q, want the program field", got)
	}
}

func TestRunResponse(t *testing.T) {
	exitOf := func(script string) error {
		t.Helper()
		err := exec.Command("sh", "-c", script).Run()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			t.Fatalf("sh -c %q: %v, want an exit error", script, err)
		}
		return err
	}
	for _, c := range []struct {
		name string
		err  error
		want *pulumirpc.RunResponse
	}{
		{"success", nil, &pulumirpc.RunResponse{}},
		{"already reported", exitOf("exit 32"), &pulumirpc.RunResponse{Bail: true}},
		{"exit 1", exitOf("exit 1"), &pulumirpc.RunResponse{Error: "Program exited with non-zero exit code: 1"}},
		{"exit 33", exitOf("exit 33"), &pulumirpc.RunResponse{Error: "Program exited with non-zero exit code: 33"}},
		{"signal", exitOf("kill -TERM $$"), &pulumirpc.RunResponse{Error: "Program was terminated: signal: terminated"}},
		{"other", errors.New("i/o failure"), &pulumirpc.RunResponse{Error: "Problem running program: i/o failure"}},
	} {
		got := runResponse(c.err)
		if got.GetBail() != c.want.GetBail() || got.GetError() != c.want.GetError() {
			t.Errorf("%s: got bail=%v error=%q, want bail=%v error=%q", c.name, got.GetBail(), got.GetError(),
				c.want.GetBail(), c.want.GetError())
		}
	}
}

// fixtureProgram creates a TypeScript program directory with a fake @pulumi/pulumi whose cmd/run
// records itself into FAKE_OUT, and returns the directory and the resolved cmd/run script.
func fixtureProgram(t *testing.T) (dir, runJS string) {
	dir = realDir(t)
	writeFile(t, filepath.Join(dir, "Pulumi.yaml"), "name: proj\nruntime:\n  name: nodejs\n")
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"proj","dependencies":{"@pulumi/pulumi":"3.248.0"}}`)
	writeFile(t, filepath.Join(dir, "index.ts"), "throw new Error('the fake cmd/run never loads the program');\n")
	return dir, fakeSDK(t, dir, map[string]string{"cmd/run": fakeRunJS})["cmd/run"]
}

func TestRunProgram(t *testing.T) {
	dir, runJS := fixtureProgram(t)
	out := filepath.Join(t.TempDir(), "record.json")
	t.Setenv("FAKE_OUT", out)
	t.Setenv("FAKE_MODE", "")
	t.Setenv("STS_CANARY_TEST_INHERITED", "from the host")
	client, _ := startHost(t, "127.0.0.1:1")
	ctx := context.Background()

	// The engine announces its address in the handshake; Run passes that one on.
	if _, err := client.Handshake(ctx, &pulumirpc.LanguageHandshakeRequest{EngineAddress: "127.0.0.1:2222"}); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Run(ctx, &pulumirpc.RunRequest{
		Project: "proj", Stack: "dev", Organization: "org", Pwd: dir,
		Args:   []string{"extra-arg"},
		Config: map[string]string{"proj:replicas": "5", "proj:password": "hunter2"}, ConfigSecretKeys: []string{"proj:password"},
		DryRun: true, Parallel: 8, MonitorAddress: "127.0.0.1:1111",
		Info: &pulumirpc.ProgramInfo{
			RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "index.ts",
			Options: mustStruct(t, map[string]any{"nodeargs": "--no-warnings --max-old-space-size=64", "tsconfig": "tsconfig.json"}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetError() != "" || resp.GetBail() {
		t.Fatalf("Run: error %q, bail %v", resp.GetError(), resp.GetBail())
	}
	rec := readRecord(t, out)
	wantArgv := []string{runJS, "--monitor", "127.0.0.1:1111", "--engine", "127.0.0.1:2222", "--organization", "org",
		"--project", "proj", "--root-directory", dir, "--stack", "dev", "--pwd", dir, "--dry-run", "--parallel", "8",
		"index.ts", "extra-arg"}
	if !equalStrings(rec.Argv, wantArgv) {
		t.Errorf("argv\n got %q\nwant %q", rec.Argv, wantArgv)
	}
	if want := []string{"--no-warnings", "--max-old-space-size=64"}; !equalStrings(rec.ExecArgv, want) {
		t.Errorf("node options = %q, want %q", rec.ExecArgv, want)
	}
	if rec.Cwd != dir {
		t.Errorf("cwd = %q, want %q", rec.Cwd, dir)
	}
	var config map[string]string
	if err := json.Unmarshal([]byte(rec.Env["PULUMI_CONFIG"]), &config); err != nil ||
		len(config) != 2 || config["proj:replicas"] != "5" || config["proj:password"] != "hunter2" {
		t.Errorf("PULUMI_CONFIG = %q (%v)", rec.Env["PULUMI_CONFIG"], err)
	}
	for k, want := range map[string]string{
		"PULUMI_CONFIG_SECRET_KEYS":   `["proj:password"]`,
		"PULUMI_NODEJS_TYPESCRIPT":    "true",
		"PULUMI_NODEJS_TSCONFIG_PATH": "tsconfig.json",
		"STS_CANARY_TEST_INHERITED":   "from the host", // the host's environment is passed on
	} {
		if got, ok := rec.Env[k]; !ok || got != want {
			t.Errorf("env %s = %q (set: %v), want %q", k, got, ok, want)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	dir, _ := fixtureProgram(t)
	t.Setenv("FAKE_OUT", filepath.Join(t.TempDir(), "record.json"))
	client, _ := startHost(t, "127.0.0.1:1")
	for _, c := range []struct {
		mode, wantErr string
		wantBail      bool
	}{
		{"exit:0", "", false},
		{"exit:32", "", true}, // the SDK already reported the error through the engine
		{"exit:3", "Program exited with non-zero exit code: 3", false},
		{"kill", "Program was terminated: signal: killed", false},
	} {
		t.Setenv("FAKE_MODE", c.mode)
		resp, err := client.Run(context.Background(), &pulumirpc.RunRequest{
			Project: "proj", Stack: "dev", Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir, EntryPoint: "."},
		})
		if err != nil {
			t.Fatalf("%s: %v", c.mode, err)
		}
		if resp.GetError() != c.wantErr || resp.GetBail() != c.wantBail {
			t.Errorf("%s: error %q bail %v, want error %q bail %v", c.mode, resp.GetError(), resp.GetBail(), c.wantErr, c.wantBail)
		}
	}
}

func TestRunErrors(t *testing.T) {
	client, _ := startHost(t, "")
	ctx := context.Background()

	// No dependencies installed: cmd/run cannot be resolved from the program directory.
	bare := realDir(t)
	writeFile(t, filepath.Join(bare, "package.json"), `{"name":"bare"}`)
	resp, err := client.Run(ctx, &pulumirpc.RunRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: bare}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cannot find @pulumi/pulumi/cmd/run from " + bare,
		"run `npm install` or `pulumi install`",
		"exit status 1: Error: Cannot find module '@pulumi/pulumi/cmd/run'",
	} {
		if !strings.Contains(resp.GetError(), want) {
			t.Errorf("missing dependencies: error %q does not contain %q", resp.GetError(), want)
		}
	}

	// cmd/run is resolved the way node does it: from a parent directory's node_modules too.
	dir, runJS := fixtureProgram(t)
	sub := filepath.Join(dir, "infra")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := resolveInProject(ctx, nodePath(t), sub, "@pulumi/pulumi/cmd/run"); err != nil || got != runJS {
		t.Errorf("resolve from a subdirectory = %q, %v; want %q", got, err, runJS)
	}

	// Invalid runtime options fail before anything is started.
	resp, err = client.Run(ctx, &pulumirpc.RunRequest{Info: &pulumirpc.ProgramInfo{
		ProgramDirectory: dir, Options: mustStruct(t, map[string]any{"typescript": "no"}),
	}})
	if err != nil || resp.GetError() != "runtime option 'typescript' must be a boolean" {
		t.Errorf("bad option: %q, %v", resp.GetError(), err)
	}

	// No node on $PATH.
	t.Setenv("PATH", t.TempDir())
	resp, err = client.Run(ctx, &pulumirpc.RunRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}})
	if err != nil || !strings.HasPrefix(resp.GetError(), "could not find node on $PATH: ") {
		t.Errorf("without node: %q, %v", resp.GetError(), err)
	}
}

func TestCancelInterruptsRunningProgram(t *testing.T) {
	dir, _ := fixtureProgram(t)
	out := filepath.Join(t.TempDir(), "record.json")
	t.Setenv("FAKE_OUT", out)
	t.Setenv("FAKE_MODE", "wait")
	client, h := startHost(t, "")

	done := make(chan *pulumirpc.RunResponse, 1)
	go func() {
		resp, err := client.Run(context.Background(), &pulumirpc.RunRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}})
		if err != nil {
			resp = &pulumirpc.RunResponse{Error: "gRPC: " + err.Error()}
		}
		done <- resp
	}()
	waitFor(t, "the program to start", func() bool { return fileExists(out + ".ready") })
	if _, err := client.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-done:
		// The fake exits 7 on SIGINT, as a program that handles it would.
		if want := "Program exited with non-zero exit code: 7"; resp.GetError() != want {
			t.Errorf("Run after Cancel: %q, want %q", resp.GetError(), want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Cancel")
	}
	if !fileExists(out + ".sigint") {
		t.Error("the program did not get SIGINT")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.running) != 0 {
		t.Errorf("%d programs still tracked after Run returned", len(h.running))
	}
}

// When the engine abandons the Run call, the program is interrupted (SIGINT) and Run reports
// how it ended.
func TestRunContextCancelled(t *testing.T) {
	dir, _ := fixtureProgram(t)
	out := filepath.Join(t.TempDir(), "record.json")
	t.Setenv("FAKE_OUT", out)
	t.Setenv("FAKE_MODE", "wait")
	h := newHost("")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // (no t.Fatal outside the test goroutine: Run's own 10 s wait bounds this test)
		for i := 0; i < 500 && !fileExists(out+".ready"); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()
	resp, err := h.Run(ctx, &pulumirpc.RunRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Program exited with non-zero exit code: 7"; resp.GetError() != want || !fileExists(out+".sigint") {
		t.Errorf("after cancellation: %q (SIGINT seen: %v), want %q", resp.GetError(), fileExists(out+".sigint"), want)
	}
}

func TestSmallMethods(t *testing.T) {
	old := version.Version
	version.Version = "v3.248.0-test"
	t.Cleanup(func() { version.Version = old })
	client, _ := startHost(t, "")
	ctx := context.Background()

	info, err := client.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.GetVersion() != "v3.248.0-test" {
		t.Errorf("GetPluginInfo = %v, %v", info, err)
	}
	prompts, err := client.RuntimeOptionsPrompts(ctx, &pulumirpc.RuntimeOptionsRequest{})
	if err != nil || len(prompts.GetPrompts()) != 0 {
		t.Errorf("RuntimeOptionsPrompts = %v, %v", prompts, err)
	}
	if _, err := client.Template(ctx, &pulumirpc.TemplateRequest{}); err != nil {
		t.Errorf("Template: %v", err)
	}
	// Documented as not implemented.
	_, err = client.GenerateProject(ctx, &pulumirpc.GenerateProjectRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("GenerateProject: %v, want Unimplemented", err)
	}
}

func TestAbout(t *testing.T) {
	node := nodePath(t)
	nodeVersion, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, pm := range []string{"npm", "yarn"} {
		writeFile(t, filepath.Join(bin, pm), "#!/bin/sh\necho 9.8.7-"+pm+"\n")
		if err := os.Chmod(filepath.Join(bin, pm), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+filepath.Dir(node))
	client, _ := startHost(t, "")
	dir := t.TempDir()

	about, err := client.About(context.Background(), &pulumirpc.AboutRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if about.GetExecutable() != node || about.GetVersion() != strings.TrimSpace(string(nodeVersion)) {
		t.Errorf("About: executable %q version %q, want %q %q", about.GetExecutable(), about.GetVersion(), node, nodeVersion)
	}
	if m := about.GetMetadata(); m["packagemanager"] != "npm" || m["packagemanagerVersion"] != "9.8.7-npm" {
		t.Errorf("About metadata = %v", m)
	}
	writeFile(t, filepath.Join(dir, "yarn.lock"), "")
	about, err = client.About(context.Background(), &pulumirpc.AboutRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if m := about.GetMetadata(); m["packagemanager"] != "yarn" || m["packagemanagerVersion"] != "9.8.7-yarn" {
		t.Errorf("About metadata with yarn.lock = %v", m)
	}
}
