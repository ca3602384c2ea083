package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer

	mu         sync.Mutex
	engine     *engineLog
	programDir string

	// root is cancelled by Cancel: dialing stops in every operation (opContext.dial), and any
	// operation that starts afterwards fails at once; running commands finish.
	root       context.Context
	cancelRoot context.CancelFunc
}

func newProvider() *provider {
	root, cancel := context.WithCancel(context.Background())
	return &provider{root: root, cancelRoot: cancel}
}

func (p *provider) setEngine(addr string) {
	if addr == "" {
		return
	}
	e, err := dialEngine(addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: engine log unavailable: %v\n", err)
		return
	}
	p.mu.Lock()
	p.engine = e
	p.mu.Unlock()
}

func (p *provider) state() (*engineLog, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.engine, p.programDir
}

func (p *provider) Handshake(_ context.Context, req *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	p.setEngine(req.GetEngineAddress())
	p.mu.Lock()
	// For an installed plugin the engine sends the PLUGIN's directory as ProgramDirectory
	// (sdk/go/common/resource/plugin/provider_plugin.go) but starts the plugin in the program's
	// directory, which is what relative FileAsset paths are relative to.
	p.programDir = req.GetProgramDirectory()
	if wd, err := os.Getwd(); err == nil {
		p.programDir = wd
	}
	p.mu.Unlock()
	// Secrets arrive as plain values and the engine marks outputs secret where inputs were.
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: false, AcceptResources: false}, nil
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: pluginVersion}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON}, nil
}

// The provider has no configuration of its own.
func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := unmarshalPair(req.GetOlds(), req.GetNews())
	if err != nil {
		return nil, err
	}
	if resource.NewObjectProperty(olds).DeepEquals(resource.NewObjectProperty(news)) {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME}, nil
}

func (p *provider) Configure(_ context.Context, _ *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: false, AcceptResources: false, SupportsPreview: true}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancelRoot()
	return &emptypb.Empty{}, nil
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	typ, err := resourceType(req.GetUrn())
	if err != nil {
		return nil, err
	}
	_, programDir := p.state()
	news, err := unmarshalChecked(req.GetNews(), programDir)
	if err != nil {
		return nil, err
	}
	var f failures
	switch typ {
	case typeCommand:
		_, f = decodeCommand(news)
	case typeLocalCommand:
		_, f = decodeLocal(news)
	default:
		_, f = decodeCopy(typ, news)
	}
	inputs, err := marshal(news)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.CheckResponse{Inputs: inputs}
	for _, c := range knownFailures(f, news) {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Property: c.Property, Reason: c.Reason})
	}
	return resp, nil
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	typ, err := resourceType(req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, news, err := unmarshalPair(req.GetOlds(), req.GetNews())
	if err != nil {
		return nil, err
	}
	d := diffInputs(typ, olds, news, req.GetIgnoreChanges())
	if len(d.Changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for _, k := range d.Changed {
		kind := pulumirpc.PropertyDiff_UPDATE
		if replaces(typ, resource.PropertyKey(k)) {
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
		}
		detailed[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_SOME,
		Diffs:           d.Changed,
		Replaces:        d.Replaces,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}, nil
}

func (p *provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	news, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	props, err := p.run(req.GetUrn(), req.GetPreview(), req.GetTimeout(), opCreate, news, nil)
	if err != nil {
		return nil, err
	}
	id := ""
	if !req.GetPreview() {
		if id, err = resource.NewUniqueHex(req.GetName(), 8, 0); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	olds, news, err := unmarshalPair(req.GetOlds(), req.GetNews())
	if err != nil {
		return nil, err
	}
	props, err := p.run(req.GetUrn(), req.GetPreview(), req.GetTimeout(), opUpdate, news, olds)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// run is Create's and Update's shared step: in a preview, the outputs the inputs imply (nothing
// runs remotely); otherwise the operation itself, bounded by the engine's timeout.
func (p *provider) run(urn string, preview bool, timeout float64, o op, news, olds resource.PropertyMap) (*structpb.Struct, error) {
	typ, err := resourceType(urn)
	if err != nil {
		return nil, err
	}
	var outs resource.PropertyMap
	if preview {
		outs = previewOutputs(typ, news)
	} else {
		oc, cancel := p.operation(timeout)
		defer cancel()
		if outs, err = p.apply(oc, typ, urn, o, news, olds); err != nil {
			return nil, err
		}
	}
	return marshal(outs)
}

func (p *provider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	typ, err := resourceType(req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	oc, cancel := p.operation(req.GetTimeout())
	defer cancel()
	if _, err := p.apply(oc, typ, req.GetUrn(), opDelete, olds, olds); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Invoke serves upstream's one function, local.run.
func (p *provider) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != funcLocalRun {
		return nil, fmt.Errorf("function %s is not implemented by smith's command provider (only %s is)", req.GetTok(), funcLocalRun)
	}
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	engine, programDir := p.state()
	outs, f, err := invokeLocalRun(args, programDir, engine.lineWriter(""))
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.InvokeResponse{}
	for _, c := range f {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Property: c.Property, Reason: c.Reason})
	}
	if outs != nil {
		if resp.Return, err = marshal(outs); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// Read returns the state as it is: a command's effects cannot be read back from the host.
func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if _, err := resourceType(req.GetUrn()); err != nil {
		return nil, err
	}
	inputs := req.GetInputs()
	if inputs == nil {
		inputs = req.GetProperties()
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: inputs}, nil
}

// operation is the context of one Create/Update/Delete: the engine's timeout (the resource's
// customTimeouts, in seconds; 0 when unset, and then nothing but a Cancel ends dialing and nothing
// at all ends a running command, as upstream) and Cancel, for dialing only.
func (p *provider) operation(timeoutSeconds float64) (opContext, context.CancelFunc) {
	if timeoutSeconds <= 0 {
		run, cancelRun := context.WithCancel(context.Background())
		dial, cancelDial := context.WithCancel(p.root)
		return opContext{dial: dial, run: run}, func() { cancelRun(); cancelDial() }
	}
	d := time.Duration(timeoutSeconds * float64(time.Second))
	cause := fmt.Errorf("operation timeout of %v (customTimeouts) reached", d)
	run, cancelRun := context.WithTimeoutCause(context.Background(), d, cause)
	dial, cancelDial := context.WithTimeoutCause(p.root, d, cause)
	return opContext{dial: dial, run: run}, func() { cancelRun(); cancelDial() }
}

func resourceType(urn string) (string, error) {
	typ := string(resource.URN(urn).Type())
	if _, ok := inputKeys[typ]; !ok {
		return "", fmt.Errorf("%s is not implemented by smith's command provider (only %s, %s, %s and %s are)",
			typ, typeCommand, typeCopyToRemote, typeCopyFile, typeLocalCommand)
	}
	return typ, nil
}

// previewOutputs: the inputs, and for a command unknown stdout and stderr (they exist only once
// the command has run).
func previewOutputs(typ string, news resource.PropertyMap) resource.PropertyMap {
	outs := news.Copy()
	if typ == typeCommand || typ == typeLocalCommand {
		outs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
		outs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
	}
	return outs
}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true})
}

// unmarshalChecked also computes asset hashes (relative paths from the program's directory), so
// the state records the source's content and Diff sees when it changes.
func unmarshalChecked(s *structpb.Struct, programDir string) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		KeepUnknowns: true, SkipNulls: true, ComputeAssetHashes: true, WorkingDirectory: programDir,
	})
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true})
}

// unmarshalPair decodes a request's old and new properties, as Diff and Update both need.
func unmarshalPair(olds, news *structpb.Struct) (resource.PropertyMap, resource.PropertyMap, error) {
	o, err := unmarshal(olds)
	if err != nil {
		return nil, nil, err
	}
	n, err := unmarshal(news)
	if err != nil {
		return nil, nil, err
	}
	return o, n, nil
}
