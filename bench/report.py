"""report.py RUN_DIR - turns hyperfine's JSON and the RSS read-out into
bench/RESULTS.md (medians, ratios against the named baseline, targets)."""
import json
import os
import platform
import statistics
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


def rotation_section(rot):
    """The rotate --config benchmark (bench/rotate_bench.py's rotate.json)."""
    n, delay = rot["roles"], rot["delay_ms"]
    runs = rot["runs"]
    loop = [r for r in runs if r["kind"] == "loop" and r["delay"]][0]
    pars = sorted({r["parallel"] for r in runs if r["kind"] == "mdcred"})

    def walls(p, delayed=True):
        return [r for r in runs if r["kind"] == "mdcred" and r["parallel"] == p
                and r["delay"] == delayed]

    def methods(r):
        return ", ".join(f"{m} {c}" for m, c in sorted(r["by_method"].items()))

    loop_bound = loop["requests"] * delay / 1000
    out = [
        f"## Rotating {n} roles with {delay} ms of latency per request",
        "",
        f"`mdcred rotate --config` ({n} roles, one service account and one `file://` "
        "store each, `--force`, `grace = 0`, `keep = 1`) against a sequential shell "
        "loop of the seed's curl commands (`bench/rot_loop.sh`: `curl -X POST "
        ".../tokens | jq`, the token written to a 0600 file through a temporary file "
        "and `mv`, then `curl -X DELETE .../tokens/{old_id}`), both doing the same "
        "work per role: mint, write the file, revoke the token it replaces. "
        "`mdcred` also lists the account's tokens (for the freshness check and "
        "to find the role's old tokens by name) and reads every file back, as a "
        "rotation does. Every API "
        f"request is delayed {delay} ms by the emulator's `delay` fault (other "
        "connections are not held up); the emulator counts the requests and the "
        "delayed ones (equal in every run). Setup (accounts, a first rotation so "
        "each role has a token to replace) is not timed. Latency bound = requests "
        f"x {delay} ms / parallelism. Wall time: median of {len(walls(pars[0]))} "
        "runs for mdcred (all runs in brackets), one run of the loop.",
        "",
        "| run | parallel | wall s | API requests | latency bound s | wall / bound | loop / run |",
        "|---|---|---|---|---|---|---|",
    ]
    med = {}
    for p in pars:
        rs = walls(p)
        med[p] = statistics.median(r["wall_s"] for r in rs)
        req = rs[0]["requests"]
        bound = req * delay / 1000 / p
        out.append(f"| `mdcred rotate --config --parallel {p}` | {p} | {med[p]:.2f} "
                   f"({', '.join('%.2f' % r['wall_s'] for r in rs)}) | {req} ({methods(rs[0])}) | "
                   f"{bound:.2f} | {med[p] / bound:.2f}x | {loop['wall_s'] / med[p]:.1f}x |")
    out += [
        f"| shell loop of the seed's curl commands | 1 | {loop['wall_s']:.2f} | "
        f"{loop['requests']} ({methods(loop)}) | {loop_bound:.2f} | "
        f"{loop['wall_s'] / loop_bound:.2f}x | 1.0x |",
        "",
        "Without the injected latency (one run each, same work): " + ", ".join(
            f"`--parallel {p}` {walls(p, False)[0]['wall_s']:.2f} s" for p in pars if walls(p, False))
        + ".",
        "",
        "| rotation target | measured | met |",
        "|---|---|---|",
    ]
    ceiling = []
    for p in pars:
        bound = walls(p)[0]["requests"] * delay / 1000 / p
        ceiling.append(f"{loop['wall_s'] / bound:.1f}x at `--parallel {p}`")
        out += [
            f"| `--parallel {p}` at least 20x faster than the sequential loop | "
            f"{loop['wall_s'] / med[p]:.1f}x | {'yes' if loop['wall_s'] >= 20 * med[p] else 'no'} |",
            f"| `--parallel {p}` within 2x of the latency bound ({bound:.2f} s) | "
            f"{med[p] / bound:.2f}x | {'yes' if med[p] <= 2 * bound else 'no'} |",
        ]
    return out + [
        "",
        "The latency bound alone caps the speed-up over this loop (loop / bound) at "
        + ", ".join(ceiling) + ".",
        "",
    ]


rot_path = os.path.join(run, "rotate.json")
if os.path.exists(rot_path):
    lines += rotation_section(load("rotate.json"))
if os.path.exists(os.path.join(run, "deadlines.json")):
    dl = load("deadlines.json")
    broker = load("broker.json") if os.path.exists(os.path.join(run, "broker.json")) else {}
    lines += [
        "## Deadlines and prompt stops",
        "",
        "Wall time that the tests check only for the outcome (a test makes no "
        "claim about wall time):",
        "",
        "| what | measured | expected |",
        "|---|---|---|",
        f"| {dl['multi_free_rounds']} idle `md_http_multi` drivers freed while in their poll | "
        f"{dl['multi_free_ms']:.1f} ms in all, worst {dl['multi_free_worst_ms']:.1f} ms | "
        "far under 1 s a round (a lost wake-up costs the 1 s poll timeout) |",
    ]
    if "elapsed_ms" in broker:
        lines.append(f"| plugin setup with a broker id that never comes | "
                     f"{float(broker['elapsed_ms']):.0f} ms | about 5 s, then an error |")
    lines.append("")
notes_path = os.path.join(os.path.dirname(__file__), "NOTES.md")
if os.path.exists(notes_path):
    with open(notes_path) as f:
        lines += [f.read().rstrip(), ""]
with open(os.path.join(os.path.dirname(__file__), "RESULTS.md"), "w") as f:
    f.write("\n".join(lines))
print("\n".join(lines))
