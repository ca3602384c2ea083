package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// errHostKeyMismatch is permanent: retrying cannot make the server present another key.
var errHostKeyMismatch = errors.New("host key mismatch")

// clientConfig builds the SSH client settings for c. close releases the agent connection, if any.
func clientConfig(c connection) (cfg *ssh.ClientConfig, close func(), err error) {
	cfg = &ssh.ClientConfig{User: c.User, Timeout: c.PerDialTimeout}
	close = func() {}

	if c.HostKey != "" {
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.HostKey))
		if err != nil {
			return nil, close, fmt.Errorf("connection.hostKey is not an authorized_keys line (`type base64 [comment]`): %v", err)
		}
		cfg.HostKeyCallback = func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			return fmt.Errorf("%w: %s:%d presented %s %s, connection.hostKey is %s %s", errHostKeyMismatch,
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

// dialBackoff is the wait after the n-th failed dial (n from 1): 0.5 s growing by half, at most 5 s.
func dialBackoff(n int) time.Duration {
	d := 500 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d = d * 3 / 2
	}
	return min(d, 5*time.Second)
}

// dialLimitReached: after `failures` failed dials, is that the end? -1 never ends by count.
func dialLimitReached(failures, limit int) bool {
	return limit != unlimitedDials && failures > limit
}

// permanentDialError: errors no retry can fix (a wrong host key, a refused key or password).
func permanentDialError(err error) bool {
	msg := err.Error()
	return errors.Is(err, errHostKeyMismatch) || strings.Contains(msg, errHostKeyMismatch.Error()) ||
		strings.Contains(msg, "unable to authenticate")
}

// dial connects to c, retrying failed dials (up to c.DialErrorLimit failures, with backoff), each
// attempt bounded by c.PerDialTimeout and all of them by ctx.
func dial(ctx context.Context, c connection) (*ssh.Client, error) {
	cfg, closeAgent, err := clientConfig(c)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	failures := 0
	for {
		client, err := dialOnce(ctx, addr, cfg, c.PerDialTimeout)
		if err == nil {
			// The agent is only needed for authentication, which is over.
			closeAgent()
			return client, nil
		}
		failures++
		if permanentDialError(err) || dialLimitReached(failures, c.DialErrorLimit) {
			closeAgent()
			return nil, fmt.Errorf("ssh to %s as %s failed after %d attempt(s): %w", addr, c.User, failures, err)
		}
		select {
		case <-ctx.Done():
			closeAgent()
			return nil, fmt.Errorf("ssh to %s as %s: gave up after %d attempt(s) at the operation timeout: last error: %w",
				addr, c.User, failures, err)
		case <-time.After(dialBackoff(failures)):
		}
	}
}

// dialOnce makes one TCP connection and SSH handshake, both within perDial (and ctx).
func dialOnce(ctx context.Context, addr string, cfg *ssh.ClientConfig, perDial time.Duration) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, perDial)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline, _ := dctx.Deadline()
	_ = conn.SetDeadline(deadline)
	// A server that accepts TCP but never finishes the handshake must not hang us past perDial.
	stop := context.AfterFunc(dctx, func() { _ = conn.Close() })
	sshConn, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stop()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sshConn, chans, reqs), nil
}
