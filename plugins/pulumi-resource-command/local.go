package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// localInputs are a command:local:Command's inputs, decoded.
type localInputs struct {
	commandCommon
	// Interpreter is the program and arguments the command is appended to; upstream's default
	// is /bin/sh -c.
	Interpreter []string
	// Dir is where the command runs; empty: the program's directory (the provider's working
	// directory, as upstream).
	Dir string
	// AssetPaths and ArchivePaths are globs of files under Dir to return after a run, as the
	// `assets` map and the `archive` output (nil: not asked for).
	AssetPaths, ArchivePaths []string
}

var defaultInterpreter = []string{"/bin/sh", "-c"}

func decodeLocal(props resource.PropertyMap) (localInputs, failures) {
	var f failures
	in := localInputs{commandCommon: decodeCommon(props, &f), Interpreter: defaultInterpreter}
	if args := optStrings(props, "interpreter", &f); len(args) > 0 {
		in.Interpreter = args
	}
	if d := optString(props, "dir", &f); d != nil {
		in.Dir = *d
	}
	in.AssetPaths = optStrings(props, "assetPaths", &f)
	in.ArchivePaths = optStrings(props, "archivePaths", &f)
	return in, f
}

// localSpec is one local command to run.
type localSpec struct {
	Command     string
	Interpreter []string
	Dir         string
	// Env is added to the provider's own environment (the engine's, as upstream).
	Env   []envVar
	Stdin *string
}

// localWaitDelay bounds how long a timed-out command's output pipes are waited for after its
// process group was killed.
const localWaitDelay = 5 * time.Second

// runLocal runs spec on this machine, its output going to out. ctx bounds it (the resource's
// customTimeouts): at its end the command's whole process group is killed. A failure reads as
// upstream's: `exit status N: running "CMD":` and the combined output.
func runLocal(ctx context.Context, spec localSpec, out *capture) error {
	args := append(append([]string{}, spec.Interpreter...), spec.Command)
	//nolint:gosec // running the user's command is this resource's purpose
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	// Its own process group, so a timeout ends the children too, not only the interpreter.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = localWaitDelay
	cmd.Dir = spec.Dir
	cmd.Env = os.Environ()
	for _, e := range spec.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	if spec.Stdin != nil && *spec.Stdin != "" {
		cmd.Stdin = strings.NewReader(*spec.Stdin)
	}
	cmd.Stdout, cmd.Stderr = out.writers()
	err := cmd.Run()
	out.done()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: running %q: the command did not finish in time; output so far:\n%s",
			context.Cause(ctx), spec.Command, out.output())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) && spec.Dir != "" {
		if _, statErr := os.Stat(spec.Dir); statErr != nil {
			err = fmt.Errorf("%w (dir: %v)", err, statErr)
		}
	}
	return fmt.Errorf("%w: running %q:\n%s", err, spec.Command, out.output())
}

// funcLocalRun is upstream's local.run: a local command run on every preview and update.
const funcLocalRun = "command:local:run"

// invokeLocalRun runs local.run's `command` with the local command inputs (no previous output) and
// returns its inputs with stdout, stderr and the files its globs select. Like a running
// command:local:Command it is not interrupted by a Cancel. Invalid arguments are failures.
func invokeLocalRun(args resource.PropertyMap, programDir string, log *lineWriter) (resource.PropertyMap, failures, error) {
	in, f := decodeLocal(args)
	command := optString(args, "command", &f)
	if command == nil {
		f.add("command", "is required")
	}
	if len(f) > 0 {
		return nil, f, nil
	}
	spec := localSpec{Command: *command, Interpreter: in.Interpreter, Dir: in.Dir, Env: in.Environment, Stdin: in.Stdin}
	if spec.Dir == "" {
		spec.Dir = programDir
	}
	out := newCapture(log, in.Logging)
	if err := runLocal(context.Background(), spec, out); err != nil {
		return nil, nil, err
	}
	outs := args.Copy()
	stdout, stderr := out.outputs()
	outs["stdout"], outs["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	if err := globOutputs(outs, spec.Dir, in); err != nil {
		return nil, nil, err
	}
	return outs, nil, nil
}
