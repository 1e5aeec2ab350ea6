package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// runPolicyPack starts a Node.js policy pack (PulumiPolicy.yaml, runtime nodejs) for
// `pulumi preview/up --policy-pack <dir>`. @pulumi/pulumi's cmd/run-policy-pack reads the stack it
// analyzes from PULUMI_NODEJS_* / PULUMI_CONFIG, which the engine only tells an analyzer over gRPC
// (ConfigureStack): the SDK's PolicyProxy answers the engine first, hands us that configuration for
// the environment, then forwards every Analyzer call to the real policy pack process.
func (h *host) runPolicyPack(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	dir, opts, node, runPolicy, err := pluginLaunch(ctx, req, "@pulumi/pulumi/cmd/run-policy-pack")
	if err != nil {
		return err
	}

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	stdout, stderr = serialized(stdout, stderr)

	proxy, proxiedStdout, err := sdk.NewPolicyProxy(ctx, stdout)
	if err != nil {
		return fmt.Errorf("could not start the policy pack proxy: %w", err)
	}
	stack, err := proxy.AwaitConfiguration(ctx)
	if err != nil {
		return fmt.Errorf("could not get the stack configuration for the policy pack: %w", err)
	}

	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	env = append(append([]string{}, env...), opts.tsEnv()...)
	if stack != nil {
		set := func(key, value string) {
			if value != "" {
				env = append(env, key+"="+value)
			}
		}
		set("PULUMI_NODEJS_ORGANIZATION", stack.Organization)
		set("PULUMI_NODEJS_PROJECT", stack.Project)
		set("PULUMI_NODEJS_STACK", stack.Stack)
		set("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(stack.DryRun))
		if len(stack.Config) > 0 {
			config, err := json.Marshal(stack.Config)
			if err != nil {
				return err
			}
			set("PULUMI_CONFIG", string(config))
		}
	}

	// run-policy-pack takes the engine address (in req.Args) first and the pack directory last.
	args := append([]string{}, opts.nodeargs...)
	args = append(args, runPolicy)
	args = append(args, req.GetArgs()...)
	args = append(args, dir)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir // packs resolve their own node_modules from their directory
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = proxiedStdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	logging.V(5).Infof("running policy pack: %s %v", node, args)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not start the policy pack: %w", err)
	}
	if err := proxy.Attach(ctx, cmd); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("policy pack exited with code %d", exitErr.ExitCode())
		}
		if ctx.Err() != nil {
			return nil // stopped by the engine
		}
		return fmt.Errorf("policy pack: %w", err)
	}
	return nil
}
