package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	"golang.org/x/crypto/ssh"
)

// copyAsset writes src (a FileAsset or StringAsset) to remotePath over SFTP, creating missing
// parent directories. A relative remotePath is relative to the SSH user's home (SFTP's working
// directory), as upstream. A FileAsset executable by its owner is made 0755 remotely; anything
// else keeps the server's default mode for new files (0644 under the usual umask). programDir
// resolves a relative FileAsset path (the engine gives assets relative to the program).
func copyAsset(client *ssh.Client, src *asset.Asset, remotePath, programDir string) error {
	sc, err := sftp.NewClient(client)
	if err != nil {
		return fmt.Errorf("starting SFTP (sshd needs a `Subsystem sftp` line): %w", err)
	}
	defer sc.Close()

	var (
		content io.Reader
		mode    os.FileMode
	)
	switch {
	case src.IsPath():
		p := src.Path
		if !filepath.IsAbs(p) && programDir != "" {
			p = filepath.Join(programDir, p)
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if info.IsDir() {
			return fmt.Errorf("source %s is a directory: smith's command provider copies single files only", src.Path)
		}
		if info.Mode().Perm()&0o100 != 0 {
			mode = 0o755
		}
		content = f
	case src.IsText():
		content = strings.NewReader(src.Text)
	default:
		return errors.New("source must be a FileAsset or a StringAsset")
	}

	if st, err := sc.Stat(remotePath); err == nil && st.IsDir() {
		return fmt.Errorf("remotePath %s is a directory: give the full path of the file", remotePath)
	}
	if dir := path.Dir(remotePath); dir != "." && dir != "/" {
		if err := sc.MkdirAll(dir); err != nil {
			return fmt.Errorf("creating remote directory %s: %w", dir, err)
		}
	}
	dst, err := sc.Create(remotePath)
	if err != nil {
		return fmt.Errorf("creating remote file %s: %w", remotePath, err)
	}
	if _, err := dst.ReadFrom(content); err != nil {
		_ = dst.Close()
		return fmt.Errorf("writing remote file %s: %w", remotePath, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("writing remote file %s: %w", remotePath, err)
	}
	if mode != 0 {
		if err := sc.Chmod(remotePath, mode); err != nil {
			return fmt.Errorf("chmod %o %s: %w", mode, remotePath, err)
		}
	}
	return nil
}
