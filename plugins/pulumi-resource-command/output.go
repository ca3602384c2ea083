package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Upstream's names for the previous run's output, set on update and delete when
// addPreviousOutputInEnv (the default).
const (
	envPreviousStdout = "PULUMI_COMMAND_STDOUT"
	envPreviousStderr = "PULUMI_COMMAND_STDERR"
)

// capture collects one command's output, remote or local: stdout and stderr for the outputs, both
// interleaved for error messages, and the lines `logging` selects for the engine's progress
// display.
type capture struct {
	stdout, stderr bytes.Buffer
	combined       lockedBuffer
	log            *lineWriter
	logStdout      bool
	logStderr      bool
}

// newCapture: log may be nil (no engine); logging is the input's value (stdoutAndStderr when unset).
func newCapture(log *lineWriter, logging string) *capture {
	return &capture{
		log:       log,
		logStdout: log != nil && (logging == "stdout" || logging == "stdoutAndStderr"),
		logStderr: log != nil && (logging == "stderr" || logging == "stdoutAndStderr"),
	}
}

// writers returns what to connect to the command's stdout and stderr.
func (c *capture) writers() (stdout, stderr io.Writer) {
	stdout, stderr = io.MultiWriter(&c.stdout, &c.combined), io.MultiWriter(&c.stderr, &c.combined)
	if c.logStdout {
		stdout = io.MultiWriter(stdout, c.log)
	}
	if c.logStderr {
		stderr = io.MultiWriter(stderr, c.log)
	}
	return stdout, stderr
}

// done sends the last unterminated line to the engine. Call it once the command has ended.
func (c *capture) done() {
	if c.logStdout || c.logStderr {
		c.log.flush()
	}
}

// outputs are the stdout and stderr outputs: one trailing newline trimmed (as upstream), invalid
// UTF-8 replaced by U+FFFD (a protobuf string cannot hold it; upstream's step would fail instead).
func (c *capture) outputs() (stdout, stderr string) {
	return cleanUTF8(strings.TrimSuffix(c.stdout.String(), "\n")), cleanUTF8(strings.TrimSuffix(c.stderr.String(), "\n"))
}

// output is stdout and stderr as they came, for error messages.
func (c *capture) output() string { return cleanUTF8(c.combined.String()) }

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
