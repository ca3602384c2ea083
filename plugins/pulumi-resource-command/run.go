package main

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// runSpec is one command to run on an open connection.
type runSpec struct {
	Command string
	// Env is required: sshd must accept each variable (AcceptEnv), or the run fails (as upstream).
	Env []envVar
	// BestEffortEnv is set when sshd allows it; otherwise a warning says so and the run goes on
	// (upstream's PULUMI_COMMAND_STDOUT/STDERR).
	BestEffortEnv []envVar
	Stdin         *string
}

// setenvHint is upstream's explanation of a refused variable.
func setenvHint(name string) string {
	return fmt.Sprintf("Unable to set '%s'. This only works if your SSH server is configured to accept "+
		"these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, "+
		"you could prefix the command itself with the variables in the form 'VAR=value command'", name)
}

// runRemote runs spec.Command in a new session on client, its output going to out. A non-zero exit
// is an error as upstream words it (`Process exited with status N: running "CMD":` and the
// combined output). ctx bounds the run (the resource's customTimeouts): at its end the command is
// signalled and the session closed. A Cancel does not reach ctx: the command finishes.
func runRemote(ctx context.Context, client *ssh.Client, spec runSpec, out *capture, warn func(string)) error {
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()

	for _, e := range spec.Env {
		if err := session.Setenv(e.Name, e.Value); err != nil {
			return fmt.Errorf("could not set environment variable %q: %w (%s)", e.Name, err, setenvHint(e.Name))
		}
	}
	for _, e := range spec.BestEffortEnv {
		if err := session.Setenv(e.Name, e.Value); err != nil {
			warn(setenvHint(e.Name))
		}
	}
	if spec.Stdin != nil && *spec.Stdin != "" {
		session.Stdin = strings.NewReader(*spec.Stdin)
	}
	session.Stdout, session.Stderr = out.writers()

	done := make(chan error, 1)
	go func() { done <- session.Run(spec.Command) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGKILL)
		_ = session.Close()
		// Closing the connection ends a session whose server ignores the signal.
		_ = client.Close()
		err = <-done
	}
	out.done()
	if err != nil && ctx.Err() != nil {
		// The timeout, or the connection closed under the command by it.
		return fmt.Errorf("%w: running %q: the command did not finish in time; output so far:\n%s",
			context.Cause(ctx), spec.Command, out.output())
	}
	if err != nil {
		return fmt.Errorf("%w: running %q:\n%s", err, spec.Command, out.output())
	}
	return nil
}
