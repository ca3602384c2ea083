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
		"connection": map[string]any{"port": 0, "user": 3, "perDialTimeout": -1, "proxy": map[string]any{"port": 1.5}},
		"logging":    "loud",
	}))
	got := f.err().Error()
	for _, want := range []string{"connection.host: is required", "connection.port", "connection.user: must be a string",
		"connection.perDialTimeout", "connection.proxy.host: is required", "connection.proxy.port: must be a whole number",
		"logging: must be one of"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

// Every value upstream accepts is accepted: perDialTimeout 0 (no bound), a dialErrorLimit below -1
// (unlimited), a proxy.
func TestDecodeAcceptsWhatUpstreamAccepts(t *testing.T) {
	in, f := decodeCommand(resource.NewPropertyMapFromMap(map[string]any{
		"connection": map[string]any{"host": "h", "perDialTimeout": 0, "dialErrorLimit": -5,
			"proxy": map[string]any{"host": "bastion", "port": 2022}},
	}))
	if len(f) != 0 {
		t.Fatalf("failures: %v", f)
	}
	if in.Conn.PerDialTimeout != 0 || in.Conn.DialErrorLimit != -1 || in.Conn.Proxy == nil ||
		in.Conn.Proxy.Host != "bastion" || in.Conn.Proxy.Port != 2022 || in.Conn.Proxy.User != "root" || in.Conn.Proxy.DialErrorLimit != 10 {
		t.Fatalf("got %+v proxy %+v", in.Conn, in.Conn.Proxy)
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

// CopyToRemote's sources, with upstream's Check: a FileAsset or FileArchive (a file or a directory)
// or a StringAsset; other assets and archives fail with upstream's property and reason.
func TestDecodeCopySources(t *testing.T) {
	conn := resource.NewPropertyValue(map[string]any{"host": "h"})
	decode := func(src resource.PropertyValue) (copyInputs, error) {
		in, f := decodeCopy(typeCopyToRemote, resource.PropertyMap{"connection": conn, "remotePath": resource.NewStringProperty("/x"), "source": src})
		return in, f.err()
	}
	if in, err := decode(resource.NewArchiveProperty(&resource.Archive{Sig: resource.ArchiveSig, Path: "dir"})); err != nil || in.LocalPath != "dir" {
		t.Fatalf("FileArchive: %+v %v", in, err)
	}
	if in, err := decode(resource.NewAssetProperty(&resource.Asset{Sig: resource.AssetSig, Path: "f"})); err != nil || in.LocalPath != "f" {
		t.Fatalf("FileAsset: %+v %v", in, err)
	}
	if in, err := decode(resource.NewAssetProperty(&resource.Asset{Sig: resource.AssetSig, Text: "hi"})); err != nil || in.Text == nil || *in.Text != "hi" {
		t.Fatalf("StringAsset: %+v %v", in, err)
	}
	if _, err := decode(resource.MakeComputed(resource.NewStringProperty(""))); err != nil {
		t.Fatalf("an unknown source (preview) must pass: %v", err)
	}
	if _, err := decode(resource.NewAssetProperty(&resource.Asset{Sig: resource.AssetSig, URI: "https://x"})); err == nil ||
		err.Error() != "invalid inputs: asset: asset must be a path-based file asset or a text asset" {
		t.Fatalf("RemoteAsset: %v", err)
	}
	if _, err := decode(resource.NewArchiveProperty(&resource.Archive{Sig: resource.ArchiveSig, Assets: map[string]any{}})); err == nil ||
		err.Error() != "invalid inputs: archive: archive must be a path to a file or directory" {
		t.Fatalf("AssetArchive: %v", err)
	}
}

func TestDialPolicy(t *testing.T) {
	if dialLimitReached(10, 10) || !dialLimitReached(11, 10) || dialLimitReached(1000, -1) || dialLimitReached(1000, -7) || !dialLimitReached(1, 0) {
		t.Fatal("dialLimitReached")
	}
	for _, cmd := range []struct {
		o    op
		in   commandCommon
		want string
	}{
		{opCreate, commandCommon{Create: ptr("c"), Update: ptr("u")}, "c"},
		{opUpdate, commandCommon{Create: ptr("c"), Update: ptr("u")}, "u"},
		{opUpdate, commandCommon{Create: ptr("c")}, "c"},
		{opDelete, commandCommon{Create: ptr("c"), Delete: ptr("d")}, "d"},
	} {
		if got := commandFor(cmd.o, cmd.in); got == nil || *got != cmd.want {
			t.Errorf("op %d: got %v want %s", cmd.o, got, cmd.want)
		}
	}
	if commandFor(opDelete, commandCommon{Create: ptr("c")}) != nil {
		t.Error("delete without delete command must run nothing")
	}
}

func ptr(s string) *string { return &s }
