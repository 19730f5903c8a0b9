// vault-host: launches a Vault secrets-engine plugin the way Vault does
// (go-plugin client, AutoMTLS, gRPC broker serving Storage and SystemView),
// mounts it, runs one command against it and stops it. Tests use it to drive
// the C plugin and the Go reference plugin through the real go-plugin code.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"
)

// Exit codes. 2-4 mirror how `vault` reports the plugin's errors.
const (
	exitOK          = 0
	exitFail        = 1
	exitUser        = 2
	exitPermission  = 3
	exitUnsupported = 4
	exitUsage       = 64
)

const usage = `usage: vault-host -plugin PATH [options] COMMAND [ARGS]

options:
  -plugin PATH      plugin executable (required except for -h)
  -storage FILE     JSON file holding the storage (key -> base64 value);
                    created on first write; default: in memory
  -log FILE         where go-plugin's and the plugin's log lines go (default stderr)
  -log-level LEVEL  trace|debug|info|warn|error (default trace)
  -env K=V          add to the plugin's environment (repeatable)
  -json             print whole responses / errors as JSON on stdout
  -keep             do not stop the plugin at the end
  -cleanup          call Backend.Cleanup before stopping the plugin
  -no-mount         (raw only) skip the mount sequence
  -secret FILE      attach the "secret" (and "data") of a saved -json output
                    to the request (for op revoke / op renew)
  -timeout DUR      deadline of each RPC (default 30s)

commands:
  mount                          mount sequence only; prints results as JSON
  read PATH [k=v ...]            operation read
  list PATH                      operation list (PATH gets a trailing /)
  write PATH [k=v ...] [-]       create or update (after HandleExistenceCheck)
  delete PATH                    operation delete
  help PATH                      operation help
  op OPERATION PATH [k=v ...]    any operation as given, no existence check
  concurrent N PATH              N simultaneous reads on one connection
  bench [-requests N] [-concurrency C] PATH
  setup-no-broker                Setup with a broker id never announced
  raw METHOD HEX|@FILE           raw bytes as one unary call
  die-after-mount                mount, print the plugin pid, exit without stopping it
  handshake-probe wrong-cert|no-alpn|good

values: k=v literal, k=@FILE file contents, k=- stdin; a lone - reads a
JSON object from stdin. Secrets never need to appear in argv.
exit: 0 ok, 1 failure, 2 user error, 3 permission denied,
      4 unsupported path/operation, 64 usage error.
`

type options struct {
	plugin   string
	storage  string
	logPath  string
	logLevel string
	env      multiFlag
	json     bool
	keep     bool
	cleanup  bool
	noMount  bool
	secret   string
	timeout  time.Duration
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// usageError is reported with exitUsage instead of exitFail.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(argv []string) int {
	var o options
	fs := flag.NewFlagSet("vault-host", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.plugin, "plugin", "", "")
	fs.StringVar(&o.storage, "storage", "", "")
	fs.StringVar(&o.logPath, "log", "", "")
	fs.StringVar(&o.logLevel, "log-level", "trace", "")
	fs.Var(&o.env, "env", "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.keep, "keep", false, "")
	fs.BoolVar(&o.cleanup, "cleanup", false, "")
	fs.BoolVar(&o.noMount, "no-mount", false, "")
	fs.StringVar(&o.secret, "secret", "", "")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "")
	if err := fs.Parse(argv); err != nil {
		if err == flag.ErrHelp {
			fmt.Print(usage)
			return exitOK
		}
		fmt.Fprintf(os.Stderr, "vault-host: %v\n%s", err, usage)
		return exitUsage
	}
	args := fs.Args()
	if o.plugin == "" || len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	for _, kv := range o.env {
		if !strings.Contains(kv, "=") {
			fmt.Fprintf(os.Stderr, "vault-host: -env %q: want K=V\n", kv)
			return exitUsage
		}
	}

	logger, closeLog, err := newLogger(o.logPath, o.logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vault-host: %v\n", err)
		return exitFail
	}
	defer closeLog()

	code, err := dispatch(&o, logger, args[0], args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "vault-host: %v\n", err)
		if _, ok := err.(usageError); ok {
			return exitUsage
		}
		if code == exitOK {
			code = exitFail
		}
	}
	return code
}

func dispatch(o *options, logger hclog.Logger, cmd string, args []string) (int, error) {
	switch cmd {
	case "mount":
		return cmdMount(o, logger, args)
	case "read", "list", "write", "delete", "help", "op":
		return cmdRequest(o, logger, cmd, args)
	case "concurrent":
		return cmdConcurrent(o, logger, args)
	case "bench":
		return cmdBench(o, logger, args)
	case "setup-no-broker":
		return cmdSetupNoBroker(o, logger, args)
	case "raw":
		return cmdRaw(o, logger, args)
	case "die-after-mount":
		return cmdDieAfterMount(o, logger, args)
	case "handshake-probe":
		return cmdHandshakeProbe(o, logger, args)
	}
	return exitUsage, usageError{fmt.Sprintf("unknown command %q (see -h)", cmd)}
}

func newLogger(path, level string) (hclog.Logger, func(), error) {
	out := io.Writer(os.Stderr)
	closer := func() {}
	if path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("-log: %v", err)
		}
		out, closer = f, func() { f.Close() }
	}
	lvl := hclog.LevelFromString(level)
	if lvl == hclog.NoLevel {
		return nil, nil, fmt.Errorf("-log-level %q: unknown level", level)
	}
	return hclog.New(&hclog.LoggerOptions{Name: "vault-host", Level: lvl, Output: out}), closer, nil
}
