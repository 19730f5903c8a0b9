package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"

	pb "mdcred/vaultpb"
)

// ProtoError.err_type values (the wire contract, see the spec section 5).
const (
	errUser            = 1
	errInternal        = 2
	errUnsupportedOp   = 5
	errUnsupportedPath = 6
)

const configKey = "config"

// config is what the engine stores; admin_token is write-only.
type config struct {
	APIURL     string `json:"api_url"`
	AdminToken string `json:"admin_token"`
}

const defaultAPIURL = "https://api.motherduck.com"

const configHelp = `Configure the MotherDuck connection.

Fields:
  api_url      MotherDuck API base URL (default ` + defaultAPIURL + `)
  admin_token  admin token used to manage service accounts (write-only)
`

type backend struct {
	broker *plugin.GRPCBroker
	log    hclog.Logger

	mu      sync.Mutex
	storage pb.StorageClient // set by Setup; every request reads through it
}

func (b *backend) store() (pb.StorageClient, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.storage == nil {
		return nil, fmt.Errorf("backend not set up")
	}
	return b.storage, nil
}

// Setup reaches the host's storage through the broker id it was given; the
// host announces that id on the broker stream before or after this call.
func (b *backend) Setup(ctx context.Context, args *pb.SetupArgs) (*pb.SetupReply, error) {
	conn, err := b.broker.Dial(args.BrokerId)
	if err != nil {
		return &pb.SetupReply{Err: fmt.Sprintf("dial host broker id %d: %v", args.BrokerId, err)}, nil
	}
	b.mu.Lock()
	b.storage = pb.NewStorageClient(conn)
	b.mu.Unlock()
	b.log.Debug("setup done", "backend_uuid", args.BackendUUID)
	return &pb.SetupReply{}, nil
}

func (b *backend) Type(context.Context, *pb.Empty) (*pb.TypeReply, error) {
	return &pb.TypeReply{Type: 1}, nil
}

func (b *backend) SpecialPaths(context.Context, *pb.Empty) (*pb.SpecialPathsReply, error) {
	return &pb.SpecialPathsReply{Paths: &pb.Paths{SealWrapStorage: []string{configKey}}}, nil
}

func (b *backend) Initialize(context.Context, *pb.InitializeArgs) (*pb.InitializeReply, error) {
	return &pb.InitializeReply{}, nil
}

func (b *backend) Cleanup(context.Context, *pb.Empty) (*pb.Empty, error) { return &pb.Empty{}, nil }

func (b *backend) InvalidateKey(context.Context, *pb.InvalidateKeyArgs) (*pb.Empty, error) {
	return &pb.Empty{}, nil
}

// Only config has an existence check, so writes there become create/update.
func (b *backend) HandleExistenceCheck(ctx context.Context, args *pb.HandleExistenceCheckArgs) (*pb.HandleExistenceCheckReply, error) {
	req := args.GetRequest()
	if req.GetPath() != configKey {
		return &pb.HandleExistenceCheckReply{Err: protoErr(errUnsupportedPath, "unsupported path")}, nil
	}
	cfg, perr := b.loadConfig(ctx)
	if perr != nil {
		return &pb.HandleExistenceCheckReply{Err: perr}, nil
	}
	return &pb.HandleExistenceCheckReply{CheckFound: true, Exists: cfg != nil}, nil
}

func (b *backend) HandleRequest(ctx context.Context, args *pb.HandleRequestArgs) (*pb.HandleRequestReply, error) {
	req := args.GetRequest()
	if req == nil {
		return &pb.HandleRequestReply{Err: protoErr(errUser, "missing request")}, nil
	}
	resp, perr := b.route(ctx, req)
	return &pb.HandleRequestReply{Response: resp, Err: perr}, nil
}

func (b *backend) route(ctx context.Context, req *pb.Request) (*pb.Response, *pb.ProtoError) {
	op, path := req.GetOperation(), req.GetPath()
	if op == "rollback" && path == "" {
		return nil, nil // nothing periodic to do
	}
	if path != configKey {
		return nil, protoErr(errUnsupportedPath, "unsupported path")
	}
	switch op {
	case "help":
		return dataResponse(map[string]interface{}{"help": configHelp})
	case "read":
		return b.readConfig(ctx)
	case "create", "update":
		return b.writeConfig(ctx, op, req.GetData())
	case "delete":
		return b.deleteConfig(ctx)
	}
	return nil, protoErr(errUnsupportedOp, "unsupported operation")
}

// One Storage.Get per read, the same cost the C plugin pays.
func (b *backend) loadConfig(ctx context.Context) (*config, *pb.ProtoError) {
	st, err := b.store()
	if err != nil {
		return nil, protoErr(errInternal, err.Error())
	}
	reply, err := st.Get(ctx, &pb.StorageGetArgs{Key: configKey})
	if err != nil {
		return nil, protoErr(errInternal, "storage get: "+err.Error())
	}
	if reply.Err != "" {
		return nil, protoErr(errInternal, "storage get: "+reply.Err)
	}
	if reply.Entry == nil {
		return nil, nil
	}
	var cfg config
	if err := json.Unmarshal(reply.Entry.Value, &cfg); err != nil {
		return nil, protoErr(errInternal, "stored config is corrupt: "+err.Error())
	}
	return &cfg, nil
}

func (b *backend) readConfig(ctx context.Context) (*pb.Response, *pb.ProtoError) {
	cfg, perr := b.loadConfig(ctx)
	if perr != nil || cfg == nil {
		return nil, perr
	}
	return dataResponse(map[string]interface{}{"api_url": cfg.APIURL})
}

func (b *backend) writeConfig(ctx context.Context, op, data string) (*pb.Response, *pb.ProtoError) {
	in := map[string]interface{}{}
	if data != "" {
		if err := json.Unmarshal([]byte(data), &in); err != nil {
			return nil, protoErr(errUser, "request data is not a JSON object")
		}
	}
	cfg, perr := b.loadConfig(ctx)
	if perr != nil {
		return nil, perr
	}
	if cfg == nil {
		cfg = &config{APIURL: defaultAPIURL}
	}
	var unknown []string
	for k, v := range in {
		s, ok := v.(string)
		switch {
		case k == "api_url" && ok:
			cfg.APIURL = s
		case k == "admin_token" && ok:
			cfg.AdminToken = s
		case k == "api_url" || k == "admin_token":
			return errorData(fmt.Sprintf("%s must be a string", k))
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return errorData(fmt.Sprintf("unknown fields: %v", unknown))
	}
	if cfg.AdminToken == "" {
		return errorData("admin_token is required")
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, protoErr(errInternal, err.Error())
	}
	st, err := b.store()
	if err != nil {
		return nil, protoErr(errInternal, err.Error())
	}
	reply, err := st.Put(ctx, &pb.StoragePutArgs{Entry: &pb.StorageEntry{Key: configKey, Value: raw}})
	if err != nil {
		return nil, protoErr(errInternal, "storage put: "+err.Error())
	}
	if reply.Err != "" {
		return nil, protoErr(errInternal, "storage put: "+reply.Err)
	}
	b.log.Info("config written", "operation", op)
	return nil, nil
}

func (b *backend) deleteConfig(ctx context.Context) (*pb.Response, *pb.ProtoError) {
	st, err := b.store()
	if err != nil {
		return nil, protoErr(errInternal, err.Error())
	}
	reply, err := st.Delete(ctx, &pb.StorageDeleteArgs{Key: configKey})
	if err != nil {
		return nil, protoErr(errInternal, "storage delete: "+err.Error())
	}
	if reply.Err != "" {
		return nil, protoErr(errInternal, "storage delete: "+reply.Err)
	}
	return nil, nil
}

func protoErr(kind uint32, msg string) *pb.ProtoError {
	return &pb.ProtoError{ErrType: kind, ErrMsg: msg}
}

// dataResponse always carries JSON data: Vault rejects an empty data string.
func dataResponse(data map[string]interface{}) (*pb.Response, *pb.ProtoError) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, protoErr(errInternal, err.Error())
	}
	return &pb.Response{Data: string(raw)}, nil
}

// errorData is Vault's logical.ErrorResponse: HTTP 400 with the message.
func errorData(msg string) (*pb.Response, *pb.ProtoError) {
	return dataResponse(map[string]interface{}{"error": msg})
}
