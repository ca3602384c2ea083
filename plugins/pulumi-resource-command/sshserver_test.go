package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testSSHServer is a small in-process SSH server for the provider's unit tests: it runs each exec
// request with /bin/sh on this machine, accepts `env` requests for names in acceptEnv, honours a
// KILL signal, and can refuse the first logins (rejectLogins), as sshd does while /run/nologin
// exists during boot and shutdown.
type testSSHServer struct {
	addr      string
	hostKey   string // authorized_keys line
	clientKey string // OpenSSH PEM private key
	acceptEnv map[string]bool
	// rejectLogins is how many more logins to refuse.
	rejectLogins atomic.Int32
	logins       atomic.Int32
	forwards     atomic.Int32
	ln           net.Listener
	wg           sync.WaitGroup
}

func startTestSSHServer(t *testing.T, acceptEnv ...string) *testSSHServer {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	authorized, _ := ssh.NewPublicKey(clientPub)
	s := &testSSHServer{
		hostKey:   strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))),
		clientKey: string(pem.EncodeToMemory(block)),
		acceptEnv: map[string]bool{},
	}
	for _, e := range acceptEnv {
		s.acceptEnv[e] = true
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if s.rejectLogins.Add(-1) >= 0 {
				return nil, errors.New("logins refused for now")
			}
			if string(key.Marshal()) != string(authorized.Marshal()) {
				return nil, errors.New("unknown key")
			}
			s.logins.Add(1)
			return nil, nil
		},
	}
	cfg.PasswordCallback = func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
		if string(pw) != testPassword {
			return nil, errors.New("wrong password")
		}
		s.logins.Add(1)
		return nil, nil
	}
	cfg.AddHostKey(hostSigner)
	if s.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s.addr = s.ln.Addr().String()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(conn, cfg)
			}()
		}
	}()
	t.Cleanup(func() { _ = s.ln.Close() })
	return s
}

// connection is a connection input for this server.
func (s *testSSHServer) connection(extra map[string]any) map[string]any {
	host, port, _ := net.SplitHostPort(s.addr)
	c := map[string]any{"host": host, "port": port, "user": "tester", "privateKey": s.clientKey, "hostKey": s.hostKey}
	var n int
	_, _ = fmt.Sscan(port, &n)
	c["port"] = n
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func (s *testSSHServer) serve(conn net.Conn, cfg *ssh.ServerConfig) {
	sconn, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		_ = conn.Close()
		return
	}
	defer sconn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() == "direct-tcpip" {
			go s.forward(nc)
			continue
		}
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions and forwarding")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, creqs)
	}
}

// forward serves a direct-tcpip channel (a bastion forwarding to the next host), counting it.
func (s *testSSHServer) forward(nc ssh.NewChannel) {
	var target struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &target); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(target.Host, fmt.Sprint(target.Port)))
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		_ = conn.Close()
		return
	}
	s.forwards.Add(1)
	go ssh.DiscardRequests(reqs)
	go func() { _, _ = io.Copy(ch, conn); _ = ch.CloseWrite() }()
	_, _ = io.Copy(conn, ch)
	_ = conn.Close()
	_ = ch.Close()
}

func (s *testSSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var env []string
	var cmd *exec.Cmd
	done := make(chan struct{})
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			_ = ssh.Unmarshal(req.Payload, &kv)
			ok := s.acceptEnv[kv.Name]
			if ok {
				env = append(env, kv.Name+"="+kv.Value)
			}
			_ = req.Reply(ok, nil)
		case "exec":
			var p struct{ Command string }
			_ = ssh.Unmarshal(req.Payload, &p)
			cmd = exec.Command("/bin/sh", "-c", p.Command)
			cmd.Env, cmd.Stdout, cmd.Stderr = env, ch, ch.Stderr()
			stdin, _ := cmd.StdinPipe()
			go func() { _, _ = io.Copy(stdin, ch); _ = stdin.Close() }()
			if err := cmd.Start(); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			go func() {
				defer close(done)
				status := uint32(0)
				var exit *exec.ExitError
				if err := cmd.Wait(); errors.As(err, &exit) {
					status = uint32(exit.ExitCode())
				}
				_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
				_ = ch.Close()
			}()
		case "signal":
			if cmd != nil && cmd.Process != nil {
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
		default:
			_ = req.Reply(false, nil)
		}
	}
	if cmd != nil {
		<-done
	}
}

// testPassword is the one password the test server accepts.
const testPassword = "s3cret"

const remoteURN = "urn:pulumi:test::proj::command:remote:Command::probe"

// background is a context for calls that the test does not bound.
var background = context.Background()
