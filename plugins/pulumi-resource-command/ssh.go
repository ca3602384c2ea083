package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// errHostKeyMismatch has upstream's text (x/crypto's FixedHostKey): the server's key is not
// connection.hostKey. Retried like every dial error, as upstream does.
var errHostKeyMismatch = errors.New("ssh: host key mismatch")

// clientConfig builds the SSH client settings for c. close releases the agent connection, if any.
func clientConfig(c connection) (cfg *ssh.ClientConfig, close func(), err error) {
	cfg = &ssh.ClientConfig{User: c.User, Timeout: c.PerDialTimeout}
	close = func() {}

	if c.HostKey != "" {
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.HostKey))
		if err != nil {
			return nil, close, fmt.Errorf("failed to parse host key: %w", err)
		}
		cfg.HostKeyCallback = func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			return fmt.Errorf("%w (%s:%d presented %s %s, hostKey is %s %s)", errHostKeyMismatch,
				c.Host, c.Port, got.Type(), ssh.FingerprintSHA256(got), want.Type(), ssh.FingerprintSHA256(want))
		}
		// Ask for the expected key's type, or a server with several host keys may offer another one.
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(want.Type())
	} else {
		// Upstream's behaviour without hostKey: any key is accepted. smith always sets hostKey.
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // documented upstream default
	}

	if c.PrivateKey != "" {
		var signer ssh.Signer
		if c.PrivateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(c.PrivateKey), []byte(c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(c.PrivateKey))
		}
		if err != nil {
			// Never quote the key: only say what is wrong with it.
			return nil, close, fmt.Errorf("connection.privateKey cannot be used: %v", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != "" {
		password := c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}
	socket := c.AgentSocketPath
	if socket == "" {
		socket = os.Getenv("SSH_AUTH_SOCK")
	}
	if socket != "" {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			if c.AgentSocketPath != "" {
				return nil, close, fmt.Errorf("connection.agentSocketPath %s: %v", socket, err)
			}
		} else {
			close = func() { _ = conn.Close() }
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	return cfg, close, nil
}

func hostKeyAlgorithms(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// dialLimitReached: after `failures` failed dials, is that the end? Any limit below 0 is unlimited
// (upstream's reachedDialingErrorLimit).
func dialLimitReached(failures, limit int) bool {
	return limit > unlimitedDials && failures > limit
}

// dialWithRetry calls attempt until it succeeds, it has failed more than limit times, or ctx ends,
// waiting as upstream does between tries (pulumi's retry.Until defaults: 0.1 s, x1.5, at most 5 s).
// Every error is retried: refused connections, timeouts, a host key mismatch, a refused login
// (sshd refuses logins while /run/nologin exists, during boot and shutdown). Each failure is
// reported to progress ("Dial 2/10 failed: retrying"), as upstream.
func dialWithRetry[T any](ctx context.Context, what string, limit int, progress func(string), attempt func() (T, error)) (T, error) {
	var last error
	ok, data, err := retry.Until(ctx, retry.Acceptor{
		Accept: func(try int, _ time.Duration) (bool, any, error) {
			result, err := attempt()
			if err == nil {
				return true, result, nil
			}
			last = err
			dials := try + 1
			if dialLimitReached(dials, limit) {
				// Upstream's words (and count).
				return true, nil, fmt.Errorf("after %d failed attempts: %w", try, err)
			}
			shown := "inf"
			if limit > unlimitedDials {
				shown = strconv.Itoa(limit)
			}
			progress(fmt.Sprintf("%s %d/%s failed: retrying", what, dials, shown))
			return false, nil, nil
		},
	})
	var zero T
	switch {
	case ok && err == nil:
		return data.(T), nil
	case err != nil:
		return zero, err
	case last != nil:
		return zero, fmt.Errorf("%w (%v); last dial error: %w", ctx.Err(), context.Cause(ctx), last)
	default:
		return zero, fmt.Errorf("%w (%v)", ctx.Err(), context.Cause(ctx))
	}
}

// dial connects to c, through c.Proxy when set, retrying failed dials (see dialWithRetry), each
// attempt bounded by c.PerDialTimeout (TCP and SSH handshake) and all of them by ctx.
func dial(ctx context.Context, c connection, progress func(string)) (*ssh.Client, error) {
	cfg, closeAgent, err := clientConfig(c)
	if err != nil {
		return nil, err
	}
	// The agent is only needed for authentication, which is over either way.
	defer closeAgent()
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	if c.Proxy == nil {
		return dialWithRetry(ctx, "Dial", c.DialErrorLimit, progress, func() (*ssh.Client, error) {
			var d net.Dialer
			return handshake(ctx, addr, cfg, c.PerDialTimeout, func(dctx context.Context) (net.Conn, error) {
				return d.DialContext(dctx, "tcp", addr)
			})
		})
	}

	proxyCfg, closeProxyAgent, err := clientConfig(*c.Proxy)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	defer closeProxyAgent()
	proxyAddr := net.JoinHostPort(c.Proxy.Host, strconv.Itoa(c.Proxy.Port))
	bastion, err := dialWithRetry(ctx, "Dial proxy", c.Proxy.DialErrorLimit, progress, func() (*ssh.Client, error) {
		var d net.Dialer
		return handshake(ctx, proxyAddr, proxyCfg, c.Proxy.PerDialTimeout, func(dctx context.Context) (net.Conn, error) {
			return d.DialContext(dctx, "tcp", proxyAddr)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	client, err := dialWithRetry(ctx, "Dial from proxy", c.DialErrorLimit, progress, func() (*ssh.Client, error) {
		return handshake(ctx, addr, cfg, c.PerDialTimeout, func(dctx context.Context) (net.Conn, error) {
			return bastion.DialContext(dctx, "tcp", addr)
		})
	})
	if err != nil {
		_ = bastion.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	// The bastion connection lives as long as the one through it.
	go func() {
		_ = client.Wait()
		_ = bastion.Close()
	}()
	return client, nil
}

// handshake opens a connection with open and makes the SSH handshake on it, both within perDial
// (0: no bound) and ctx: a server that accepts TCP but never finishes the handshake must not hang
// the step.
func handshake(ctx context.Context, addr string, cfg *ssh.ClientConfig, perDial time.Duration,
	open func(context.Context) (net.Conn, error)) (*ssh.Client, error) {
	dctx, cancel := ctx, context.CancelFunc(func() {})
	if perDial > 0 {
		dctx, cancel = context.WithTimeout(ctx, perDial)
	}
	defer cancel()
	conn, err := open(dctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(dctx, func() { _ = conn.Close() })
	sshConn, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() {
		// dctx ended during the handshake and closed conn.
		if err == nil {
			_ = sshConn.Close()
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, context.Cause(dctx))
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return ssh.NewClient(sshConn, chans, reqs), nil
}
