package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// maxLogLine is the longest line sent to the engine in one message; a longer one is sent in pieces
// (a command that prints a megabyte without a newline must not grow the buffer without bound).
const maxLogLine = 64 * 1024

// engineLog sends messages to the engine, attached to a resource.
type engineLog struct {
	client pulumirpc.EngineClient
}

func dialEngine(addr string) (*engineLog, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &engineLog{client: pulumirpc.NewEngineClient(conn)}, nil
}

// status sends an ephemeral message: the engine shows it in the resource's progress column while
// the step runs and keeps it out of the final output, as upstream does with command output
// (pulumi-go-provider's InfoStatus). info and warning send permanent diagnostics.
func (e *engineLog) status(urn, msg string) { e.send(urn, pulumirpc.LogSeverity_INFO, msg, true) }
func (e *engineLog) warning(urn, msg string) {
	e.send(urn, pulumirpc.LogSeverity_WARNING, msg, false)
}

func (e *engineLog) send(urn string, sev pulumirpc.LogSeverity, msg string, ephemeral bool) {
	if e == nil {
		return
	}
	// Logging is best effort: a slow or gone engine must not fail or stall the command. A protobuf
	// string must be UTF-8: invalid bytes are replaced, as upstream's host client does, never dropped.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = e.client.Log(ctx, &pulumirpc.LogRequest{
		Severity: sev, Message: cleanUTF8(msg), Urn: urn, Ephemeral: ephemeral,
	})
}

// cleanUTF8 replaces each run of invalid UTF-8 bytes with U+FFFD.
func cleanUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// lineWriter sends each complete line to a sink (the engine's progress display); flush sends the
// rest. Shared by stdout and stderr (two goroutines): it locks.
type lineWriter struct {
	sink func(string)
	mu   sync.Mutex
	buf  []byte
}

// lineWriter returns a writer of urn's progress lines, or nil when there is no engine to log to.
func (e *engineLog) lineWriter(urn string) *lineWriter {
	if e == nil {
		return nil
	}
	return &lineWriter{sink: func(line string) { e.status(urn, line) }}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) >= maxLogLine {
				w.sink(string(w.buf[:maxLogLine]))
				w.buf = w.buf[maxLogLine:]
				continue
			}
			break
		}
		w.sink(strings.TrimSuffix(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.sink(string(w.buf))
		w.buf = nil
	}
}
