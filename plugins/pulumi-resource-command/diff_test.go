package main

import (
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
)

func commandState() resource.PropertyMap {
	return resource.NewPropertyMapFromMap(map[string]any{
		"connection": map[string]any{"host": "10.0.0.1", "port": 22, "user": "root", "privateKey": "KEY", "dialErrorLimit": 10, "perDialTimeout": 15},
		"create":     "echo hi",
		"triggers":   []any{"build-1"},
		"stdout":     "hi",
		"stderr":     "",
	})
}

func commandNews() resource.PropertyMap {
	m := commandState()
	delete(m, "stdout")
	delete(m, "stderr")
	return m
}

func TestDiffCommand(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(resource.PropertyMap)
		ignore   []string
		changed  []string
		replaces []string
	}{
		{"identical inputs (outputs ignored)", func(resource.PropertyMap) {}, nil, nil, nil},
		{"create changes: update", func(m resource.PropertyMap) { m["create"] = resource.NewStringProperty("echo bye") }, nil, []string{"create"}, nil},
		{"delete added: update", func(m resource.PropertyMap) { m["delete"] = resource.NewStringProperty("rm x") }, nil, []string{"delete"}, nil},
		{"connection changes: update", func(m resource.PropertyMap) {
			m["connection"].ObjectValue()["privateKey"] = resource.NewStringProperty("OTHER")
		}, nil, []string{"connection"}, nil},
		{"connection change ignored", func(m resource.PropertyMap) {
			m["connection"].ObjectValue()["privateKey"] = resource.NewStringProperty("OTHER")
		}, []string{"connection"}, nil, nil},
		{"triggers change: replace", func(m resource.PropertyMap) {
			m["triggers"] = resource.NewPropertyValue([]any{"build-2"})
		}, nil, []string{"triggers"}, []string{"triggers"}},
		{"triggers and create: both, replace", func(m resource.PropertyMap) {
			m["triggers"] = resource.NewPropertyValue([]any{"build-2"})
			m["create"] = resource.NewStringProperty("x")
		}, nil, []string{"create", "triggers"}, []string{"triggers"}},
		{"null equals missing", func(m resource.PropertyMap) { m["stdin"] = resource.NewNullProperty() }, nil, nil, nil},
		{"unknown is a change", func(m resource.PropertyMap) {
			m["create"] = resource.MakeComputed(resource.NewStringProperty(""))
		}, nil, []string{"create"}, nil},
		{"secret wrapper alone is no change", func(m resource.PropertyMap) {
			m["connection"] = resource.MakeSecret(m["connection"])
		}, nil, nil, nil},
		{"environment added", func(m resource.PropertyMap) {
			m["environment"] = resource.NewPropertyValue(map[string]any{"A": "1"})
		}, nil, []string{"environment"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			news := commandNews()
			c.edit(news)
			d := diffInputs(typeCommand, commandState(), news, c.ignore)
			if !reflect.DeepEqual(d.Changed, c.changed) || !reflect.DeepEqual(d.Replaces, c.replaces) {
				t.Fatalf("got changed=%v replaces=%v, want changed=%v replaces=%v", d.Changed, d.Replaces, c.changed, c.replaces)
			}
		})
	}
}

func TestDiffCopyComparesSourceByHash(t *testing.T) {
	a, err := asset.FromText("agent v1")
	if err != nil {
		t.Fatal(err)
	}
	same, _ := asset.FromText("agent v1")
	other, _ := asset.FromText("agent v2")
	base := func(src *asset.Asset) resource.PropertyMap {
		return resource.PropertyMap{
			"connection": resource.NewPropertyValue(map[string]any{"host": "h"}),
			"remotePath": resource.NewStringProperty("/x"),
			"source":     resource.NewAssetProperty(src),
		}
	}
	if d := diffInputs(typeCopyToRemote, base(a), base(same), nil); len(d.Changed) != 0 {
		t.Fatalf("same content: got %v", d.Changed)
	}
	if d := diffInputs(typeCopyToRemote, base(a), base(other), nil); !reflect.DeepEqual(d.Changed, []string{"source"}) || len(d.Replaces) != 0 {
		t.Fatalf("new content: got %+v", d)
	}
	moved := base(a)
	moved["remotePath"] = resource.NewStringProperty("/y")
	if d := diffInputs(typeCopyToRemote, base(a), moved, nil); !reflect.DeepEqual(d.Changed, []string{"remotePath"}) {
		t.Fatalf("new path: got %+v", d)
	}
}

// CopyFile has no update upstream: any change replaces it.
func TestDiffCopyFileReplacesOnAnyChange(t *testing.T) {
	olds := resource.NewPropertyMapFromMap(map[string]any{"connection": map[string]any{"host": "h"}, "localPath": "a", "remotePath": "/x"})
	news := olds.Copy()
	news["localPath"] = resource.NewStringProperty("b")
	if d := diffInputs(typeCopyFile, olds, news, nil); !reflect.DeepEqual(d.Replaces, []string{"localPath"}) {
		t.Fatalf("got %+v", d)
	}
}
