"""plugin_bench.py HOST C_PLUGIN GO_PLUGIN OUT.json [NAME=PLUGIN ...] - the
plugin side by side with the Go reference plugin, through the same Go host
(go-plugin's client).

Alternates the plugins run by run so that machine noise hits all of them:
spawn-to-first-answered-Backend-call (Setup returned) over SPAWNS mounts,
HandleRequest `read config` round trips (median, p99) with 1 and 32
concurrent callers over REQUESTS requests, resident memory after them, and
binary size. Each `read config` costs one Storage.Get through the broker.
Results are keyed "c" and "go"; NAME=PLUGIN adds other builds (say, the
plugin before a change) under NAME, measured in the same rounds.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

host, c_plugin, go_plugin, out_path = sys.argv[1:5]
SPAWNS = int(os.environ.get("BENCH_SPAWNS", "15"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "10000"))
tmp = tempfile.mkdtemp(prefix="plugin-bench-")
plugins = {"c": c_plugin, "go": go_plugin}
for extra in sys.argv[5:]:
    name, _, path = extra.partition("=")
    plugins[name] = path


def run(name, *args):
    storage = os.path.join(tmp, name + ".json")
    cmd = [host, "-plugin", plugins[name], "-storage", storage,
           "-log", os.path.join(tmp, "host.log")] + list(args)
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return res.stdout


for k in plugins:
    # The stored config holds a dummy token: this is a speed run, not an API call.
    run(k, "write", "config", "admin_token=bench-dummy-not-a-token-0000",
        "api_url=http://127.0.0.1:9")

results = {k: {"spawn_to_setup_ms": []} for k in plugins}
for _ in range(SPAWNS):
    for k in plugins:
        m = json.loads(run(k, "mount"))
        results[k]["spawn_to_setup_ms"].append(m["timings_ms"]["spawn_setup"])
for conc in (1, 32):
    for k in plugins:
        b = json.loads(run(k, "bench", "-requests", str(REQUESTS), "-concurrency",
                           str(conc), "config"))
        if b.get("failed"):
            sys.exit(f"plugin_bench: {k} failed {b['failed']} requests")
        results[k][f"c{conc}"] = {"median_ms": b["median_ms"], "p99_ms": b["p99_ms"]}
        if conc == 1:
            results[k]["rss_kb_after"] = b["rss_kb"]
            results[k]["hwm_kb"] = b["hwm_kb"]
for k, p in plugins.items():
    results[k]["spawn_to_setup_ms"] = statistics.median(results[k]["spawn_to_setup_ms"])
    results[k]["binary_bytes"] = os.path.getsize(p)
results["requests"] = REQUESTS
results["spawns"] = SPAWNS
with open(out_path, "w") as f:
    json.dump(results, f, indent=1)
