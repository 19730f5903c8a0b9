package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mux "mdcred/vaultmisc"
	pb "mdcred/vaultpb"
	version "mdcred/vaultversion"
)

// The handshake every Vault backend plugin expects.
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  5,
	MagicCookieKey:   "VAULT_BACKEND_PLUGIN",
	MagicCookieValue: "6669da05-b1c8-4f49-97d9-c8e5bed98e20",
}

// Environment Vault adds for every plugin it runs.
var vaultEnv = []string{
	"VAULT_VERSION=1.15.0",
	"VAULT_PLUGIN_AUTOMTLS_ENABLED=true",
	"VAULT_PLUGIN_METADATA_MODE=false",
}

// backendPlugin is the host half of the plugin set: go-plugin hands it the
// connection and broker, we keep both.
type backendPlugin struct{ plugin.NetRPCUnsupportedPlugin }

type dispensed struct {
	backend pb.BackendClient
	conn    *grpc.ClientConn
	broker  *plugin.GRPCBroker
}

func (backendPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("vault-host is a client only")
}

func (backendPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return &dispensed{backend: pb.NewBackendClient(conn), conn: conn, broker: broker}, nil
}

// session is one running plugin and what the host knows about it.
type session struct {
	opts   *options
	log    hclog.Logger
	client *plugin.Client
	cmd    *exec.Cmd
	store  *store
	dispensed

	spawnDur time.Duration // client.Client(): exec until handshake line read
}

func (s *session) pid() int { return s.cmd.Process.Pid }

func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.timeout)
}

// pluginEnv is what Vault puts in cmd.Env; go-plugin then appends our own
// environment and its handshake variables.
func pluginEnv(extra []string) []string {
	env := append([]string{}, vaultEnv...)
	env = append(env, extra...)
	// go-plugin appends os.Environ() after cmd.Env and exec keeps the last
	// duplicate, so drop our copies for -env to win.
	for _, kv := range env {
		os.Unsetenv(kv[:strings.IndexByte(kv, '=')])
	}
	return env
}

// spawn starts the plugin through go-plugin's client and connects to it.
func spawn(o *options, log hclog.Logger, st *store) (*session, error) {
	cmd := exec.Command(o.plugin)
	cmd.Env = pluginEnv(o.env)
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          plugin.PluginSet{"backend": backendPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           log,
	}
	client := plugin.NewClient(cfg)
	s := &session{opts: o, log: log, client: client, cmd: cmd, store: st}
	start := time.Now()
	rpc, err := client.Client()
	s.spawnDur = time.Since(start)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start plugin: %v", err)
	}
	requirePluginCert(cfg.TLSConfig)
	raw, err := rpc.Dispense("backend")
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("dispense: %v", err)
	}
	s.dispensed = *raw.(*dispensed)
	log.Debug("plugin connected", "pid", s.pid(), "spawn", s.spawnDur)
	return s, nil
}

// requirePluginCert makes the brokered Storage/SystemView listener demand
// and verify the plugin's certificate, as Vault's newer go-plugin does;
// 1.0.1 (Debian's) serves it without asking for a client certificate.
// go-plugin has already cloned the config for its own dial, and the broker
// clones it again only when Setup's listener is opened, after this.
func requirePluginCert(c *tls.Config) {
	if c == nil || c.RootCAs == nil {
		return
	}
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.ClientCAs = c.RootCAs
	c.MinVersion = tls.VersionTLS12
}

// mountResult is what `mount` prints.
type mountResult struct {
	Pid          int        `json:"pid"`
	Multiplexing string     `json:"multiplexing"` // "unimplemented" or "unsupported"
	Type         uint32     `json:"type"`
	SpecialPaths pathsOut   `json:"special_paths"`
	Version      string     `json:"version"`
	VersionState string     `json:"version_status"` // "ok" or "unimplemented"
	Timings      mountTimes `json:"timings_ms"`
	Shutdown     *stopInfo  `json:"shutdown,omitempty"`
}

type mountTimes struct {
	Spawn      float64 `json:"spawn"`       // exec until handshake line
	FirstSetup float64 `json:"spawn_setup"` // exec until Setup answered
	Mount      float64 `json:"mount"`       // exec until Initialize answered
}

// checkMultiplexing is Vault's first call; only UNIMPLEMENTED or
// supported=false let a non-multiplexed plugin through.
func (s *session) checkMultiplexing() (string, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	reply, err := mux.NewPluginMultiplexingClient(s.conn).MultiplexingSupport(ctx, &mux.MultiplexingSupportRequest{})
	switch {
	case status.Code(err) == codes.Unimplemented:
		return "unimplemented", nil
	case err != nil:
		return "", fmt.Errorf("MultiplexingSupport: %v", err)
	case reply.Supported:
		return "", errors.New("MultiplexingSupport: plugin claims multiplexing, which a plain binary must not")
	}
	return "unsupported", nil
}

// serveHost is what Vault serves on the brokered connection.
func (s *session) serveHost(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32))
	srv := grpc.NewServer(opts...)
	pb.RegisterStorageServer(srv, s.store)
	pb.RegisterSystemViewServer(srv, systemView{})
	return srv
}

// setup announces Storage+SystemView under a fresh broker id, then calls
// Setup with it, as Vault's backend client does. Storage is read-only
// meanwhile, as in Vault.
func (s *session) setup() error {
	id := s.broker.NextId()
	go s.broker.AcceptAndServe(id, s.serveHost)
	s.store.setReadOnly(true)
	defer s.store.setReadOnly(false)
	ctx, cancel := s.ctx()
	defer cancel()
	reply, err := s.backend.Setup(ctx, &pb.SetupArgs{
		BrokerId:    id,
		Config:      map[string]string{"plugin_name": "motherduck", "plugin_type": "secret", "plugin_version": ""},
		BackendUUID: newUUID(),
	})
	if err != nil {
		return fmt.Errorf("Setup: %v", err)
	}
	if reply.Err != "" {
		return fmt.Errorf("Setup: plugin error: %s", reply.Err)
	}
	return nil
}

// pathsOut lists every kind, empty ones as [], so tests need not care
// which ones a plugin omits.
type pathsOut struct {
	Root                  []string `json:"root"`
	Unauthenticated       []string `json:"unauthenticated"`
	LocalStorage          []string `json:"local_storage"`
	SealWrapStorage       []string `json:"seal_wrap_storage"`
	WriteForwardedStorage []string `json:"write_forwarded_storage"`
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// mount runs Vault's mount sequence on a freshly spawned plugin; timings
// count from the spawn.
func (s *session) mount() (*mountResult, error) {
	r := &mountResult{Pid: s.pid()}
	start := time.Now().Add(-s.spawnDur)
	r.Timings.Spawn = ms(s.spawnDur)
	var err error
	if r.Multiplexing, err = s.checkMultiplexing(); err != nil {
		return nil, err
	}
	if err = s.setup(); err != nil {
		return nil, err
	}
	r.Timings.FirstSetup = ms(time.Since(start))

	ctx, cancel := s.ctx()
	defer cancel()
	typ, err := s.backend.Type(ctx, &pb.Empty{})
	if err != nil {
		return nil, fmt.Errorf("Type: %v", err)
	}
	if r.Type = typ.Type; r.Type != 1 {
		return nil, fmt.Errorf("Type: got %d, want 1 (logical/secrets)", r.Type)
	}
	sp, err := s.backend.SpecialPaths(ctx, &pb.Empty{})
	if err != nil {
		return nil, fmt.Errorf("SpecialPaths: %v", err)
	}
	p := sp.GetPaths()
	r.SpecialPaths = pathsOut{nonNil(p.GetRoot()), nonNil(p.GetUnauthenticated()), nonNil(p.GetLocalStorage()),
		nonNil(p.GetSealWrapStorage()), nonNil(p.GetWriteForwardedStorage())}
	ini, err := s.backend.Initialize(ctx, &pb.InitializeArgs{})
	if err != nil {
		return nil, fmt.Errorf("Initialize: %v", err)
	}
	if ini.Err != nil {
		return nil, fmt.Errorf("Initialize: plugin error: %s", describeProtoErr(ini.Err))
	}
	r.Timings.Mount = ms(time.Since(start))

	v, err := version.NewPluginVersionClient(s.conn).Version(ctx, &version.Empty{})
	switch {
	case status.Code(err) == codes.Unimplemented:
		r.VersionState = "unimplemented"
	case err != nil:
		return nil, fmt.Errorf("Version: %v", err)
	default:
		r.Version, r.VersionState = v.PluginVersion, "ok"
	}
	s.log.Info("mounted", "pid", r.Pid, "type", r.Type, "version", r.Version, "version_status", r.VersionState)
	return r, nil
}

// stopInfo tells whether the plugin obeyed Controller.Shutdown: go-plugin
// waits 2 s for the exit and then kills it.
type stopInfo struct {
	Ms       float64 `json:"ms"`
	Exit     string  `json:"exit"`
	Graceful bool    `json:"graceful"`
}

// stop is the end of every command: optional Cleanup, then client.Kill()
// (Controller.Shutdown, wait, kill), unless -keep.
func (s *session) stop() *stopInfo {
	if s.opts.keep {
		s.log.Info("leaving plugin running (-keep)", "pid", s.pid())
		return nil
	}
	if s.opts.cleanup {
		ctx, cancel := s.ctx()
		if _, err := s.backend.Cleanup(ctx, &pb.Empty{}); err != nil {
			s.log.Warn("Cleanup failed", "error", err)
		}
		cancel()
	}
	start := time.Now()
	s.client.Kill()
	info := &stopInfo{Ms: ms(time.Since(start)), Exit: "unknown"}
	if ps := s.cmd.ProcessState; ps != nil {
		info.Exit = ps.String()
		info.Graceful = ps.Exited() && ps.ExitCode() == 0
	}
	if !info.Graceful {
		fmt.Fprintf(os.Stderr, "vault-host: warning: plugin did not exit cleanly after Shutdown (%s)\n", info.Exit)
	}
	return info
}

// start is spawn plus mount, stopping the plugin again on failure.
func start(o *options, log hclog.Logger) (*session, *mountResult, error) {
	st, err := openStore(o.storage, log)
	if err != nil {
		return nil, nil, err
	}
	s, err := spawn(o, log, st)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.mount()
	if err != nil {
		s.client.Kill()
		return nil, nil, err
	}
	return s, r, nil
}

func cmdMount(o *options, log hclog.Logger, args []string) (int, error) {
	if len(args) != 0 {
		return exitUsage, usageError{"mount takes no arguments"}
	}
	s, r, err := start(o, log)
	if err != nil {
		return exitFail, err
	}
	r.Shutdown = s.stop()
	printJSON(r)
	return exitOK, nil
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())) / 1000 }

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
