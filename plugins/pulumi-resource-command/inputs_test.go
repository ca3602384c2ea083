package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func TestDecodeConnectionDefaults(t *testing.T) {
	in, f := decodeCommand(resource.NewPropertyMapFromMap(map[string]any{
		"connection": map[string]any{"host": "h"},
	}))
	if len(f) != 0 {
		t.Fatalf("failures: %v", f)
	}
	want := connection{Host: "h", Port: 22, User: "root", DialErrorLimit: 10, PerDialTimeout: 15 * time.Second}
	if in.Conn != want {
		t.Fatalf("got %+v, want %+v", in.Conn, want)
	}
	if !in.AddPreviousOutputInEnv || in.Logging != "stdoutAndStderr" || in.Create != nil {
		t.Fatalf("command defaults: %+v", in)
	}
}

func TestDecodeConnectionValues(t *testing.T) {
	in, f := decodeCommand(resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewPropertyValue(map[string]any{
			"host": "h", "port": 2222, "user": "ops", "privateKey": "K", "dialErrorLimit": -1, "perDialTimeout": 3, "hostKey": "ssh-ed25519 AAAA",
		})),
		"create":      resource.NewStringProperty("c"),
		"environment": resource.NewPropertyValue(map[string]any{"B": "2", "A": "1"}),
		"logging":     resource.NewStringProperty("stderr"),
	})
	if len(f) != 0 {
		t.Fatalf("failures: %v", f)
	}
	c := in.Conn
	if c.Port != 2222 || c.User != "ops" || c.PrivateKey != "K" || c.DialErrorLimit != -1 || c.PerDialTimeout != 3*time.Second || c.HostKey != "ssh-ed25519 AAAA" {
		t.Fatalf("connection: %+v", c)
	}
	if *in.Create != "c" || in.Logging != "stderr" || len(in.Environment) != 2 || in.Environment[0].Name != "A" {
		t.Fatalf("command: %+v", in)
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	_, f := decodeCommand(resource.NewPropertyMapFromMap(map[string]any{
		"connection": map[string]any{"port": 0, "dialErrorLimit": -2, "proxy": map[string]any{"host": "b"}},
		"logging":    "loud",
	}))
	got := f.err().Error()
	for _, want := range []string{"connection.host: is required", "connection.port", "connection.dialErrorLimit", "connection.proxy: is not supported", "logging: must be one of"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestUnknownInputsAreNotValidated(t *testing.T) {
	props := resource.PropertyMap{"connection": resource.MakeComputed(resource.NewStringProperty(""))}
	_, f := decodeCommand(props)
	if len(f) == 0 {
		t.Fatal("expected a failure before filtering")
	}
	if k := knownFailures(f, props); len(k) != 0 {
		t.Fatalf("unknown connection must not fail Check: %v", k)
	}
}

func TestDecodeCopyRejectsArchives(t *testing.T) {
	_, f := decodeCopy(resource.PropertyMap{
		"connection": resource.NewPropertyValue(map[string]any{"host": "h"}),
		"remotePath": resource.NewStringProperty("/x"),
		"source":     resource.NewArchiveProperty(&resource.Archive{Sig: resource.ArchiveSig, Path: "dir"}),
	})
	if err := f.err(); err == nil || !strings.Contains(err.Error(), "archives") {
		t.Fatalf("got %v", err)
	}
}

func TestDialPolicy(t *testing.T) {
	if dialLimitReached(10, 10) || !dialLimitReached(11, 10) || dialLimitReached(1000, -1) || !dialLimitReached(1, 0) {
		t.Fatal("dialLimitReached")
	}
	if dialBackoff(1) != 500*time.Millisecond || dialBackoff(2) != 750*time.Millisecond || dialBackoff(50) != 5*time.Second {
		t.Fatalf("backoff: %v %v %v", dialBackoff(1), dialBackoff(2), dialBackoff(50))
	}
	for _, cmd := range []struct {
		o    op
		in   commandInputs
		want string
	}{
		{opCreate, commandInputs{Create: ptr("c"), Update: ptr("u")}, "c"},
		{opUpdate, commandInputs{Create: ptr("c"), Update: ptr("u")}, "u"},
		{opUpdate, commandInputs{Create: ptr("c")}, "c"},
		{opDelete, commandInputs{Create: ptr("c"), Delete: ptr("d")}, "d"},
	} {
		if got := commandFor(cmd.o, cmd.in); got == nil || *got != cmd.want {
			t.Errorf("op %d: got %v want %s", cmd.o, got, cmd.want)
		}
	}
	if commandFor(opDelete, commandInputs{Create: ptr("c")}) != nil {
		t.Error("delete without delete command must run nothing")
	}
}

func ptr(s string) *string { return &s }
