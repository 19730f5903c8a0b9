"""report.py RUN_DIR - turns hyperfine's JSON and the RSS read-out into
bench/RESULTS.md (medians, ratios against the named baseline, targets)."""
import json
import os
import platform
import subprocess
import sys
import time

run = sys.argv[1]


def load(name):
    with open(os.path.join(run, name)) as f:
        return json.load(f)


def medians(doc):
    return {r.get("command_name", r["command"]): r["median"] * 1000 for r in doc["results"]}


mint = medians(load("mint.json"))
execs = medians(load("exec.json"))
rss = load("rss.json")


def row(name, med, base, extra=""):
    return f"| {name} | {med:.2f} | {med / base:.2f}x | {rss.get(name, '')} |{extra}"


m = mint["mdcred token create"]
bare = mint["curl POST (bare)"]
jq = mint["curl | jq (seed)"]
py = mint["python requests (seed)"]
e_md = execs["mdcred exec --from file:// -- /bin/true"]
e_env = execs["env MOTHERDUCK_TOKEN=... /bin/true"]

lines = [
    "# Benchmark results",
    "",
    f"Measured by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
    f"{platform.machine()}, {os.cpu_count()} cores, "
    f"{subprocess.run(['hyperfine', '--version'], capture_output=True, text=True).stdout.strip()}. "
    "Against `mdcred-emulator` on loopback (plain HTTP), each group in one hyperfine run "
    "(commands through /bin/sh, shell start-up subtracted by hyperfine). "
    "Medians; ratios against the first row of each table. Peak RSS: median over "
    "runs of `ru_maxrss` from wait4 (a pipeline counts its largest process).",
    "",
    "## Mint one read_write token (TTL 1 day)",
    "",
    "| command | median ms | ratio to mdcred | peak RSS KiB |",
    "|---|---|---|---|",
    row("mdcred token create", m, m),
    row("curl POST (bare)", bare, m),
    row("curl | jq (seed)", jq, m),
    row("python requests (seed)", py, m),
    "",
    "## Run a command with the token injected",
    "",
    "| command | median ms | ratio to env | peak RSS KiB |",
    "|---|---|---|---|",
    row("env MOTHERDUCK_TOKEN=... /bin/true", e_env, e_env),
    row("mdcred exec --from file:// -- /bin/true", e_md, e_env),
    "",
    "## Where a mint's time goes",
    "",
    "| command | median ms |",
    "|---|---|",
] + [f"| {k} | {v:.2f} |" for k, v in medians(load("start.json")).items()] + [
    "",
    "`mdcred help` is a process that loads only libc. The second row loads "
    "libcurl.so.4 with its dependency tree (about 30 libraries on Debian 12), "
    "initialises it and gets a refused connection: no server work. The "
    "difference is what loading libcurl costs, paid by `mdcred token create` "
    "and by `curl` alike; what is left of a mint is the request itself.",
    "",
    "## Targets",
    "",
    "| target | measured | met |",
    "|---|---|---|",
    f"| mint within 1.1x of the bare curl POST | {m / bare:.2f}x | {'yes' if m <= 1.1 * bare else 'no'} |",
    f"| mint at least 2x faster than curl piped to jq | {jq / m:.2f}x faster | {'yes' if jq >= 2 * m else 'no'} |",
    f"| exec overhead under 2 ms | {e_md - e_env:+.2f} ms | {'yes' if e_md - e_env < 2 else 'no'} |",
    f"| peak RSS of mint no more than curl's | {rss['mdcred token create']} vs {rss['curl POST (bare)']} KiB | "
    f"{'yes' if rss['mdcred token create'] <= rss['curl POST (bare)'] else 'no'} |",
    "",
]
pl = load("plugin.json")
c, g = pl["c"], pl["go"]


def prow(name, cv, gv, unit=""):
    return f"| {name} | {cv:.2f}{unit} | {gv:.2f}{unit} | {cv / gv:.2f}x |"


lines += [
    "## The Vault plugin vs the Go reference plugin (same Go host, go-plugin client)",
    "",
    f"Spawn: median of {pl['spawns']} mounts each, alternating. Round trips: "
    f"{pl['requests']} `read config` HandleRequest calls (each one Storage.Get over "
    "the broker). Memory: the plugin's VmRSS after the 1-caller run.",
    "",
    "| measure | C plugin | Go reference | C / Go |",
    "|---|---|---|---|",
    prow("spawn to first answered Backend call, ms", c["spawn_to_setup_ms"], g["spawn_to_setup_ms"]),
    prow("HandleRequest median, 1 caller, ms", c["c1"]["median_ms"], g["c1"]["median_ms"]),
    prow("HandleRequest p99, 1 caller, ms", c["c1"]["p99_ms"], g["c1"]["p99_ms"]),
    prow("HandleRequest median, 32 callers, ms", c["c32"]["median_ms"], g["c32"]["median_ms"]),
    prow("HandleRequest p99, 32 callers, ms", c["c32"]["p99_ms"], g["c32"]["p99_ms"]),
    prow("resident memory after the requests, MiB", c["rss_kb_after"] / 1024, g["rss_kb_after"] / 1024),
    prow("binary size, MiB", c["binary_bytes"] / 1048576, g["binary_bytes"] / 1048576),
    "",
    "| plugin target | measured | met |",
    "|---|---|---|",
    f"| start in at most a third of the Go plugin's time | {c['spawn_to_setup_ms'] / g['spawn_to_setup_ms']:.2f}x | "
    f"{'yes' if c['spawn_to_setup_ms'] * 3 <= g['spawn_to_setup_ms'] else 'no'} |",
    f"| at most a quarter of its memory | {c['rss_kb_after'] / g['rss_kb_after']:.2f}x | "
    f"{'yes' if c['rss_kb_after'] * 4 <= g['rss_kb_after'] else 'no'} |",
    f"| per-request latency no worse than Go's (median, 1 and 32 callers) | "
    f"{c['c1']['median_ms'] / g['c1']['median_ms']:.2f}x, {c['c32']['median_ms'] / g['c32']['median_ms']:.2f}x | "
    f"{'yes' if c['c1']['median_ms'] <= g['c1']['median_ms'] and c['c32']['median_ms'] <= g['c32']['median_ms'] else 'no'} |",
    "",
]
notes_path = os.path.join(os.path.dirname(__file__), "NOTES.md")
if os.path.exists(notes_path):
    with open(notes_path) as f:
        lines += [f.read().rstrip(), ""]
with open(os.path.join(os.path.dirname(__file__), "RESULTS.md"), "w") as f:
    f.write("\n".join(lines))
print("\n".join(lines))
