package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hclog "github.com/hashicorp/go-hclog"
)

// readOnce is one read request; ok means Vault would have returned it
// without error.
func (s *session) readOnce(r *reqSpec) (time.Duration, error) {
	t := time.Now()
	out, err := s.do(r)
	d := time.Since(t)
	switch {
	case err != nil:
		return d, err
	case out.protoBad != nil:
		return d, out.protoBad
	case out.perr != nil:
		return d, fmt.Errorf("%s", describeProtoErr(out.perr))
	case out.userErr != "":
		return d, fmt.Errorf("error response: %s", out.userErr)
	}
	return d, nil
}

func cmdConcurrent(o *options, log hclog.Logger, args []string) (int, error) {
	if len(args) != 2 {
		return exitUsage, usageError{"concurrent: want N PATH"}
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return exitUsage, usageError{"concurrent: N must be a positive integer"}
	}
	r := &reqSpec{op: "read", path: strings.TrimPrefix(args[1], mountPoint)}
	s, _, err := start(o, log)
	if err != nil {
		return exitFail, err
	}
	defer s.stop()

	// All callers wait at one gate so the requests really overlap.
	gate := make(chan struct{})
	var wg sync.WaitGroup
	var okCount int64
	var firstErr atomic.Value
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			if _, err := s.readOnce(r); err != nil {
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			atomic.AddInt64(&okCount, 1)
		}()
	}
	t := time.Now()
	close(gate)
	wg.Wait()
	res := map[string]interface{}{
		"requests": n, "succeeded": okCount, "failed": int64(n) - okCount,
		"elapsed_ms": ms(time.Since(t)),
	}
	if e := firstErr.Load(); e != nil {
		res["first_error"] = e
	}
	printJSON(res)
	if okCount != int64(n) {
		return exitFail, nil
	}
	return exitOK, nil
}

func cmdBench(o *options, log hclog.Logger, args []string) (int, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("requests", 1000, "")
	c := fs.Int("concurrency", 1, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || *n < 1 || *c < 1 {
		return exitUsage, usageError{"bench: want [-requests N] [-concurrency C] PATH"}
	}
	r := &reqSpec{op: "read", path: strings.TrimPrefix(fs.Arg(0), mountPoint)}
	s, mr, err := start(o, log)
	if err != nil {
		return exitFail, err
	}
	defer s.stop()
	afterMount := procMem(s.pid())
	before := s.store.counts()

	lat := make([]time.Duration, *n)
	var next, failed int64 = -1, 0
	var firstErr atomic.Value
	var wg sync.WaitGroup
	t := time.Now()
	for w := 0; w < *c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(*n) {
					return
				}
				d, err := s.readOnce(r)
				lat[i] = d
				if err != nil {
					atomic.AddInt64(&failed, 1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t)
	mem := procMem(s.pid())

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	after := s.store.counts()
	storage := map[string]float64{}
	for k, v := range after {
		storage[k] = float64(v-before[k]) / float64(*n)
	}
	res := map[string]interface{}{
		"plugin":              o.plugin,
		"pid":                 s.pid(),
		"path":                r.path,
		"spawn_ms":            mr.Timings.Spawn,
		"spawn_to_setup_ms":   mr.Timings.FirstSetup,
		"mount_ms":            mr.Timings.Mount,
		"requests":            *n,
		"concurrency":         *c,
		"failed":              failed,
		"elapsed_ms":          ms(elapsed),
		"requests_per_s":      math.Round(float64(*n) / elapsed.Seconds()),
		"min_ms":              ms(lat[0]),
		"median_ms":           ms(percentile(lat, 0.50)),
		"p99_ms":              ms(percentile(lat, 0.99)),
		"max_ms":              ms(lat[len(lat)-1]),
		"mean_ms":             ms(sum / time.Duration(*n)),
		"storage_per_request": storage,
		"rss_after_mount_kb":  afterMount["VmRSS"],
		"rss_kb":              mem["VmRSS"],
		"hwm_kb":              mem["VmHWM"],
	}
	if e := firstErr.Load(); e != nil {
		res["first_error"] = e
	}
	printJSON(res)
	if failed > 0 {
		return exitFail, nil
	}
	return exitOK, nil
}

// percentile by nearest rank over sorted samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

// procMem reads the kB figures of /proc/PID/status (VmRSS, VmHWM, ...).
func procMem(pid int) map[string]int64 {
	m := map[string]int64{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(k, "Vm") {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}
