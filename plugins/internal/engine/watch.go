// Package engine holds what smith's plugins share about the engine that starts them.
package engine

import (
	"context"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
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
