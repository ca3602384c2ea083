package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// copyInputs are a command:remote:CopyToRemote's or CopyFile's inputs, decoded: what to copy is a
// text (Text) or a local path (LocalPath: a FileAsset's or FileArchive's path, or CopyFile's
// localPath), a file or a directory.
type copyInputs struct {
	Conn       connection
	Text       *string
	LocalPath  string
	RemotePath string
	// sourceKey is the input holding the source, the one Update compares.
	sourceKey resource.PropertyKey
}

func decodeCopy(typ string, props resource.PropertyMap) (copyInputs, failures) {
	var f failures
	in := copyInputs{Conn: decodeConnection(props["connection"], "connection.", &f), sourceKey: "source"}
	if p := optString(props, "remotePath", &f); p == nil || *p == "" {
		f.add("remotePath", "is required")
	} else {
		in.RemotePath = *p
	}
	if typ == typeCopyFile {
		in.sourceKey = "localPath"
		if p := optString(props, "localPath", &f); p == nil || *p == "" {
			f.add("localPath", "is required")
		} else {
			in.LocalPath = *p
		}
		return in, f
	}
	// Upstream's Check, with its properties and reasons.
	src, ok := present(props, "source")
	switch {
	case ok && src.ContainsUnknowns():
		// Checked once known (upstream's properties "asset"/"archive" are not the unknown "source").
	case !ok:
		f.add("asset", "either asset or archive must be set")
	case src.IsAsset() && src.AssetValue().IsText():
		text := src.AssetValue().Text
		in.Text = &text
	case src.IsAsset() && src.AssetValue().IsPath():
		in.LocalPath = src.AssetValue().Path
	case src.IsAsset():
		f.add("asset", "asset must be a path-based file asset or a text asset")
	case src.IsArchive() && src.ArchiveValue().IsPath():
		in.LocalPath = src.ArchiveValue().Path
	case src.IsArchive():
		f.add("archive", "archive must be a path to a file or directory")
	default:
		f.add("asset", "either asset or archive must be set")
	}
	return in, f
}

// copyToRemote copies in's source over SFTP as upstream v1.2.1 does (sshd needs a `Subsystem
// sftp` line). Text goes to remotePath (a file path). A local file goes to remotePath, or into it
// when it is an existing directory; a local directory goes to remotePath/<its name>, or its
// contents into remotePath when the source path ends in "/"; files are overwritten, missing parent
// directories created, archives copied as they are (a .tgz is not unpacked). A relative remotePath
// is relative to the SSH user's home; a relative local path to the program's directory. Beyond
// upstream, a copied file executable by its owner is made 0755, so a copied script can run.
func copyToRemote(client *ssh.Client, in copyInputs, programDir string) error {
	sc, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true))
	if err != nil {
		return err
	}
	defer sc.Close()
	if in.Text != nil {
		return copyText(sc, *in.Text, in.RemotePath)
	}
	src := in.LocalPath
	if !filepath.IsAbs(src) && programDir != "" {
		// Not filepath.Join: it would drop a trailing "/", which means "the directory's contents".
		src = strings.TrimSuffix(programDir, "/") + "/" + src
	}
	return sftpCopy(sc, src, in.RemotePath)
}

func copyText(sc *sftp.Client, content, dest string) error {
	st, err := remoteStat(sc, dest)
	if err != nil {
		return err
	}
	if st != nil && st.IsDir() {
		return fmt.Errorf("remote path %s is a directory; when using a text asset, remotePath must be a file path", dest)
	}
	if err := sc.MkdirAll(path.Dir(dest)); err != nil {
		return fmt.Errorf("failed to create parent directories for %s: %w", dest, err)
	}
	f, err := sc.Create(dest)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dest, err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		_ = f.Close()
		return fmt.Errorf("failed to write text content to remote path %s: %w", dest, err)
	}
	return f.Close()
}

// remoteStat: the remote path's info, nil when it does not exist.
func remoteStat(sc *sftp.Client, p string) (fs.FileInfo, error) {
	info, err := sc.Stat(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("failed to stat remote path %s: %w", p, err)
	}
	return info, nil
}

// source | dest exists as a dir | dest does not exist | dest exists as a file
// dir    | dest/dir             | dest/dir            | error
// dir/   | dest/x for x in dir  | dest/dir            | error
// file   | dest/file            | dest                | dest (overwritten)
func sftpCopy(sc *sftp.Client, src, dest string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	destInfo, err := remoteStat(sc, dest)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if destInfo != nil && destInfo.IsDir() {
			dest = path.Join(dest, filepath.Base(src))
		} else if destInfo == nil {
			if err := sc.MkdirAll(path.Dir(dest)); err != nil {
				return fmt.Errorf("failed to create parent directories for %s: %w", dest, err)
			}
		}
		return copyFile(sc, src, dest, info)
	}
	if destInfo == nil {
		if err := sc.MkdirAll(dest); err != nil {
			return fmt.Errorf("failed to create remote directory %s: %w", dest, err)
		}
	}
	if !strings.HasSuffix(src, "/") {
		dest = path.Join(dest, filepath.Base(src))
		if err := remoteDir(sc, dest); err != nil {
			return err
		}
	}
	return copyDir(sc, src, dest)
}

// remoteDir makes sure dir exists as a directory.
func remoteDir(sc *sftp.Client, dir string) error {
	st, err := remoteStat(sc, dir)
	switch {
	case err != nil:
		return err
	case st == nil:
		if err := sc.Mkdir(dir); err != nil {
			return fmt.Errorf("failed to create remote directory %s: %w", dir, err)
		}
	case !st.IsDir():
		return fmt.Errorf("remote path %s exists but is not a directory", dir)
	}
	return nil
}

func copyDir(sc *sftp.Client, src, dest string) error {
	return fs.WalkDir(os.DirFS(src), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		remote := path.Join(dest, filepath.ToSlash(p))
		if d.IsDir() {
			return remoteDir(sc, remote)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return copyFile(sc, filepath.Join(src, p), remote, info)
	})
}

func copyFile(sc *sftp.Client, src, dest string, info fs.FileInfo) error {
	local, err := os.Open(src)
	if err != nil {
		return err
	}
	defer local.Close()
	remote, err := sc.Create(dest)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dest, err)
	}
	if _, err := remote.ReadFrom(local); err != nil {
		_ = remote.Close()
		return fmt.Errorf("failed to copy file %s to remote path %s: %w", src, dest, err)
	}
	if err := remote.Close(); err != nil {
		return fmt.Errorf("failed to copy file %s to remote path %s: %w", src, dest, err)
	}
	if info.Mode().Perm()&0o100 != 0 {
		if err := sc.Chmod(dest, 0o755); err != nil {
			return fmt.Errorf("chmod 755 %s: %w", dest, err)
		}
	}
	return nil
}
