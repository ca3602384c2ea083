package main

import (
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// inputKeys are each resource's input properties: Diff compares exactly these, so outputs that
// only the provider sets (stdout, stderr) never count as a change.
var inputKeys = map[string][]resource.PropertyKey{
	typeCommand: {
		"addPreviousOutputInEnv", "connection", "create", "delete", "environment", "logging", "stdin",
		"triggers", "update",
	},
	typeLocalCommand: {
		"addPreviousOutputInEnv", "archivePaths", "assetPaths", "create", "delete", "dir", "environment",
		"interpreter", "logging", "stdin", "triggers", "update",
	},
	typeCopyToRemote: {"connection", "remotePath", "source", "triggers"},
	typeCopyFile:     {"connection", "localPath", "remotePath", "triggers"},
}

// replaces: does a change of key replace a typ? Upstream: `triggers` only (a new command, source or
// remotePath is an update, which runs or copies again); CopyFile has no update, so any change.
func replaces(typ string, key resource.PropertyKey) bool {
	return key == "triggers" || typ == typeCopyFile
}

// diffResult is what Diff answers: the changed inputs, sorted, and those that force a replacement.
type diffResult struct {
	Changed  []string
	Replaces []string
}

// diffInputs compares a resource's old state with its new (checked) inputs. Unknown new values
// count as changes; top-level keys in ignore are skipped (the engine has usually applied
// ignoreChanges already by putting the old values back).
func diffInputs(typ string, olds, news resource.PropertyMap, ignore []string) diffResult {
	ignored := map[string]bool{}
	for _, k := range ignore {
		ignored[k] = true
	}
	var d diffResult
	for _, k := range inputKeys[typ] {
		if ignored[string(k)] || sameValue(olds[k], news[k]) {
			continue
		}
		d.Changed = append(d.Changed, string(k))
		if replaces(typ, k) {
			d.Replaces = append(d.Replaces, string(k))
		}
	}
	sort.Strings(d.Changed)
	sort.Strings(d.Replaces)
	return d
}

// sameValue: equal values, a missing value equal to null, an unknown never equal, secrets compared
// by what they hold, and assets by their content hash.
func sameValue(old, new resource.PropertyValue) bool {
	old, new = unwrapSecret(old), unwrapSecret(new)
	if new.ContainsUnknowns() {
		return false
	}
	if old.IsNull() || new.IsNull() {
		return old.IsNull() && new.IsNull()
	}
	if old.IsAsset() && new.IsAsset() {
		a, b := old.AssetValue(), new.AssetValue()
		if a.Hash != "" && b.Hash != "" {
			return a.Hash == b.Hash
		}
	}
	return old.DeepEquals(new)
}

func unwrapSecret(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}
