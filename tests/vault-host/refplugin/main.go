// go-reference-plugin: a minimal Vault secrets-engine plugin written with
// go-plugin, served exactly the way the Vault SDK serves one. It exists to be
// measured side by side with the C plugin by tests/vault-host's host, so it
// does the same storage work per request and nothing more.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"math"
	"os"
	"reflect"
	"unsafe"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "mdcred/vaultpb"
	version "mdcred/vaultversion"
)

// Same handshake as every Vault backend plugin (protocol 5).
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  5,
	MagicCookieKey:   "VAULT_BACKEND_PLUGIN",
	MagicCookieValue: "6669da05-b1c8-4f49-97d9-c8e5bed98e20",
}

const pluginVersion = "v0.1.0-reference"

func main() {
	// JSON lines on stderr are what the host parses into structured logs.
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "go-reference-plugin",
		Level:      hclog.Debug,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         plugin.PluginSet{"backend": &backendPlugin{log: logger}},
		// Vault lifts gRPC's 4 MiB default on both sides.
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32))
			return grpc.NewServer(opts...)
		},
		Logger: logger,
	})
}

// backendPlugin is the server half only; the host has its own client half.
type backendPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	log hclog.Logger
}

func (p *backendPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	fixBrokerTLS(broker)
	pb.RegisterBackendServer(s, &backend{broker: broker, log: p.log})
	version.RegisterPluginVersionServer(s, versionServer{})
	return nil
}

func (p *backendPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (interface{}, error) {
	return nil, errors.New("go-reference-plugin is a server only")
}

type versionServer struct{}

func (versionServer) Version(context.Context, *version.Empty) (*version.VersionReply, error) {
	return &version.VersionReply{PluginVersion: pluginVersion}, nil
}

// fixBrokerTLS works around go-plugin 1.0.1 (the Debian version): with
// AutoMTLS its plugin-side broker dials the host with the *server* TLS
// config, which trusts no CA and checks the name "unused", so every brokered
// connection fails. Later go-plugin releases add RootCAs = the host's
// certificate and ServerName = "localhost" to that config; we do the same.
// The config is unexported, hence reflect+unsafe; it is only read by dials,
// which start after Setup, so patching it here is race-free.
func fixBrokerTLS(broker *plugin.GRPCBroker) {
	f := reflect.ValueOf(broker).Elem().FieldByName("tls")
	if !f.IsValid() || f.Kind() != reflect.Ptr || f.IsNil() {
		return // no AutoMTLS, or a go-plugin that changed its layout
	}
	cfg := (*tls.Config)(unsafe.Pointer(f.Pointer()))
	if cfg.RootCAs == nil {
		cfg.RootCAs = cfg.ClientCAs
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "localhost"
	}
}
