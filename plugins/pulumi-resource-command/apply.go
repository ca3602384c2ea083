package main

import (
	"context"
	"io"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

type op int

const (
	opCreate op = iota
	opUpdate
	opDelete
)

// apply carries out a Create, Update or Delete of typ with inputs news (the old state olds for
// Update and Delete) and returns the new outputs: the inputs, plus stdout and stderr for a command.
func (p *provider) apply(ctx context.Context, typ, urn string, o op, news, olds resource.PropertyMap) (resource.PropertyMap, error) {
	if typ == typeCopyToRemote {
		return p.applyCopy(ctx, o, news, olds)
	}
	return p.applyCommand(ctx, urn, o, news, olds)
}

// commandFor: create runs `create`; update runs `update`, else `create`; delete runs `delete`.
func commandFor(o op, in commandInputs) *string {
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

func (p *provider) applyCommand(ctx context.Context, urn string, o op, news, olds resource.PropertyMap) (resource.PropertyMap, error) {
	in, f := decodeCommand(news)
	if err := f.err(); err != nil {
		return nil, err
	}
	outs := news.Copy()
	if o == opDelete {
		outs = nil
	}
	cmd := commandFor(o, in)
	if cmd == nil {
		// Nothing to run: an update keeps the previous output, as upstream.
		if outs != nil {
			outs["stdout"], outs["stderr"] = previous(olds, "stdout"), previous(olds, "stderr")
		}
		return outs, nil
	}

	client, err := connect(ctx, in.Conn)
	if err != nil {
		return nil, err
	}
	defer client.Close()

	spec := runSpec{Command: *cmd, Env: in.Environment, Stdin: in.Stdin}
	if o == opUpdate && in.AddPreviousOutputInEnv {
		for _, k := range []struct {
			env string
			key resource.PropertyKey
		}{{envPreviousStdout, "stdout"}, {envPreviousStderr, "stderr"}} {
			if v := previous(olds, k.key); v.IsString() && v.StringValue() != "" {
				spec.BestEffortEnv = append(spec.BestEffortEnv, envVar{Name: k.env, Value: v.StringValue()})
			}
		}
	}
	engine, _ := p.state()
	var outW, errW *lineWriter
	if in.Logging == "stdout" || in.Logging == "stdoutAndStderr" {
		outW = engine.lineWriter(urn)
	}
	if in.Logging == "stderr" || in.Logging == "stdoutAndStderr" {
		errW = engine.lineWriter(urn)
	}
	spec.Stdout, spec.Stderr = asWriter(outW), asWriter(errW)
	stdout, stderr, err := runRemote(ctx, client, spec)
	outW.flush()
	errW.flush()
	if err != nil {
		return nil, err
	}
	if outs != nil {
		outs["stdout"], outs["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	}
	return outs, nil
}

func (p *provider) applyCopy(ctx context.Context, o op, news, olds resource.PropertyMap) (resource.PropertyMap, error) {
	// Upstream never removes the copied file.
	if o == opDelete {
		return nil, nil
	}
	in, f := decodeCopy(news)
	if err := f.err(); err != nil {
		return nil, err
	}
	// An update that changes neither the content nor the path (only the connection, say) has
	// nothing to copy.
	if o == opUpdate && sameValue(olds["source"], news["source"]) && sameValue(olds["remotePath"], news["remotePath"]) {
		return news.Copy(), nil
	}
	client, err := connect(ctx, in.Conn)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	_, programDir := p.state()
	if err := copyAsset(client, in.Source, in.RemotePath, programDir); err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	return news.Copy(), nil
}

// connect dials and ties the connection to ctx: at the operation's timeout or a Cancel it is
// closed, which ends any session or SFTP transfer on it.
func connect(ctx context.Context, c connection) (*ssh.Client, error) {
	client, err := dial(ctx, c)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = client.Close() })
	return client, nil
}

func previous(olds resource.PropertyMap, key resource.PropertyKey) resource.PropertyValue {
	if olds == nil {
		return resource.NewStringProperty("")
	}
	if v, ok := olds[key]; ok && v.IsString() {
		return v
	}
	return resource.NewStringProperty("")
}

// asWriter keeps a nil *lineWriter from becoming a non-nil io.Writer.
func asWriter(w *lineWriter) io.Writer {
	if w == nil {
		return nil
	}
	return w
}
