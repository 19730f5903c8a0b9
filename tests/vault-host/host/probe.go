package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "mdcred/vaultpb"
)

// setup-no-broker: Setup names a broker id the host never announces; the
// plugin must give up on its own (about 5 s) and say so in SetupReply.err.
func cmdSetupNoBroker(o *options, log hclog.Logger, args []string) (int, error) {
	if len(args) != 0 {
		return exitUsage, usageError{"setup-no-broker takes no arguments"}
	}
	st, err := openStore(o.storage, log)
	if err != nil {
		return exitFail, err
	}
	s, err := spawn(o, log, st)
	if err != nil {
		return exitFail, err
	}
	defer s.stop()
	if _, err := s.checkMultiplexing(); err != nil {
		return exitFail, err
	}
	const neverAnnounced = 0x7fff0001
	ctx, cancel := s.ctx()
	defer cancel()
	t := time.Now()
	reply, err := s.backend.Setup(ctx, &pb.SetupArgs{BrokerId: neverAnnounced, Config: map[string]string{}, BackendUUID: newUUID()})
	res := map[string]interface{}{"broker_id": neverAnnounced, "elapsed_ms": ms(time.Since(t))}
	code := exitOK
	switch {
	case err != nil:
		res["grpc_error"] = err.Error()
		code = exitFail
	case reply.Err == "":
		res["setup_err"] = ""
		code = exitFail // succeeding without storage is wrong
	default:
		res["setup_err"] = reply.Err
	}
	printJSON(res)
	return code, nil
}

// rawCodec passes bytes through untouched, so malformed protobuf reaches
// the plugin and its raw answer comes back.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte{}, data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func cmdRaw(o *options, log hclog.Logger, args []string) (int, error) {
	if len(args) != 2 || !strings.HasPrefix(args[0], "/") {
		return exitUsage, usageError{"raw: want /package.Service/Method HEX|@FILE"}
	}
	var in []byte
	var err error
	if strings.HasPrefix(args[1], "@") {
		in, err = os.ReadFile(args[1][1:])
	} else {
		in, err = hex.DecodeString(strings.Join(strings.Fields(args[1]), ""))
	}
	if err != nil {
		return exitUsage, usageError{"raw: " + err.Error()}
	}
	var s *session
	if o.noMount {
		st, _ := openStore("", log)
		s, err = spawn(o, log, st)
	} else {
		s, _, err = start(o, log)
	}
	if err != nil {
		return exitFail, err
	}
	defer s.stop()

	ctx, cancel := s.ctx()
	defer cancel()
	var out []byte
	err = s.conn.Invoke(ctx, args[0], &in, &out, grpc.ForceCodec(rawCodec{}))
	st := status.Convert(err)
	res := map[string]interface{}{
		"method": args[0], "code": int(st.Code()), "code_name": st.Code().String(),
		"message": st.Message(), "response_hex": hex.EncodeToString(out),
	}
	// A malformed message must cost an error status, not the process.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	_, aliveErr := s.backend.Type(ctx2, &pb.Empty{})
	res["plugin_alive"] = aliveErr == nil
	printJSON(res)
	return exitOK, nil
}

// die-after-mount leaves the plugin orphaned, as when Vault crashes; the
// caller checks that the plugin notices and exits.
func cmdDieAfterMount(o *options, log hclog.Logger, args []string) (int, error) {
	if len(args) != 0 {
		return exitUsage, usageError{"die-after-mount takes no arguments"}
	}
	s, _, err := start(o, log)
	if err != nil {
		return exitFail, err
	}
	fmt.Println(s.pid())
	os.Stdout.Sync()
	os.Exit(exitOK)
	return exitOK, nil
}
