// smith's nodejs language host for the Pulumi engine.
//
// Why it exists: the upstream host (Go module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served by the Go module
// proxy this project can reach, and the engine needs *a* `pulumi-language-nodejs` to run a
// `runtime: nodejs` program. A language host only launches the program: this one runs the Node
// SDK's own runner (node_modules/@pulumi/pulumi/cmd/run, the same script the upstream host runs)
// with the engine's monitor address, project, stack, config and secret-config keys. Resource
// registration, diffing, providers, secrets and state are the real engine's and SDK's work.
//
// scripts/install-pulumi.sh builds it only when the upstream module cannot be had. It implements
// what `pulumi preview|up|destroy|refresh` call (Handshake, GetPluginInfo, GetRequiredPackages,
// Run); everything else answers Unimplemented, which the engine tolerates or reports.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"smith.local/plugins/internal/engine"
)

// exitAfterLoggedError is @pulumi/pulumi's exit code for "the program already told the user what
// went wrong": the engine must not add a generic failure message on top (RunResponse.Bail).
const exitAfterLoggedError = 32

func main() {
	// The engine may pass --logtostderr, -v=N, --logflow, --tracing; the logging packages the SDK
	// pulls in register some of these already, so only the missing ones are declared here.
	for _, name := range []string{"logtostderr", "logflow"} {
		if flag.Lookup(name) == nil {
			flag.Bool(name, false, "accepted for the engine; unused")
		}
	}
	if flag.Lookup("v") == nil {
		flag.Int("v", 0, "accepted for the engine; unused")
	}
	tracing := flag.String("tracing", "", "Zipkin-compatible tracing endpoint")
	flag.Parse()

	host := &languageHost{tracing: *tracing}
	if args := flag.Args(); len(args) > 0 {
		host.engineAddress = args[0]
	}

	engine.Serve("pulumi-language-nodejs", flag.Arg(0), func(srv *grpc.Server) { pulumirpc.RegisterLanguageRuntimeServer(srv, host) })
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	tracing string

	mu            sync.Mutex
	engineAddress string
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// GetRequiredPackages lists the resource plugins the program's npm packages declare
// (package.json `"pulumi": {"resource": true}`), so the engine checks they are installed before
// running the program instead of failing half-way through.
func (h *languageHost) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	modules, err := findNodeModules(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	deps, err := pluginPackages(modules)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	modules, err := findNodeModules(programDir)
	if err != nil {
		return nil, err
	}
	runPath := filepath.Join(modules, "@pulumi", "pulumi", "cmd", "run")
	if _, err := os.Stat(runPath); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf(
			"%s not found: is @pulumi/pulumi installed (npm ci)?", runPath)}, nil
	}

	opts := runtimeOptions(info.GetOptions())
	args := append(strings.Fields(opts.nodeArgs), runPath)
	args = append(args, h.runnerFlags(req)...)
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	configMap := req.GetConfig()
	if configMap == nil {
		// The runner parses this as an object: "null" would crash it.
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(nonNil(req.GetConfigSecretKeys()))
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(opts.typescript),
	)
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}

	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "node not found on PATH"}, nil
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = programDir
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitAfterLoggedError {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf(
				"Program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// runnerFlags are @pulumi/pulumi/cmd/run's flags (see its usage text).
func (h *languageHost) runnerFlags(req *pulumirpc.RunRequest) []string {
	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()

	var flags []string
	add := func(name, value string) {
		if value != "" {
			flags = append(flags, "--"+name+"="+value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engine)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	if req.GetDryRun() {
		flags = append(flags, "--dry-run")
	}
	if req.GetParallel() != 0 {
		add("parallel", strconv.Itoa(int(req.GetParallel())))
	}
	add("tracing", h.tracing)
	return flags
}

type options struct {
	typescript bool
	tsconfig   string
	nodeArgs   string
}

// runtimeOptions reads Pulumi.yaml's `runtime.options`, with the upstream host's defaults.
func runtimeOptions(s *structpb.Struct) options {
	o := options{typescript: true}
	if s == nil {
		return o
	}
	m := s.AsMap()
	if v, ok := m["typescript"].(bool); ok {
		o.typescript = v
	}
	if v, ok := m["tsconfig"].(string); ok {
		o.tsconfig = v
	}
	if v, ok := m["nodeargs"].(string); ok {
		o.nodeArgs = v
	}
	return o
}

// findNodeModules is the first node_modules at or above dir, as Node's own resolution finds it.
func findNodeModules(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("the engine sent no program directory")
	}
	for d := dir; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, "node_modules")
		if st, err := os.Stat(candidate); err == nil && st.IsDir() {
			return candidate, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no node_modules at or above %s: run npm ci", dir)
		}
	}
}

type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pulumi  struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

// pluginPackages reads the packages directly under modules (and under its @scope folders).
func pluginPackages(modules string) ([]*pulumirpc.PackageDependency, error) {
	var dirs []string
	entries, err := os.ReadDir(modules)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		p := filepath.Join(modules, e.Name())
		if strings.HasPrefix(e.Name(), "@") {
			scoped, err := os.ReadDir(p)
			if err != nil {
				continue
			}
			for _, s := range scoped {
				dirs = append(dirs, filepath.Join(p, s.Name()))
			}
			continue
		}
		dirs = append(dirs, p)
	}

	var deps []*pulumirpc.PackageDependency
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "package.json"))
		if err != nil {
			continue
		}
		var pkg packageJSON
		if err := json.Unmarshal(b, &pkg); err != nil || !pkg.Pulumi.Resource {
			continue
		}
		name := pkg.Pulumi.Name
		if name == "" {
			name = strings.TrimPrefix(strings.TrimPrefix(pkg.Name, "@pulumi/"), "@")
		}
		ver := pkg.Pulumi.Version
		if ver == "" {
			ver = pkg.Version
		}
		if ver != "" && !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		deps = append(deps, &pulumirpc.PackageDependency{
			Name: name, Kind: "resource", Version: ver, Server: pkg.Pulumi.Server,
		})
	}
	return deps, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
