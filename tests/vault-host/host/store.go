package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	pb "mdcred/vaultpb"
)

// store serves pb.Storage. With -storage it is persisted to a JSON object
// (key -> base64 value, encoding/json's []byte form) after every change, so
// consecutive vault-host runs see one storage.
type store struct {
	path string
	log  hclog.Logger

	mu       sync.Mutex
	data     map[string][]byte
	readOnly bool

	// Counted so benchmarks can tell how many storage round trips a
	// request costs.
	gets, puts, lists, deletes int64
}

func openStore(path string, log hclog.Logger) (*store, error) {
	s := &store{path: path, log: log, data: map[string][]byte{}}
	if path == "" {
		return s, nil
	}
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("-storage: %v", err)
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &s.data); err != nil {
			return nil, fmt.Errorf("-storage %s: %v", path, err)
		}
	}
	if s.data == nil {
		s.data = map[string][]byte{}
	}
	return s, nil
}

func (s *store) setReadOnly(ro bool) {
	s.mu.Lock()
	s.readOnly = ro
	s.mu.Unlock()
}

// save writes the file atomically; caller holds mu.
func (s *store) save() error {
	if s.path == "" {
		return nil
	}
	raw, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".vault-host-storage-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

func (s *store) counts() map[string]int64 {
	return map[string]int64{
		"get": atomic.LoadInt64(&s.gets), "put": atomic.LoadInt64(&s.puts),
		"list": atomic.LoadInt64(&s.lists), "delete": atomic.LoadInt64(&s.deletes),
	}
}

// Vault's storage errors travel in the reply's err string, never as a status.
const errSetupReadOnly = "cannot write to storage during setup"

func (s *store) Get(_ context.Context, a *pb.StorageGetArgs) (*pb.StorageGetReply, error) {
	atomic.AddInt64(&s.gets, 1)
	s.mu.Lock()
	v, ok := s.data[a.Key]
	s.mu.Unlock()
	s.log.Trace("storage get", "key", a.Key, "found", ok)
	if !ok {
		return &pb.StorageGetReply{}, nil
	}
	return &pb.StorageGetReply{Entry: &pb.StorageEntry{Key: a.Key, Value: v}}, nil
}

func (s *store) Put(_ context.Context, a *pb.StoragePutArgs) (*pb.StoragePutReply, error) {
	atomic.AddInt64(&s.puts, 1)
	if a.Entry == nil || a.Entry.Key == "" {
		return &pb.StoragePutReply{Err: "put without a key"}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly {
		return &pb.StoragePutReply{Err: errSetupReadOnly}, nil
	}
	s.log.Trace("storage put", "key", a.Entry.Key, "bytes", len(a.Entry.Value))
	old, had := s.data[a.Entry.Key]
	s.data[a.Entry.Key] = append([]byte{}, a.Entry.Value...)
	if err := s.save(); err != nil {
		if had {
			s.data[a.Entry.Key] = old
		} else {
			delete(s.data, a.Entry.Key)
		}
		return &pb.StoragePutReply{Err: "persist storage: " + err.Error()}, nil
	}
	return &pb.StoragePutReply{}, nil
}

func (s *store) Delete(_ context.Context, a *pb.StorageDeleteArgs) (*pb.StorageDeleteReply, error) {
	atomic.AddInt64(&s.deletes, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly {
		return &pb.StorageDeleteReply{Err: errSetupReadOnly}, nil
	}
	s.log.Trace("storage delete", "key", a.Key)
	old, had := s.data[a.Key]
	if !had {
		return &pb.StorageDeleteReply{}, nil
	}
	delete(s.data, a.Key)
	if err := s.save(); err != nil {
		s.data[a.Key] = old
		return &pb.StorageDeleteReply{Err: "persist storage: " + err.Error()}, nil
	}
	return &pb.StorageDeleteReply{}, nil
}

// List answers like Vault's physical storage: the immediate children of the
// prefix, sub-prefixes once each with their trailing "/", sorted.
func (s *store) List(_ context.Context, a *pb.StorageListArgs) (*pb.StorageListReply, error) {
	atomic.AddInt64(&s.lists, 1)
	s.mu.Lock()
	seen := map[string]bool{}
	for k := range s.data {
		if !strings.HasPrefix(k, a.Prefix) {
			continue
		}
		rest := k[len(a.Prefix):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	s.mu.Unlock()
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s.log.Trace("storage list", "prefix", a.Prefix, "keys", len(keys))
	return &pb.StorageListReply{Keys: keys}, nil
}

// systemView answers the two SystemView calls a secrets engine makes; the
// durations are nanoseconds on the wire.
type systemView struct{}

const leaseTTL = 768 * time.Hour

func (systemView) DefaultLeaseTTL(context.Context, *pb.Empty) (*pb.TTLReply, error) {
	return &pb.TTLReply{TTL: int64(leaseTTL)}, nil
}

func (systemView) MaxLeaseTTL(context.Context, *pb.Empty) (*pb.TTLReply, error) {
	return &pb.TTLReply{TTL: int64(leaseTTL)}, nil
}
