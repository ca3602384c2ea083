package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gobwas/glob"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// globFiles lists the files under dir that globs select, as upstream's assetPaths/archivePaths:
// gobwas/glob syntax with "/" as the separator ("*" stays within a directory, "**" crosses them),
// paths relative to dir, files only; a glob starting with "!" excludes, and globs apply in order,
// so an exclusion removes what the globs before it added.
func globFiles(dir string, globs []string) (map[string]*resource.Asset, error) {
	type rule struct {
		g       glob.Glob
		exclude bool
	}
	rules := make([]rule, 0, len(globs))
	for _, g := range globs {
		exclude := strings.HasPrefix(g, "!")
		compiled, err := glob.Compile(strings.TrimPrefix(g, "!"), '/')
		if err != nil {
			return nil, err
		}
		rules = append(rules, rule{compiled, exclude})
	}
	found := map[string]*resource.Asset{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, r := range rules {
			switch {
			case !r.g.Match(p):
			case r.exclude:
				delete(found, p)
			default:
				a, err := resource.NewPathAsset(filepath.Join(dir, p))
				if err != nil {
					return err
				}
				found[p] = a
			}
		}
		return nil
	})
	return found, err
}

// globOutputs adds the `assets` and `archive` outputs a local command asked for to outs.
func globOutputs(outs resource.PropertyMap, dir string, in localInputs) error {
	if in.AssetPaths != nil {
		assets, err := globFiles(dir, in.AssetPaths)
		if err != nil {
			return err
		}
		m := resource.PropertyMap{}
		for p, a := range assets {
			m[resource.PropertyKey(p)] = resource.NewAssetProperty(a)
		}
		outs["assets"] = resource.NewObjectProperty(m)
	}
	if in.ArchivePaths != nil {
		assets, err := globFiles(dir, in.ArchivePaths)
		if err != nil {
			return err
		}
		contents := map[string]any{}
		for p, a := range assets {
			contents[p] = a
		}
		archive, err := resource.NewAssetArchive(contents)
		if err != nil {
			return err
		}
		outs["archive"] = resource.NewArchiveProperty(archive)
	}
	return nil
}
