package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func remoteInputs(s *testSSHServer, conn map[string]any, extra map[string]any) resource.PropertyMap {
	m := map[string]any{"connection": s.connection(conn)}
	for k, v := range extra {
		m[k] = v
	}
	return props(m)
}

// Without customTimeouts the engine sends 0 and nothing bounds the operation (upstream has no
// default); with them, the timeout bounds dialing and the command.
func TestNoProviderImposedTimeout(t *testing.T) {
	p := newProvider()
	oc, cancel := p.operation(0)
	defer cancel()
	if d, ok := oc.run.Deadline(); ok {
		t.Fatalf("run has a deadline: %v", d)
	}
	if d, ok := oc.dial.Deadline(); ok {
		t.Fatalf("dial has a deadline: %v", d)
	}
	s := startTestSSHServer(t)
	in, _ := marshal(remoteInputs(s, nil, map[string]any{"create": "sleep 20"}))
	_, err := p.Create(background, &pulumirpc.CreateRequest{Urn: remoteURN, Name: "x", Properties: in, Timeout: 1})
	if err == nil || !strings.Contains(err.Error(), "operation timeout of 1s (customTimeouts) reached") {
		t.Fatalf("got %v", err)
	}
}

// A Cancel (Ctrl-C) lets a running command finish, as upstream (never kill dpkg half-way); an
// operation that starts after it does not dial.
func TestCancelLetsRunningCommandFinish(t *testing.T) {
	p, _ := testProvider(t)
	s := startTestSSHServer(t)
	started := filepath.Join(t.TempDir(), "started")
	in := remoteInputs(s, nil, map[string]any{"create": "touch " + started + "; sleep 1; echo finished"})
	type result struct {
		outs resource.PropertyMap
		err  error
	}
	done := make(chan result, 1)
	go func() {
		outs, err := create(t, p, remoteURN, in)
		done <- result{outs, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command never started")
		}
	}
	if _, err := p.Cancel(background, nil); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.outs["stdout"].StringValue() != "finished" {
		t.Fatalf("the cancelled command did not finish: %v %v", r.outs, r.err)
	}
	before := s.logins.Load()
	if _, err := create(t, p, remoteURN, in); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("after Cancel: %v", err)
	}
	if s.logins.Load() != before {
		t.Fatal("a new operation logged in after Cancel")
	}
}

// Every dial error is retried while dialErrorLimit allows, a refused login too (sshd refuses logins
// during boot and shutdown), with upstream's message when the limit is reached.
func TestDialRetriesAuthenticationFailures(t *testing.T) {
	p, fe := testProvider(t)
	s := startTestSSHServer(t)
	s.rejectLogins.Store(2)
	outs, err := create(t, p, remoteURN, remoteInputs(s, map[string]any{"dialErrorLimit": 3}, map[string]any{"create": "echo in"}))
	if err != nil || outs["stdout"].StringValue() != "in" {
		t.Fatalf("got %v %v", outs, err)
	}
	var progress []string
	for _, m := range fe.messages() {
		if m.GetEphemeral() {
			progress = append(progress, m.GetMessage())
		}
	}
	if got := strings.Join(progress, "|"); !strings.Contains(got, "Dial 1/3 failed: retrying|Dial 2/3 failed: retrying") {
		t.Fatalf("progress: %q", got)
	}
	s.rejectLogins.Store(5)
	_, err = create(t, p, remoteURN, remoteInputs(s, map[string]any{"dialErrorLimit": 1}, map[string]any{"create": "echo in"}))
	if err == nil || !strings.Contains(err.Error(), "after 1 failed attempts: ssh: handshake failed: ssh: unable to authenticate") {
		t.Fatalf("got %v", err)
	}
}

// A host key mismatch is retried like any dial error (upstream), and says which keys differ.
func TestHostKeyMismatchIsRetriedAsUpstream(t *testing.T) {
	p, _ := testProvider(t)
	s := startTestSSHServer(t)
	other := startTestSSHServer(t)
	_, err := create(t, p, remoteURN, remoteInputs(s, map[string]any{"dialErrorLimit": 2, "hostKey": other.hostKey}, map[string]any{"create": "true"}))
	if err == nil || !strings.Contains(err.Error(), "after 2 failed attempts: ssh: handshake failed: ssh: host key mismatch") ||
		!strings.Contains(err.Error(), "SHA256:") {
		t.Fatalf("got %v", err)
	}
}

// PULUMI_COMMAND_STDOUT/STDERR are set for update and delete; an sshd that refuses them gets a
// warning and the command runs anyway (upstream).
func TestPreviousOutputOnUpdateAndDelete(t *testing.T) {
	p, fe := testProvider(t)
	s := startTestSSHServer(t, "PULUMI_COMMAND_STDOUT", "PULUMI_COMMAND_STDERR")
	file := filepath.Join(t.TempDir(), "log")
	state := remoteInputs(s, nil, map[string]any{
		"create": "echo c", "update": `echo "u $PULUMI_COMMAND_STDOUT" >> ` + file + `; echo u-out`,
		"delete": `echo "d $PULUMI_COMMAND_STDOUT $PULUMI_COMMAND_STDERR" >> ` + file,
		"stdout": "prev-out", "stderr": "prev-err",
	})
	outs, err := update(t, p, remoteURN, state, state)
	if err != nil {
		t.Fatal(err)
	}
	outs["stderr"] = resource.NewStringProperty("e2")
	if err := del(p, remoteURN, outs); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); string(got) != "u prev-out\nd u-out e2\n" {
		t.Fatalf("log %q", got)
	}

	refusing := startTestSSHServer(t)
	state = remoteInputs(refusing, nil, map[string]any{"delete": "echo ran >> " + file, "stdout": "x"})
	if err := del(p, remoteURN, state); err != nil {
		t.Fatal(err)
	}
	warned := false
	for _, m := range fe.messages() {
		warned = warned || (m.GetSeverity() == pulumirpc.LogSeverity_WARNING && strings.Contains(m.GetMessage(), "Unable to set 'PULUMI_COMMAND_STDOUT'"))
	}
	if got, _ := os.ReadFile(file); !warned || !strings.HasSuffix(string(got), "ran\n") {
		t.Fatalf("warned=%v log %q", warned, got)
	}
}

// A state without a delete command is deleted without decoding or dialing anything; a state with
// any input upstream accepts decodes.
func TestAnyAcceptedStateCanBeDeleted(t *testing.T) {
	p, _ := testProvider(t)
	for _, state := range []map[string]any{
		{"connection": map[string]any{"host": "203.0.113.1", "perDialTimeout": 0, "dialErrorLimit": -5}, "create": "x", "stdout": "o"},
		{"connection": map[string]any{"host": "203.0.113.1", "proxy": map[string]any{"host": "203.0.113.2"}}, "create": "x"},
		{"create": "x", "logging": "none", "triggers": []any{1, "a"}},
	} {
		if err := del(p, remoteURN, props(state)); err != nil {
			t.Errorf("%v: %v", state, err)
		}
		if err := del(p, localURN, props(state)); err != nil {
			t.Errorf("local %v: %v", state, err)
		}
	}
	// Check accepts what upstream accepts.
	in, _ := marshal(props(map[string]any{"connection": map[string]any{"host": "h", "perDialTimeout": 0, "dialErrorLimit": -2,
		"proxy": map[string]any{"host": "b"}}, "create": "x"}))
	resp, err := p.Check(background, &pulumirpc.CheckRequest{Urn: remoteURN, News: in})
	if err != nil || len(resp.GetFailures()) != 0 {
		t.Fatalf("Check: %v %v", resp.GetFailures(), err)
	}
}

// Remote output: ephemeral progress lines, invalid UTF-8 cleaned, upstream's failure message.
func TestRemoteOutputAndFailure(t *testing.T) {
	p, fe := testProvider(t)
	s := startTestSSHServer(t)
	outs, err := create(t, p, remoteURN, remoteInputs(s, nil, map[string]any{"create": `printf 'a\377b\n'; echo e >&2`, "stdin": "ignored"}))
	if err != nil || outs["stdout"].StringValue() != "a\uFFFDb" || outs["stderr"].StringValue() != "e" {
		t.Fatalf("got %v %v", outs, err)
	}
	for _, m := range fe.messages() {
		if !m.GetEphemeral() {
			t.Fatalf("permanent message: %v", m)
		}
	}
	_, err = create(t, p, remoteURN, remoteInputs(s, nil, map[string]any{"create": "echo oops; exit 3"}))
	if err == nil || err.Error() != "Process exited with status 3: running \"echo oops; exit 3\":\noops\n" {
		t.Fatalf("got %q", err)
	}
	_, err = create(t, p, remoteURN, remoteInputs(s, nil, map[string]any{"create": "true", "environment": map[string]any{"REFUSED": "1"}}))
	if err == nil || !strings.HasPrefix(err.Error(), `could not set environment variable "REFUSED": ssh: setenv failed`) {
		t.Fatalf("got %v", err)
	}
}

// connection.proxy: the command runs on the target, reached through the bastion (upstream's
// bastion support), each with its own key check.
func TestProxyConnection(t *testing.T) {
	p, _ := testProvider(t)
	bastion := startTestSSHServer(t)
	target := startTestSSHServer(t)
	proxy := bastion.connection(nil)
	outs, err := create(t, p, remoteURN, remoteInputs(target, map[string]any{"proxy": proxy}, map[string]any{"create": "echo via-proxy"}))
	if err != nil || outs["stdout"].StringValue() != "via-proxy" {
		t.Fatalf("got %v %v", outs, err)
	}
	if bastion.forwards.Load() != 1 || target.logins.Load() != 1 {
		t.Fatalf("forwards %d logins %d", bastion.forwards.Load(), target.logins.Load())
	}
	// A wrong bastion host key fails as upstream words it, with the "proxy: " prefix.
	proxy["hostKey"] = target.hostKey
	proxy["dialErrorLimit"] = 0
	_, err = create(t, p, remoteURN, remoteInputs(target, map[string]any{"proxy": proxy}, map[string]any{"create": "true"}))
	if err == nil || !strings.HasPrefix(err.Error(), "proxy: after 0 failed attempts: ssh: handshake failed: ssh: host key mismatch") {
		t.Fatalf("got %v", err)
	}
}

// The other ways to log in upstream offers: a password, an SSH agent (agentSocketPath).
func TestPasswordAndAgentLogin(t *testing.T) {
	p, _ := testProvider(t)
	s := startTestSSHServer(t)
	outs, err := create(t, p, remoteURN, remoteInputs(s, map[string]any{"privateKey": nil, "password": testPassword}, map[string]any{"create": "echo pw"}))
	if err != nil || outs["stdout"].StringValue() != "pw" {
		t.Fatalf("password: %v %v", outs, err)
	}

	key, err := ssh.ParseRawPrivateKey([]byte(s.clientKey))
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c); _ = c.Close() }()
		}
	}()
	outs, err = create(t, p, remoteURN, remoteInputs(s, map[string]any{"privateKey": nil, "agentSocketPath": socket}, map[string]any{"create": "echo agent"}))
	if err != nil || outs["stdout"].StringValue() != "agent" {
		t.Fatalf("agent: %v %v", outs, err)
	}
}
