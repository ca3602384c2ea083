// smith's command resource provider for the Pulumi engine: `pulumi-resource-command` 1.2.1.
//
// Why it exists: @pulumi/command 1.2.1 asks the engine for the `command` plugin, and the Go module
// proxy this project can reach refuses the upstream provider (`go list -m -versions
// github.com/pulumi/pulumi-command/provider` answers 403 "This module version is not available").
// The @pulumi/command SDK is used unchanged; this plugin serves command:remote:Command,
// command:remote:CopyToRemote, command:remote:CopyFile and command:local:Command with upstream
// v1.2.1's inputs, outputs and semantics; docs/pulumi.md has the table of what is the same, what
// differs and what is missing (local:run, local assetPaths/archivePaths).
//
// scripts/install-pulumi.sh builds it from plugins/go.mod (sdk/v3 at the CLI's release) and installs
// it with `pulumi plugin install resource command 1.2.1 --file ...`. See docs/pulumi.md.
package main

import (
	"flag"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"smith.local/plugins/internal/engine"
)

func main() {
	// The engine may pass logging and tracing flags; accept them so flag parsing never fails.
	for _, name := range []string{"logtostderr", "logflow"} {
		if flag.Lookup(name) == nil {
			flag.Bool(name, false, "accepted for the engine; unused")
		}
	}
	if flag.Lookup("v") == nil {
		flag.Int("v", 0, "accepted for the engine; unused")
	}
	if flag.Lookup("tracing") == nil {
		flag.String("tracing", "", "accepted for the engine; unused")
	}
	flag.Parse()

	prov := newProvider()
	// Older engines pass their address as the first argument instead of in Handshake.
	if args := flag.Args(); len(args) > 0 {
		prov.setEngine(args[0])
	}

	engine.Serve("pulumi-resource-command", flag.Arg(0), func(srv *grpc.Server) { pulumirpc.RegisterResourceProviderServer(srv, prov) })
}
