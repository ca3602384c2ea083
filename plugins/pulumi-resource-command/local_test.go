package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// fakeEngine records what the provider logs.
type fakeEngine struct {
	pulumirpc.EngineClient
	mu   sync.Mutex
	logs []*pulumirpc.LogRequest
}

func (e *fakeEngine) Log(_ context.Context, req *pulumirpc.LogRequest, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.logs = append(e.logs, req)
	return &emptypb.Empty{}, nil
}

func (e *fakeEngine) messages() []*pulumirpc.LogRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*pulumirpc.LogRequest{}, e.logs...)
}

func testProvider(t *testing.T) (*provider, *fakeEngine) {
	t.Helper()
	p := newProvider()
	fe := &fakeEngine{}
	p.engine = &engineLog{client: fe}
	p.programDir = t.TempDir()
	return p, fe
}

const localURN = "urn:pulumi:test::proj::command:local:Command::drain"

func create(t *testing.T, p *provider, urn string, news resource.PropertyMap) (resource.PropertyMap, error) {
	t.Helper()
	in, err := marshal(news)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urn, Name: "drain", Properties: in})
	if err != nil {
		return nil, err
	}
	outs, err := unmarshal(resp.GetProperties())
	if err != nil {
		t.Fatal(err)
	}
	return outs, nil
}

func update(t *testing.T, p *provider, urn string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	t.Helper()
	o, _ := marshal(olds)
	n, _ := marshal(news)
	resp, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{Urn: urn, Olds: o, News: n})
	if err != nil {
		return nil, err
	}
	outs, err := unmarshal(resp.GetProperties())
	if err != nil {
		t.Fatal(err)
	}
	return outs, nil
}

func del(p *provider, urn string, state resource.PropertyMap) error {
	s, _ := marshal(state)
	_, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{Urn: urn, Properties: s})
	return err
}

func props(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

func TestLocalCommandLifecycle(t *testing.T) {
	p, _ := testProvider(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	inputs := props(map[string]any{
		"create":      `echo "create $SMITH_X $(pwd) $(cat)" >> log; echo out-1; echo err-1 >&2`,
		"update":      `echo "update prev=$PULUMI_COMMAND_STDOUT preverr=$PULUMI_COMMAND_STDERR" >> log; echo out-2`,
		"delete":      `echo "delete prev=$PULUMI_COMMAND_STDOUT" >> log`,
		"dir":         dir,
		"environment": map[string]any{"SMITH_X": "x1"},
		"stdin":       "in1",
		"triggers":    []any{"a"},
	})
	outs, err := create(t, p, localURN, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if outs["stdout"].StringValue() != "out-1" || outs["stderr"].StringValue() != "err-1" || outs["dir"].StringValue() != dir {
		t.Fatalf("create outputs: %v", outs)
	}
	news := inputs.Copy()
	news["environment"] = resource.NewPropertyValue(map[string]any{"SMITH_X": "x2"})
	outs2, err := update(t, p, localURN, outs, news)
	if err != nil {
		t.Fatal(err)
	}
	if outs2["stdout"].StringValue() != "out-2" {
		t.Fatalf("update outputs: %v", outs2)
	}
	if err := del(p, localURN, outs2); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(log)
	want := "create x1 " + dir + " in1\nupdate prev=out-1 preverr=err-1\ndelete prev=out-2\n"
	if string(got) != want {
		t.Fatalf("log:\n%s\nwant:\n%s", got, want)
	}
}

func TestLocalCommandDefaults(t *testing.T) {
	p, _ := testProvider(t)
	// No dir: the program's directory. No interpreter: /bin/sh -c.
	outs, err := create(t, p, localURN, props(map[string]any{"create": "pwd; echo $0"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := p.programDir + "\n/bin/sh"; outs["stdout"].StringValue() != want {
		t.Fatalf("got %q want %q", outs["stdout"].StringValue(), want)
	}
	// An interpreter.
	outs, err = create(t, p, localURN, props(map[string]any{"create": "print('py' if False else 'interp')", "interpreter": []any{"/usr/bin/env", "sh", "-c", "echo \"$1\"", "sh"}}))
	if err != nil {
		t.Fatal(err)
	}
	if outs["stdout"].StringValue() != "print('py' if False else 'interp')" {
		t.Fatalf("interpreter: %q", outs["stdout"].StringValue())
	}
	// No create: nothing runs, empty outputs; an update without update/create keeps the outputs.
	outs, err = create(t, p, localURN, props(map[string]any{"delete": "true"}))
	if err != nil || outs["stdout"].StringValue() != "" {
		t.Fatalf("no create: %v %v", outs, err)
	}
	olds := props(map[string]any{"stdout": "kept", "stderr": ""})
	outs, err = update(t, p, localURN, olds, props(map[string]any{"delete": "true"}))
	if err != nil || outs["stdout"].StringValue() != "kept" {
		t.Fatalf("no update: %v %v", outs, err)
	}
	// addPreviousOutputInEnv: false.
	outs, err = update(t, p, localURN, olds, props(map[string]any{"update": "echo \"[$PULUMI_COMMAND_STDOUT]\"", "addPreviousOutputInEnv": false}))
	if err != nil || outs["stdout"].StringValue() != "[]" {
		t.Fatalf("addPreviousOutputInEnv false: %v %v", outs, err)
	}
}

func TestLocalCommandFailure(t *testing.T) {
	p, _ := testProvider(t)
	_, err := create(t, p, localURN, props(map[string]any{"create": "echo oops-out; echo oops-err >&2; exit 3"}))
	if err == nil || !strings.Contains(err.Error(), `exit status 3: running "echo oops-out; echo oops-err >&2; exit 3":`) ||
		!strings.Contains(err.Error(), "oops-out") || !strings.Contains(err.Error(), "oops-err") {
		t.Fatalf("got %v", err)
	}
	_, err = create(t, p, localURN, props(map[string]any{"create": "true", "dir": "/nonexistent/smith"}))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/smith") {
		t.Fatalf("missing dir: %v", err)
	}
}

func TestLocalCommandTimeoutKillsTheProcessGroup(t *testing.T) {
	p, _ := testProvider(t)
	dir := t.TempDir()
	in, _ := marshal(props(map[string]any{"create": "(sleep 3; touch child-survived) & sleep 30", "dir": dir}))
	_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: localURN, Name: "x", Properties: in, Timeout: 1})
	if err == nil || !strings.Contains(err.Error(), "operation timeout of 1s (customTimeouts) reached") {
		t.Fatalf("got %v", err)
	}
	// The background child was in the group: it is gone too.
	if _, err := os.Stat(filepath.Join(dir, "child-survived")); err == nil {
		t.Fatal("child survived")
	}
}

// Output lines go to the engine as ephemeral progress messages (not one permanent diagnostic per
// line), per `logging`; invalid UTF-8 is replaced, never dropped, in the messages and the outputs.
func TestOutputIsEphemeralProgressAndCleanUTF8(t *testing.T) {
	p, fe := testProvider(t)
	// Complete lines only: stdout and stderr are copied concurrently, so an unterminated stdout
	// line may be continued by stderr's bytes (upstream shares one pipe the same way).
	outs, err := create(t, p, localURN, props(map[string]any{"create": `printf 'one\nbad \377 byte\n'; echo two >&2`}))
	if err != nil {
		t.Fatal(err)
	}
	if outs["stdout"].StringValue() != "one\nbad \uFFFD byte" {
		t.Fatalf("stdout %q", outs["stdout"].StringValue())
	}
	var lines []string
	for _, m := range fe.messages() {
		if !m.GetEphemeral() || m.GetSeverity() != pulumirpc.LogSeverity_INFO || m.GetUrn() != localURN {
			t.Fatalf("not an ephemeral info message: %v", m)
		}
		lines = append(lines, m.GetMessage())
	}
	got := strings.Join(lines, "|")
	for _, want := range []string{"one", "bad \uFFFD byte", "two"} {
		if !strings.Contains("|"+got+"|", "|"+want+"|") {
			t.Fatalf("messages %q lack %q", got, want)
		}
	}
	// The last line is sent even without a newline.
	fe.logs = nil
	if _, err := create(t, p, localURN, props(map[string]any{"create": "printf tail"})); err != nil {
		t.Fatal(err)
	}
	if m := fe.messages(); len(m) != 1 || m[0].GetMessage() != "tail" {
		t.Fatalf("unterminated line: %v", m)
	}
	// logging: stderr sends only stderr lines.
	fe.logs = nil
	if _, err := create(t, p, localURN, props(map[string]any{"create": "echo o; echo e >&2", "logging": "stderr"})); err != nil {
		t.Fatal(err)
	}
	if m := fe.messages(); len(m) != 1 || m[0].GetMessage() != "e" {
		t.Fatalf("logging stderr: %v", m)
	}
}

// assetPaths and archivePaths, as upstream: globs relative to dir, files only, "!" excludes what
// earlier globs added.
func TestLocalCommandAssetAndArchivePaths(t *testing.T) {
	p, _ := testProvider(t)
	dir := t.TempDir()
	outs, err := create(t, p, localURN, props(map[string]any{
		"dir":          dir,
		"create":       "mkdir -p assets/logos src && touch assets/logos/logo.svg src/index.js src/secret.js top.txt",
		"assetPaths":   []any{"assets/**", "src/**.js", "!**secret.*"},
		"archivePaths": []any{"*.txt"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	assets := outs["assets"].ObjectValue()
	var keys []string
	for _, k := range assets.StableKeys() {
		keys = append(keys, string(k))
		if a := assets[k].AssetValue(); a.Path != filepath.Join(dir, string(k)) || a.Hash == "" {
			t.Errorf("asset %s: %+v", k, a)
		}
	}
	if strings.Join(keys, ",") != "assets/logos/logo.svg,src/index.js" {
		t.Fatalf("assets: %v", keys)
	}
	archive := outs["archive"].ArchiveValue()
	if len(archive.Assets) != 1 || archive.Assets["top.txt"] == nil {
		t.Fatalf("archive: %+v", archive.Assets)
	}
	// Check refuses what is not a list of strings.
	in, _ := marshal(props(map[string]any{"create": "true", "assetPaths": "**"}))
	resp, err := p.Check(background, &pulumirpc.CheckRequest{Urn: localURN, News: in})
	if err != nil || len(resp.GetFailures()) != 1 || resp.GetFailures()[0].GetProperty() != "assetPaths" {
		t.Fatalf("Check: %v %v", resp.GetFailures(), err)
	}
}

func TestLocalRunInvoke(t *testing.T) {
	p, _ := testProvider(t)
	args, _ := marshal(props(map[string]any{"command": "echo ran-$SMITH_X", "environment": map[string]any{"SMITH_X": "1"}}))
	resp, err := p.Invoke(background, &pulumirpc.InvokeRequest{Tok: "command:local:run", Args: args})
	if err != nil || len(resp.GetFailures()) != 0 {
		t.Fatalf("%v %v", resp, err)
	}
	outs, _ := unmarshal(resp.GetReturn())
	if outs["stdout"].StringValue() != "ran-1" || outs["command"].StringValue() != "echo ran-$SMITH_X" {
		t.Fatalf("outputs %v", outs)
	}
	args, _ = marshal(props(map[string]any{"dir": "/"}))
	if resp, err = p.Invoke(background, &pulumirpc.InvokeRequest{Tok: "command:local:run", Args: args}); err != nil ||
		len(resp.GetFailures()) != 1 || resp.GetFailures()[0].GetProperty() != "command" {
		t.Fatalf("missing command: %v %v", resp, err)
	}
	if _, err = p.Invoke(background, &pulumirpc.InvokeRequest{Tok: "command:remote:nope", Args: args}); err == nil {
		t.Fatal("unknown function accepted")
	}
}

// A Cancel lets a running local command finish too (smith's choice: a half-done drain is worse).
func TestCancelLetsLocalCommandFinish(t *testing.T) {
	p, _ := testProvider(t)
	dir := t.TempDir()
	done := make(chan error, 1)
	go func() {
		_, err := create(t, p, localURN, props(map[string]any{"create": "touch started; sleep 1; touch finished", "dir": dir}))
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never started")
		}
	}
	_, _ = p.Cancel(background, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "finished")); err != nil {
		t.Fatal("the local command was cut short")
	}
}
