package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	pb "mdcred/vaultpb"
)

const mountPoint = "motherduck/"

// parseData turns k=v arguments into request data the way the vault CLI
// does (all values strings). k=@FILE and k=- keep secrets out of argv; a
// lone "-" reads a whole JSON object from stdin.
func parseData(args []string) (map[string]interface{}, error) {
	data := map[string]interface{}{}
	stdinUsed := false
	readStdin := func() ([]byte, error) {
		if stdinUsed {
			return nil, usageError{"stdin can be used only once"}
		}
		stdinUsed = true
		return io.ReadAll(os.Stdin)
	}
	for _, a := range args {
		if a == "-" {
			raw, err := readStdin()
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(raw, &data); err != nil {
				return nil, usageError{"stdin: want a JSON object: " + err.Error()}
			}
			continue
		}
		i := strings.IndexByte(a, '=')
		if i <= 0 {
			return nil, usageError{fmt.Sprintf("argument %q: want k=v, k=@FILE or k=-", a)}
		}
		k, v := a[:i], a[i+1:]
		switch {
		case v == "-":
			raw, err := readStdin()
			if err != nil {
				return nil, err
			}
			v = string(raw)
		case strings.HasPrefix(v, "@"):
			raw, err := os.ReadFile(v[1:])
			if err != nil {
				return nil, usageError{fmt.Sprintf("%s: %v", k, err)}
			}
			v = string(raw)
		}
		data[k] = v
	}
	return data, nil
}

// savedResponse is the part of a -json output that -secret reuses, as
// Vault replays a lease's secret and original data on revoke/renew.
type savedResponse struct {
	Data   json.RawMessage `json:"data"`
	Secret *secretOut      `json:"secret"`
}

func loadSecret(path string) (*pb.Secret, json.RawMessage, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageError{"-secret: " + err.Error()}
	}
	var saved savedResponse
	if err := json.Unmarshal(raw, &saved); err != nil || saved.Secret == nil {
		return nil, nil, usageError{"-secret " + path + ": want a vault-host -json output with a secret"}
	}
	// Compact: the saved file is indented, the plugin gets what it sent.
	sec := &pb.Secret{LeaseId: saved.Secret.LeaseID, InternalData: compact(saved.Secret.InternalData)}
	if lo := saved.Secret.LeaseOptions; lo != nil {
		sec.LeaseOptions = &pb.LeaseOptions{TTL: lo.TTL, MaxTTL: lo.MaxTTL, Renewable: lo.Renewable, Increment: lo.Increment}
		if lo.IssueTime != nil {
			sec.LeaseOptions.IssueTime = &pb.Timestamp{Seconds: lo.IssueTime.Unix(), Nanos: int32(lo.IssueTime.Nanosecond())}
		}
	}
	return sec, json.RawMessage(compact(saved.Data)), nil
}

func compact(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// reqSpec is one request as the user asked for it, before the plugin runs.
type reqSpec struct {
	op, path string
	data     map[string]interface{}
	secret   *pb.Secret
	rawData  json.RawMessage // from -secret, used when no k=v was given
}

func parseRequest(o *options, cmd string, args []string) (*reqSpec, error) {
	r := &reqSpec{op: cmd}
	if cmd == "op" {
		if len(args) < 1 {
			return nil, usageError{"op: want OPERATION PATH [k=v ...]"}
		}
		r.op, args = args[0], args[1:]
	}
	if len(args) < 1 {
		return nil, usageError{cmd + ": want a PATH"}
	}
	r.path, args = strings.TrimPrefix(args[0], mountPoint), args[1:]
	switch r.op {
	case "write":
		r.op = "update" // the existence check may turn this into create
	case "list":
		if !strings.HasSuffix(r.path, "/") && r.path != "" {
			r.path += "/" // Vault's HTTP layer does this for LIST
		}
	}
	if (cmd == "list" || cmd == "delete" || cmd == "help") && len(args) > 0 {
		return nil, usageError{cmd + " takes only a PATH"}
	}
	var err error
	if r.data, err = parseData(args); err != nil {
		return nil, err
	}
	if o.secret != "" {
		if r.secret, r.rawData, err = loadSecret(o.secret); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *reqSpec) build(op string) (*pb.Request, error) {
	data := []byte(r.rawData)
	if len(r.data) > 0 || len(data) == 0 {
		var err error
		if data, err = json.Marshal(r.data); err != nil {
			return nil, err
		}
	}
	return &pb.Request{
		Id:          newUUID(),
		Operation:   op,
		Path:        r.path,
		Data:        string(data),
		Secret:      r.secret,
		DisplayName: "token",
		MountPoint:  mountPoint,
		MountType:   "plugin",
		Connection:  &pb.Connection{},
	}, nil
}

// outcome is one answered request, checked the way Vault checks a reply.
type outcome struct {
	op       string
	path     string
	resp     *pb.Response
	data     json.RawMessage // validated Response.data
	perr     *pb.ProtoError
	userErr  string // data {"error": "..."}
	protoBad error  // reply Vault itself would reject
}

// do runs one request like Vault's router: an existence check decides
// create vs update for writes, then HandleRequest.
func (s *session) do(r *reqSpec) (*outcome, error) {
	op := r.op
	if op == "create" || op == "update" {
		var err error
		if op, err = s.existence(r); err != nil {
			return nil, err
		}
	}
	req, err := r.build(op)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	reply, err := s.backend.HandleRequest(ctx, &pb.HandleRequestArgs{Request: req})
	if err != nil {
		return nil, fmt.Errorf("HandleRequest: %v", err)
	}
	return check(op, r.path, reply), nil
}

func (s *session) existence(r *reqSpec) (string, error) {
	req, err := r.build(r.op)
	if err != nil {
		return "", err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	reply, err := s.backend.HandleExistenceCheck(ctx, &pb.HandleExistenceCheckArgs{Request: req})
	if err != nil {
		return "", fmt.Errorf("HandleExistenceCheck: %v", err)
	}
	switch {
	case reply.Err != nil && reply.Err.ErrType == errUnsupportedPath:
		// Vault lets HandleRequest report the bad path.
		return "update", nil
	case reply.Err != nil:
		return "", fmt.Errorf("HandleExistenceCheck: plugin error: %s", describeProtoErr(reply.Err))
	case reply.CheckFound && !reply.Exists:
		return "create", nil
	}
	return "update", nil
}

func check(op, path string, reply *pb.HandleRequestReply) *outcome {
	out := &outcome{op: op, path: path, resp: reply.Response, perr: reply.Err}
	if out.perr != nil || out.resp == nil {
		return out
	}
	// Vault JSON-decodes data and internal_data into maps: "" is an error.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out.resp.Data), &fields); err != nil {
		out.protoBad = fmt.Errorf("response data is not a JSON object (%v): %q", err, out.resp.Data)
		return out
	}
	out.data = json.RawMessage(out.resp.Data)
	if sec := out.resp.Secret; sec != nil {
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(sec.InternalData), &m); err != nil {
			out.protoBad = fmt.Errorf("secret internal_data is not a JSON object (%v): %q", err, sec.InternalData)
			return out
		}
		if sec.LeaseOptions != nil && sec.LeaseOptions.IssueTime == nil {
			out.protoBad = fmt.Errorf("secret lease_options without issue_time")
			return out
		}
	}
	// logical.Response.IsError: data holding only "error" is an HTTP 400.
	if e, ok := fields["error"]; ok && len(fields) == 1 {
		var msg string
		if json.Unmarshal(e, &msg) != nil {
			msg = string(e)
		}
		out.userErr = msg
	}
	return out
}

// ProtoError.err_type values used here.
const (
	errUser             = 1
	errBadRequest       = 4
	errUnsupportedOp    = 5
	errUnsupportedPath  = 6
	errInvalidRequest   = 7
	errPermissionDenied = 8
	errCoded            = 3
)

var errTypeNames = map[uint32]string{
	0: "unknown", 1: "user", 2: "internal", 3: "coded", 4: "bad request",
	5: "unsupported operation", 6: "unsupported path", 7: "invalid request",
	8: "permission denied", 9: "multi-authz pending", 10: "unrecoverable",
}

func describeProtoErr(e *pb.ProtoError) string {
	s := fmt.Sprintf("err_type %d (%s)", e.ErrType, errTypeNames[e.ErrType])
	if e.ErrCode != 0 {
		s += fmt.Sprintf(" code %d", e.ErrCode)
	}
	return s + ": " + e.ErrMsg
}

// exitFor maps a plugin error to what `vault` would report.
func exitFor(e *pb.ProtoError) int {
	switch e.ErrType {
	case errUser, errBadRequest, errInvalidRequest:
		return exitUser
	case errPermissionDenied:
		return exitPermission
	case errUnsupportedOp, errUnsupportedPath:
		return exitUnsupported
	case errCoded:
		switch c := e.ErrCode; {
		case c == 403:
			return exitPermission
		case c == 404 || c == 405:
			return exitUnsupported
		case c >= 400 && c < 500:
			return exitUser
		}
	}
	return exitFail
}

// Output shapes of -json.
type leaseOut struct {
	TTL       int64      `json:"ttl_ns"`
	MaxTTL    int64      `json:"max_ttl_ns"`
	Renewable bool       `json:"renewable"`
	Increment int64      `json:"increment_ns"`
	IssueTime *time.Time `json:"issue_time,omitempty"`
}

type secretOut struct {
	LeaseID      string          `json:"lease_id"`
	InternalData json.RawMessage `json:"internal_data"`
	LeaseOptions *leaseOut       `json:"lease_options"`
}

type responseOut struct {
	RequestOp     string          `json:"operation"`
	Path          string          `json:"path"`
	LeaseDuration int64           `json:"lease_duration"` // seconds, like vault
	Renewable     bool            `json:"renewable"`
	Data          json.RawMessage `json:"data"`
	Warnings      []string        `json:"warnings"`
	Redirect      string          `json:"redirect,omitempty"`
	Secret        *secretOut      `json:"secret"`
	Error         *errorOut       `json:"error,omitempty"`
}

type errorOut struct {
	ErrType uint32 `json:"err_type"`
	Kind    string `json:"kind"`
	ErrMsg  string `json:"err_msg"`
	ErrCode int64  `json:"err_code,omitempty"`
}

func (o *outcome) jsonView() *responseOut {
	v := &responseOut{RequestOp: o.op, Path: o.path, Data: json.RawMessage("null")}
	if o.perr != nil {
		v.Error = &errorOut{ErrType: o.perr.ErrType, Kind: errTypeNames[o.perr.ErrType], ErrMsg: o.perr.ErrMsg, ErrCode: o.perr.ErrCode}
	}
	if o.userErr != "" {
		v.Error = &errorOut{ErrType: errUser, Kind: "error response (400)", ErrMsg: o.userErr, ErrCode: 400}
	}
	if o.resp == nil {
		return v
	}
	v.Data, v.Warnings, v.Redirect = o.data, o.resp.Warnings, o.resp.Redirect
	if sec := o.resp.Secret; sec != nil {
		so := &secretOut{LeaseID: sec.LeaseId, InternalData: json.RawMessage(sec.InternalData)}
		if lo := sec.LeaseOptions; lo != nil {
			so.LeaseOptions = &leaseOut{TTL: lo.TTL, MaxTTL: lo.MaxTTL, Renewable: lo.Renewable, Increment: lo.Increment}
			if lo.IssueTime != nil {
				t := time.Unix(lo.IssueTime.Seconds, int64(lo.IssueTime.Nanos)).UTC()
				so.LeaseOptions.IssueTime = &t
			}
			v.LeaseDuration, v.Renewable = lo.TTL/int64(time.Second), lo.Renewable
		}
		v.Secret = so
	}
	return v
}

// report prints an outcome like `vault` and returns the exit code.
func (o *outcome) report(jsonOut bool) int {
	if o.protoBad != nil {
		fmt.Fprintf(os.Stderr, "Error: plugin reply rejected (Vault would fail this request): %v\n", o.protoBad)
		return exitFail
	}
	if jsonOut {
		printJSON(o.jsonView())
	}
	target := mountPoint + o.path
	switch {
	case o.perr != nil:
		fmt.Fprintf(os.Stderr, "Error: %s %s: %s\n", o.op, target, describeProtoErr(o.perr))
		return exitFor(o.perr)
	case o.userErr != "":
		fmt.Fprintf(os.Stderr, "Error: %s %s: Code: 400. Errors:\n* %s\n", o.op, target, o.userErr)
		return exitUser
	}
	if o.resp != nil {
		for _, w := range o.resp.Warnings {
			fmt.Fprintf(os.Stderr, "WARNING! %s\n", w)
		}
	}
	if jsonOut {
		return exitOK
	}
	empty := o.resp == nil || isEmptyObject(o.data)
	switch {
	case !empty && !(o.op == "list" && !hasKeys(o.data)):
		var buf bytes.Buffer
		json.Indent(&buf, o.data, "", "  ")
		fmt.Println(buf.String())
	case o.op == "read" || o.op == "list":
		fmt.Fprintf(os.Stderr, "No value found at %s\n", target)
		return exitUser
	case o.op == "delete":
		fmt.Printf("Success! Data deleted (if it existed) at: %s\n", target)
	case o.op == "create" || o.op == "update":
		fmt.Printf("Success! Data written to: %s\n", target)
	default:
		fmt.Printf("Success! %s %s: no response data\n", o.op, target)
	}
	return exitOK
}

func isEmptyObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) != nil || len(m) == 0
}

func hasKeys(raw json.RawMessage) bool {
	var m struct{ Keys []string }
	return json.Unmarshal(raw, &m) == nil && len(m.Keys) > 0
}

func printJSON(v interface{}) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func cmdRequest(o *options, log hclog.Logger, cmd string, args []string) (int, error) {
	// Arguments (and stdin) are read before the plugin starts: go-plugin
	// hands our stdin to the plugin process.
	r, err := parseRequest(o, cmd, args)
	if err != nil {
		return exitUsage, err
	}
	s, _, err := start(o, log)
	if err != nil {
		return exitFail, err
	}
	defer s.stop()
	out, err := s.do(r)
	if err != nil {
		return exitFail, err
	}
	return out.report(o.json), nil
}
