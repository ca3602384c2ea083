// Package engine holds what smith's plugins share about the engine that starts them: serving
// their gRPC services and noticing when the engine is gone.
package engine

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"google.golang.org/grpc"
)

// checkInterval is how often a plugin asks its engine whether it is still there.
const checkInterval = 30 * time.Second

// Watch returns a channel that closes when the engine that started this plugin is gone
// (a killed `pulumi up`), as upstream plugins do: without it every crash leaves a process behind.
// Nil (never closes) when the engine's address is unknown.
func Watch(addr string) chan bool {
	if addr == "" {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rpcutil.Healthcheck(ctx, addr, checkInterval, cancel); err != nil {
		cancel()
		return nil
	}
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	return stop
}

// Serve starts a plugin's gRPC server the way the engine expects: register the services, print
// the port as the first line of output (the engine reads it), and stop when the engine is gone.
// It exits the process on failure, naming the plugin.
func Serve(name, engineAddr string, register func(*grpc.Server)) {
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: Watch(engineAddr),
		Init: func(srv *grpc.Server) error {
			register(srv)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: could not start the RPC server: %v\n", name, err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "%s: RPC server stopped: %v\n", name, err)
		os.Exit(1)
	}
}
