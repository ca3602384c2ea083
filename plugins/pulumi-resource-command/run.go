package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Upstream's names for the previous run's output, set on update when addPreviousOutputInEnv.
const (
	envPreviousStdout = "PULUMI_COMMAND_STDOUT"
	envPreviousStderr = "PULUMI_COMMAND_STDERR"
)

// runSpec is one command to run on an open connection.
type runSpec struct {
	Command string
	// Env is required: sshd must accept each variable (AcceptEnv), or the run fails.
	Env []envVar
	// BestEffortEnv is set when sshd allows it and silently skipped otherwise (upstream's
	// PULUMI_COMMAND_STDOUT/STDERR).
	BestEffortEnv []envVar
	Stdin         *string
	// Stdout and Stderr also receive the output as it comes (the engine log); may be nil.
	Stdout, Stderr io.Writer
}

// runRemote runs spec.Command in a new session on client and returns its stdout and stderr, each
// without one trailing newline (as upstream). A non-zero exit is an error carrying the exit
// status and the combined output. ctx bounds the whole run: at its end the session is closed.
func runRemote(ctx context.Context, client *ssh.Client, spec runSpec) (string, string, error) {
	session, err := client.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("opening an SSH session: %w", err)
	}
	defer session.Close()

	for _, e := range spec.Env {
		if err := session.Setenv(e.Name, e.Value); err != nil {
			return "", "", fmt.Errorf("the server refused environment variable %s (sshd needs `AcceptEnv %s`): %v",
				e.Name, e.Name, err)
		}
	}
	for _, e := range spec.BestEffortEnv {
		_ = session.Setenv(e.Name, e.Value)
	}
	if spec.Stdin != nil && *spec.Stdin != "" {
		session.Stdin = strings.NewReader(*spec.Stdin)
	}
	var stdout, stderr bytes.Buffer
	// The session copies stdout and stderr in two goroutines: the shared buffer needs a lock.
	combined := &lockedBuffer{}
	session.Stdout = tee(&stdout, combined, spec.Stdout)
	session.Stderr = tee(&stderr, combined, spec.Stderr)

	done := make(chan error, 1)
	go func() { done <- session.Run(spec.Command) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGKILL)
		_ = session.Close()
		// Closing the connection ends a session whose server ignores the signal.
		_ = client.Close()
		<-done
		return "", "", fmt.Errorf("the command did not finish before the operation timeout (%v); output so far:\n%s",
			context.Cause(ctx), strings.TrimSpace(combined.String()))
	}
	if err != nil && ctx.Err() != nil {
		// The connection was closed under the command by the timeout or a Cancel.
		return "", "", fmt.Errorf("the command did not finish before the operation timeout (%v); output so far:\n%s",
			context.Cause(ctx), strings.TrimSpace(combined.String()))
	}
	if err != nil {
		return "", "", fmt.Errorf("%s; output:\n%s", describeRunError(err), strings.TrimSpace(combined.String()))
	}
	return strings.TrimSuffix(stdout.String(), "\n"), strings.TrimSuffix(stderr.String(), "\n"), nil
}

// describeRunError says how the command ended: exit status, signal, or a lost connection.
func describeRunError(err error) string {
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		if exit.Signal() != "" {
			return fmt.Sprintf("the command was killed by signal %s", exit.Signal())
		}
		return fmt.Sprintf("the command failed with exit status %d", exit.ExitStatus())
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return "the connection closed before the command reported an exit status"
	}
	return fmt.Sprintf("running the command failed: %v", err)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tee(a, b io.Writer, c io.Writer) io.Writer {
	if c == nil {
		return io.MultiWriter(a, b)
	}
	return io.MultiWriter(a, b, c)
}
