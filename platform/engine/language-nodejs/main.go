// Command pulumi-language-nodejs is this project's own, minimal Node.js language host for the
// Pulumi engine. The upstream host is not available as a Go module on our proxy, so we implement
// the LanguageRuntime gRPC service ourselves on top of the public Pulumi Go SDK.
//
// Protocol, as driven by the pulumi CLI:
//   - the engine starts us as `pulumi-language-nodejs [flags] <engine-address>`;
//   - we serve gRPC on a free loopback port and print that port on the first line of stdout;
//   - the engine then calls GetRequiredPackages, Run, InstallDependencies, RunPlugin, ...
//
// Program execution itself is done by the @pulumi/pulumi npm package (its `cmd/run` entry point),
// which connects straight to the engine's resource monitor; ts-node is registered by that package
// when PULUMI_NODEJS_TYPESCRIPT=true.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func main() {
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	// Accepted for command-line compatibility with the engine; tracing is not wired up.
	_ = flag.String("tracing", "", "zipkin-compatible tracing endpoint (ignored)")
	runtime := flag.String("runtime", "nodejs", "JavaScript runtime; only nodejs is supported")
	// Older plugin hosts (e.g. the YAML language host loading a component package's schema)
	// still pass the program root this way; requests carry their directories, so it is unused.
	_ = flag.String("root", "", "project root directory (ignored; requests carry their directories)")
	flag.Parse()

	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)
	if *runtime != "nodejs" {
		cmdutil.Exit(fmt.Errorf("unsupported runtime %q: this language host only supports nodejs", *runtime))
	}

	engineAddress := ""
	if flag.NArg() > 0 {
		engineAddress = flag.Arg(0)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan bool)
	go func() {
		<-ctx.Done()
		close(done)
	}()

	if engineAddress != "" {
		// Exit by ourselves when the engine goes away.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, stop); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start health check: %w", err))
		}
	}

	h := newHost(engineAddress)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: done,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host: %w", err))
	}
	// The engine reads our port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host stopped: %w", err))
	}
}
