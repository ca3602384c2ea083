package main

import (
	"context"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

type op int

const (
	opCreate op = iota
	opUpdate
	opDelete
)

// opContext bounds one Create, Update or Delete, as upstream's provider framework does: the
// resource's customTimeouts (none when unset: the engine sends 0 and nothing imposes a default)
// and, for connecting only, a Cancel.
type opContext struct {
	// dial ends at the timeout or at a Cancel (Ctrl-C): dial retries stop, nothing new starts.
	dial context.Context
	// run ends only at the timeout: a Cancel lets a running command or copy finish, as upstream's
	// does (its session.Run ignores cancellation), so dpkg is never killed half-way.
	run context.Context
}

// apply carries out a Create, Update or Delete of typ with inputs news (the old state olds for
// Update and Delete) and returns the new outputs: the inputs, plus stdout and stderr for a command.
func (p *provider) apply(oc opContext, typ, urn string, o op, news, olds resource.PropertyMap) (resource.PropertyMap, error) {
	switch typ {
	case typeCopyToRemote, typeCopyFile:
		return p.applyCopy(oc, typ, urn, o, news, olds)
	case typeLocalCommand:
		return p.applyLocal(oc, urn, o, news, olds)
	default:
		return p.applyCommand(oc, urn, o, news, olds)
	}
}

// commandFor: create runs `create`; update runs `update`, else `create`; delete runs `delete`.
func commandFor(o op, in commandCommon) *string {
	switch o {
	case opCreate:
		return in.Create
	case opUpdate:
		if in.Update != nil {
			return in.Update
		}
		return in.Create
	default:
		return in.Delete
	}
}

// noDeleteCommand: a delete without a `delete` command runs nothing, so it needs nothing else from
// the state; whatever else the state holds, it can always be deleted.
func noDeleteCommand(o op, state resource.PropertyMap) bool {
	if o != opDelete {
		return false
	}
	v, ok := present(state, "delete")
	return !ok || !v.IsString()
}

// commandOutputs are a command's outputs before it runs: the inputs with stdout and stderr empty
// (create), or the previous run's outputs (update; kept when no command runs, as upstream). Nil on
// delete.
func commandOutputs(o op, news, olds resource.PropertyMap) resource.PropertyMap {
	if o == opDelete {
		return nil
	}
	outs := news.Copy()
	outs["stdout"], outs["stderr"] = previous(olds, "stdout"), previous(olds, "stderr")
	// A local command's files found by the previous run, until a run finds them again.
	for _, k := range []resource.PropertyKey{"assets", "archive"} {
		if v, ok := olds[k]; ok {
			outs[k] = v
		}
	}
	return outs
}

// previousOutputEnv: PULUMI_COMMAND_STDOUT/STDERR for update and delete, from the state, when
// addPreviousOutputInEnv and not empty (as upstream).
func previousOutputEnv(o op, in commandCommon, olds resource.PropertyMap) []envVar {
	if o == opCreate || !in.AddPreviousOutputInEnv {
		return nil
	}
	var env []envVar
	for _, k := range []struct {
		env string
		key resource.PropertyKey
	}{{envPreviousStdout, "stdout"}, {envPreviousStderr, "stderr"}} {
		if v := previous(olds, k.key); v.StringValue() != "" {
			env = append(env, envVar{Name: k.env, Value: v.StringValue()})
		}
	}
	return env
}

func (p *provider) applyCommand(oc opContext, urn string, o op, news, olds resource.PropertyMap) (resource.PropertyMap, error) {
	if noDeleteCommand(o, news) {
		return nil, nil
	}
	in, f := decodeCommand(news)
	if err := f.err(); err != nil {
		return nil, err
	}
	outs := commandOutputs(o, news, olds)
	cmd := commandFor(o, in.commandCommon)
	if cmd == nil {
		return outs, nil
	}
	engine, _ := p.state()
	client, err := connect(oc, in.Conn, engine, urn)
	if err != nil {
		return nil, err
	}
	defer client.Close()

	out := newCapture(engine.lineWriter(urn), in.Logging)
	spec := runSpec{Command: *cmd, Env: in.Environment, BestEffortEnv: previousOutputEnv(o, in.commandCommon, olds), Stdin: in.Stdin}
	warn := func(msg string) { engine.warning(urn, msg) }
	if err := runRemote(oc.run, client, spec, out, warn); err != nil {
		return nil, err
	}
	if outs != nil {
		stdout, stderr := out.outputs()
		outs["stdout"], outs["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	}
	return outs, nil
}

func (p *provider) applyLocal(oc opContext, urn string, o op, news, olds resource.PropertyMap) (resource.PropertyMap, error) {
	if noDeleteCommand(o, news) {
		return nil, nil
	}
	in, f := decodeLocal(news)
	if err := f.err(); err != nil {
		return nil, err
	}
	outs := commandOutputs(o, news, olds)
	cmd := commandFor(o, in.commandCommon)
	if cmd == nil {
		return outs, nil
	}
	engine, programDir := p.state()
	spec := localSpec{Command: *cmd, Interpreter: in.Interpreter, Dir: in.Dir, Stdin: in.Stdin,
		Env: append(append([]envVar{}, in.Environment...), previousOutputEnv(o, in.commandCommon, olds)...)}
	if spec.Dir == "" {
		spec.Dir = programDir
	}
	out := newCapture(engine.lineWriter(urn), in.Logging)
	if err := runLocal(oc.run, spec, out); err != nil {
		return nil, err
	}
	if outs != nil {
		stdout, stderr := out.outputs()
		outs["stdout"], outs["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
		if err := globOutputs(outs, spec.Dir, in); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

func (p *provider) applyCopy(oc opContext, typ, urn string, o op, news, olds resource.PropertyMap) (resource.PropertyMap, error) {
	// Upstream never removes what it copied.
	if o == opDelete {
		return nil, nil
	}
	in, f := decodeCopy(typ, news)
	if err := f.err(); err != nil {
		return nil, err
	}
	// An update that changes neither the content nor the path (only the connection, say) has
	// nothing to copy.
	if o == opUpdate && sameValue(olds[in.sourceKey], news[in.sourceKey]) && sameValue(olds["remotePath"], news["remotePath"]) {
		return news.Copy(), nil
	}
	engine, programDir := p.state()
	client, err := connect(oc, in.Conn, engine, urn)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := copyToRemote(client, in, programDir); err != nil {
		if oc.run.Err() != nil {
			return nil, fmt.Errorf("%w: %v", context.Cause(oc.run), err)
		}
		return nil, err
	}
	return news.Copy(), nil
}

// connect dials (retrying per the connection's dialErrorLimit, until oc.dial ends) and ties the
// connection to oc.run: at the operation's timeout it is closed, which ends any session or SFTP
// transfer on it. A Cancel does not close it.
func connect(oc opContext, c connection, engine *engineLog, urn string) (*ssh.Client, error) {
	client, err := dial(oc.dial, c, func(msg string) { engine.status(urn, msg) })
	if err != nil {
		return nil, err
	}
	context.AfterFunc(oc.run, func() { _ = client.Close() })
	return client, nil
}

func previous(olds resource.PropertyMap, key resource.PropertyKey) resource.PropertyValue {
	if v, ok := olds[key]; ok {
		if v = unwrapSecret(v); v.IsString() {
			return v
		}
	}
	return resource.NewStringProperty("")
}
