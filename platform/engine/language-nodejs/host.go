package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// exitCodeAlreadyReported is the exit code @pulumi/pulumi's run entry point uses after it has already
// reported the failure (e.g. an unhandled exception) to the engine; the engine must then just bail.
const exitCodeAlreadyReported = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	// running holds the node processes started by Run, so that Cancel can interrupt them.
	running map[*exec.Cmd]struct{}
}

func newHost(engineAddress string) *host {
	return &host{engineAddress: engineAddress, running: map[*exec.Cmd]struct{}{}}
}

// options are the `runtime.options` of Pulumi.yaml / PulumiPlugin.yaml that we honour.
type options struct {
	typescript     bool
	tsconfig       string
	nodeargs       []string
	packagemanager string
}

func parseOptions(s *structpb.Struct) (options, error) {
	o := options{typescript: true}
	if s == nil {
		return o, nil
	}
	m := s.AsMap()
	if v, ok := m["typescript"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return o, errors.New("runtime option 'typescript' must be a boolean")
		}
		o.typescript = b
	}
	if v, ok := m["tsconfig"]; ok {
		str, isStr := v.(string)
		if !isStr {
			return o, errors.New("runtime option 'tsconfig' must be a string")
		}
		o.tsconfig = str
	}
	if v, ok := m["nodeargs"]; ok {
		str, isStr := v.(string)
		if !isStr {
			return o, errors.New("runtime option 'nodeargs' must be a string")
		}
		// Plain whitespace splitting: quoting inside nodeargs is not supported.
		o.nodeargs = strings.Fields(str)
	}
	if v, ok := m["packagemanager"]; ok {
		str, isStr := v.(string)
		if !isStr {
			return o, errors.New("runtime option 'packagemanager' must be a string")
		}
		o.packagemanager = str
	}
	return o, nil
}

// tsEnv returns the variables through which @pulumi/pulumi learns whether to register ts-node.
func (o options) tsEnv() []string {
	var env []string
	if o.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}

func programDir(info *pulumirpc.ProgramInfo, fallback string) string {
	if info != nil && info.ProgramDirectory != "" {
		return info.ProgramDirectory
	}
	return fallback
}

// lastLine picks the line of node's stderr that says what went wrong: the thrown error
// ("Error: Cannot find module ..."), else the last line that is not stack-trace noise or node's
// closing "Node.js v20..." banner.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, "Error: "); i >= 0 && !strings.ContainsAny(l[:i], " \t:") {
			return l
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "at ") && l != "^" &&
			!strings.HasPrefix(l, "Node.js v") {
			return l
		}
	}
	return ""
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *host) track(cmd *exec.Cmd, add bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if add {
		h.running[cmd] = struct{}{}
	} else {
		delete(h.running, cmd)
	}
}

// Cancel interrupts running programs; @pulumi/pulumi handles SIGINT by shutting down cleanly.
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cmd := range h.running {
		if cmd.Process != nil {
			_ = cmd.Process.Signal(os.Interrupt)
		}
	}
	return &emptypb.Empty{}, nil
}

// Run executes the Pulumi program with `node <@pulumi/pulumi/cmd/run> <flags> <entry point> <args>`.
// Flags and environment are those read by @pulumi/pulumi's cmd/run/index.ts and runtime/config.ts.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := programDir(req.GetInfo(), req.GetPwd())
	opts, err := parseOptions(req.GetInfo().GetOptions())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on $PATH: " + err.Error()}, nil
	}
	runJS, err := resolveInProject(ctx, node, dir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()

	args, extraEnv, err := programCommand(req, opts, dir, runJS, engine)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	env := append(os.Environ(), extraEnv...)

	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	cmd.Env = env
	// Wrapping the files makes exec copy through pipes instead of handing node our own descriptors
	// (node switches its stdio to non-blocking mode, which would leak into this process).
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	// Don't hang on output pipes kept open by a grandchild after node exits.
	cmd.WaitDelay = 5 * time.Second
	logging.V(5).Infof("running program: %s %s", node, strings.Join(args, " "))

	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: "could not start node: " + err.Error()}, nil
	}
	h.track(cmd, true)
	defer h.track(cmd, false)

	// If the engine gives up on the call, interrupt the program, then kill it.
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-ctx.Done():
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case werr = <-waited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			werr = <-waited
		}
	}
	return runResponse(werr), nil
}

// programCommand builds the node command line of a Run request (node options, the resolved
// @pulumi/pulumi/cmd/run script, its flags, the entry point and the program's arguments) and the
// variables added to the host's environment for it. The flags and variables are those read by
// @pulumi/pulumi's cmd/run/index.ts and runtime/config.ts.
func programCommand(req *pulumirpc.RunRequest, opts options, dir, runJS, engine string) ([]string, []string, error) {
	args := append([]string{}, opts.nodeargs...)
	args = append(args, runJS)
	flag := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flag("monitor", req.GetMonitorAddress())
	flag("engine", engine)
	flag("organization", req.GetOrganization())
	flag("project", req.GetProject())
	flag("root-directory", req.GetInfo().GetRootDirectory())
	flag("stack", req.GetStack())
	flag("pwd", dir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flag("parallel", strconv.Itoa(int(req.GetParallel())))
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = req.GetProgram()
	}
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, nil, errors.New("serializing config: " + err.Error())
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, nil, errors.New("serializing secret config keys: " + err.Error())
	}
	env := []string{
		"PULUMI_CONFIG=" + string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS=" + string(secretKeysJSON),
	}
	env = append(env, opts.tsEnv()...)
	return args, env, nil
}

// runResponse maps how the program's node process ended (cmd.Wait's error) to Run's response.
func runResponse(werr error) *pulumirpc.RunResponse {
	if werr == nil {
		return &pulumirpc.RunResponse{}
	}
	var exitErr *exec.ExitError
	if errors.As(werr, &exitErr) {
		code := exitErr.ExitCode()
		switch {
		case code == exitCodeAlreadyReported:
			// The SDK already reported the error (with its message) through the engine.
			return &pulumirpc.RunResponse{Bail: true}
		case code < 0:
			return &pulumirpc.RunResponse{Error: "Program was terminated: " + exitErr.String()}
		default:
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}
		}
	}
	return &pulumirpc.RunResponse{Error: "Problem running program: " + werr.Error()}
}

// pluginLaunch resolves what starting a plugin of `req` takes: its directory, runtime options,
// the node binary and the @pulumi/pulumi entry point `module` as installed for that directory.
func pluginLaunch(ctx context.Context, req *pulumirpc.RunPluginRequest, module string) (string, options, string, string, error) {
	dir := programDir(req.GetInfo(), req.GetPwd())
	opts, err := parseOptions(req.GetInfo().GetOptions())
	if err != nil {
		return "", opts, "", "", err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", opts, "", "", fmt.Errorf("could not find node on $PATH: %w", err)
	}
	entry, err := resolveInProject(ctx, node, dir, module)
	if err != nil {
		return "", opts, "", "", err
	}
	return dir, opts, node, entry, nil
}

// RunPlugin runs a source-based plugin (PulumiPlugin.yaml with runtime nodejs), e.g. a component
// provider, through @pulumi/pulumi's cmd/run-plugin. Its stdout (which starts with the port the
// plugin serves on) is streamed back to the engine.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	if req.GetKind() == "analyzer" {
		return h.runPolicyPack(req, server)
	}
	dir, opts, node, runPlugin, err := pluginLaunch(ctx, req, "@pulumi/pulumi/cmd/run-plugin")
	if err != nil {
		return err
	}

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	stdout, stderr = serialized(stdout, stderr)

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runPlugin, dir)
	args = append(args, req.GetArgs()...)

	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	env = append(append([]string{}, env...), opts.tsEnv()...)

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = req.GetPwd()
	if cmd.Dir == "" {
		cmd.Dir = dir
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The engine ends the plugin by cancelling the stream: ask nicely first.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	logging.V(5).Infof("running plugin: %s %s", node, strings.Join(args, " "))

	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil // stopped by the engine
		}
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("plugin %s exited with non-zero exit code: %d", filepath.Base(dir), exitErr.ExitCode())
		}
		return fmt.Errorf("could not run plugin in %s: %w", dir, err)
	}
	return closer.Close()
}

// serialized makes the stdout and stderr writers of a gRPC output stream safe to use at the same
// time: exec copies a child's stdout and stderr in two goroutines, and a gRPC stream must not be
// sent on concurrently (two first sends race to send the headers and the stream fails with
// "SendHeader called multiple times"). A pseudo terminal (*os.File) is handed to the child as is.
func serialized(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	if _, ok := stdout.(*os.File); ok {
		return stdout, stderr
	}
	mu := &sync.Mutex{}
	return &lockedWriter{mu: mu, w: stdout}, &lockedWriter{mu: mu, w: stderr}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *host) Template(context.Context, *pulumirpc.TemplateRequest) (*pulumirpc.TemplateResponse, error) {
	return &pulumirpc.TemplateResponse{}, nil
}

// About reports node (path and `node --version`, which node answers before it starts its
// engine: a few ms) and the package manager with its version. The CLI asks for this before every
// preview/up (update metadata), so npm's version is read from npm's package.json (npmVersion)
// rather than by running `npm --version`, which takes ~150 ms; other package managers, and an npm
// whose package.json cannot be found, are asked with `--version`.
func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on $PATH: %w", err)
	}
	resp := &pulumirpc.AboutResponse{Executable: node, Metadata: map[string]string{}}
	if out, err := exec.CommandContext(ctx, node, "--version").Output(); err == nil {
		resp.Version = strings.TrimSpace(string(out))
	}
	pm := packageManager(programDir(req.GetInfo(), "."), "")
	resp.Metadata["packagemanager"] = pm
	if v, ok := packageManagerVersion(ctx, pm); ok {
		resp.Metadata["packagemanagerVersion"] = v
	}
	return resp, nil
}

// packageManagerVersion is what `<pm> --version` prints, for the pm found on $PATH.
func packageManagerVersion(ctx context.Context, pm string) (string, bool) {
	bin, err := exec.LookPath(pm)
	if err != nil {
		return "", false
	}
	if pm == "npm" {
		if v, ok := npmVersion(bin); ok {
			return v, true
		}
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(out)), true
}
