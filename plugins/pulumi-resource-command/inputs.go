package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Defaults of @pulumi/command 1.2.1's connection (the SDK applies them too; a state written by an
// older SDK or a hand-made one may lack them).
const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15 * time.Second
	unlimitedDials        = -1
)

// connection is connection (a ConnectionArgs) decoded, with defaults applied.
type connection struct {
	Host               string
	Port               int
	User               string
	Password           string
	PrivateKey         string
	PrivateKeyPassword string
	AgentSocketPath    string
	HostKey            string
	// DialErrorLimit is how many failed dials end the operation; -1 means only the operation's
	// timeout does.
	DialErrorLimit int
	// PerDialTimeout bounds one dial (TCP and SSH handshake); 0: no bound, as upstream.
	PerDialTimeout time.Duration
	// Proxy is the bastion host the connection goes through (connection.proxy), or nil.
	Proxy *connection
}

// commandCommon are the inputs remote and local commands share, decoded.
type commandCommon struct {
	Create *string
	Update *string
	Delete *string
	// Environment is in key order.
	Environment            []envVar
	Stdin                  *string
	AddPreviousOutputInEnv bool
	Logging                string
}

// commandInputs are a command:remote:Command's inputs, decoded.
type commandInputs struct {
	commandCommon
	Conn connection
}

type envVar struct{ Name, Value string }

// checkFailure is one invalid input: the property path and why.
type checkFailure struct{ Property, Reason string }

// failures collects checkFailures while decoding, so Check reports all of them at once.
type failures []checkFailure

func (f *failures) add(prop, format string, args ...any) {
	*f = append(*f, checkFailure{Property: prop, Reason: fmt.Sprintf(format, args...)})
}

// err joins the failures into one error, or nil.
func (f failures) err() error {
	if len(f) == 0 {
		return nil
	}
	parts := make([]string, len(f))
	for i, c := range f {
		parts[i] = c.Property + ": " + c.Reason
	}
	return fmt.Errorf("invalid inputs: %s", strings.Join(parts, "; "))
}

var loggingModes = map[string]bool{"stdout": true, "stderr": true, "stdoutAndStderr": true, "none": true}

func decodeCommand(props resource.PropertyMap) (commandInputs, failures) {
	var f failures
	in := commandInputs{commandCommon: decodeCommon(props, &f)}
	in.Conn = decodeConnection(props["connection"], "connection.", &f)
	return in, f
}

// decodeCommon decodes the inputs every command type has, with upstream's defaults.
func decodeCommon(props resource.PropertyMap, f *failures) commandCommon {
	in := commandCommon{AddPreviousOutputInEnv: true, Logging: "stdoutAndStderr"}
	in.Create = optString(props, "create", f)
	in.Update = optString(props, "update", f)
	in.Delete = optString(props, "delete", f)
	in.Stdin = optString(props, "stdin", f)
	if v, ok := present(props, "addPreviousOutputInEnv"); ok {
		if v.IsBool() {
			in.AddPreviousOutputInEnv = v.BoolValue()
		} else {
			f.add("addPreviousOutputInEnv", "must be a boolean")
		}
	}
	if s := optString(props, "logging", f); s != nil {
		if !loggingModes[*s] {
			f.add("logging", "must be one of stdout, stderr, stdoutAndStderr, none (got %q)", *s)
		} else {
			in.Logging = *s
		}
	}
	if v, ok := present(props, "environment"); ok {
		if !v.IsObject() {
			f.add("environment", "must be a map of strings")
		} else {
			env := v.ObjectValue()
			for _, k := range env.StableKeys() {
				if e := unwrapSecret(env[k]); !e.IsString() {
					f.add("environment."+string(k), "must be a string")
				} else {
					in.Environment = append(in.Environment, envVar{Name: string(k), Value: e.StringValue()})
				}
			}
		}
	}
	return in
}

// decodeConnection decodes a connection (prefix "connection.") or its proxy ("connection.proxy."),
// with upstream's defaults, accepting every value upstream accepts.
func decodeConnection(v resource.PropertyValue, prefix string, f *failures) connection {
	c := connection{Port: defaultPort, User: defaultUser, DialErrorLimit: defaultDialErrorLimit, PerDialTimeout: defaultPerDialTimeout}
	v = unwrapSecret(v)
	if !v.IsObject() {
		f.add(strings.TrimSuffix(prefix, "."), "is required")
		return c
	}
	props := v.ObjectValue()
	if h := optString(props, "host", f, prefix); h == nil || *h == "" {
		f.add(prefix+"host", "is required")
	} else {
		c.Host = *h
	}
	strs := map[string]*string{
		"user": &c.User, "password": &c.Password, "privateKey": &c.PrivateKey,
		"privateKeyPassword": &c.PrivateKeyPassword, "agentSocketPath": &c.AgentSocketPath, "hostKey": &c.HostKey,
	}
	for key, dst := range strs {
		if s := optString(props, resource.PropertyKey(key), f, prefix); s != nil {
			*dst = *s
		}
	}
	if n, ok := optInt(props, "port", prefix, f); ok {
		if n < 1 || n > 65535 {
			f.add(prefix+"port", "must be between 1 and 65535 (got %d)", n)
		} else {
			c.Port = n
		}
	}
	// Upstream: any value below -1 is unlimited too.
	if n, ok := optInt(props, "dialErrorLimit", prefix, f); ok {
		c.DialErrorLimit = max(n, unlimitedDials)
	}
	if n, ok := optInt(props, "perDialTimeout", prefix, f); ok {
		if n < 0 {
			f.add(prefix+"perDialTimeout", "must be 0 (no bound) or a number of seconds (got %d)", n)
		} else {
			c.PerDialTimeout = time.Duration(n) * time.Second
		}
	}
	if p, ok := present(props, "proxy"); ok {
		if prefix != "connection." {
			f.add(prefix+"proxy", "a proxy cannot have a proxy of its own")
		} else {
			proxy := decodeConnection(p, prefix+"proxy.", f)
			c.Proxy = &proxy
		}
	}
	return c
}

// present returns props[key] unless it is missing or null.
func present(props resource.PropertyMap, key resource.PropertyKey) (resource.PropertyValue, bool) {
	v, ok := props[key]
	if !ok || v.IsNull() {
		return v, false
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v, true
}

// optString: props[key] if set; a failure if it is not a string. prefix (optional) names the
// object props is in, for the failure's path.
func optString(props resource.PropertyMap, key resource.PropertyKey, f *failures, prefix ...string) *string {
	v, ok := present(props, key)
	if !ok {
		return nil
	}
	if !v.IsString() {
		f.add(strings.Join(prefix, "")+string(key), "must be a string")
		return nil
	}
	s := v.StringValue()
	return &s
}

// optStrings: props[key] if set, a list of strings (a failure otherwise).
func optStrings(props resource.PropertyMap, key resource.PropertyKey, f *failures) []string {
	v, ok := present(props, key)
	if !ok {
		return nil
	}
	out := []string{}
	if v.IsArray() {
		for _, e := range v.ArrayValue() {
			if e = unwrapSecret(e); e.IsString() {
				out = append(out, e.StringValue())
			}
		}
	}
	if !v.IsArray() || len(out) != len(v.ArrayValue()) {
		f.add(string(key), "must be a list of strings")
		return nil
	}
	return out
}

func optInt(props resource.PropertyMap, key resource.PropertyKey, prefix string, f *failures) (int, bool) {
	v, ok := present(props, key)
	if !ok {
		return 0, false
	}
	if !v.IsNumber() || v.NumberValue() != math.Trunc(v.NumberValue()) {
		f.add(prefix+string(key), "must be a whole number")
		return 0, false
	}
	return int(v.NumberValue()), true
}

// unknownPaths lists the top-level inputs whose values are not known yet (during a preview): they
// are not validated until they are.
func unknownPaths(props resource.PropertyMap) map[string]bool {
	out := map[string]bool{}
	for k, v := range props {
		if v.ContainsUnknowns() {
			out[string(k)] = true
		}
	}
	return out
}

// knownFailures drops failures about inputs that are still unknown.
func knownFailures(f failures, props resource.PropertyMap) failures {
	unknown := unknownPaths(props)
	var out failures
	for _, c := range f {
		top := c.Property
		if i := strings.IndexAny(top, ".["); i >= 0 {
			top = top[:i]
		}
		if !unknown[top] {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Property < out[j].Property })
	return out
}
