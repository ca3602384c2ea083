package main

import (
	"bytes"
	"context"
	"sync"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// engineLog sends a command's output lines to the engine, which shows them under the resource
// (as upstream does, per the `logging` input).
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

// lineWriter returns a writer that logs each complete line for urn; flush sends the rest. A nil
// engineLog gives a nil writer (nothing is logged).
func (e *engineLog) lineWriter(urn string) (w *lineWriter) {
	if e == nil {
		return nil
	}
	return &lineWriter{log: e, urn: urn}
}

func (e *engineLog) info(urn, msg string) {
	if e == nil {
		return
	}
	// Logging is best effort: a slow or gone engine must not fail or stall the command.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = e.client.Log(ctx, &pulumirpc.LogRequest{Severity: pulumirpc.LogSeverity_INFO, Message: msg, Urn: urn})
}

// lineWriter is shared by stdout and stderr (two goroutines): it locks.
type lineWriter struct {
	log *engineLog
	urn string
	mu  sync.Mutex
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.log.info(w.urn, string(w.buf[:i]))
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
		w.log.info(w.urn, string(w.buf))
		w.buf = nil
	}
}
