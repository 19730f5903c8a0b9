"""rotate_bench.py BUILD_DIR RUN_DIR - `make bench`'s rotation benchmark.

Rotates BENCH_ROLES (default 1000) roles against mdcred-emulator with
20 ms of latency injected into every API request (the emulator's "delay"
fault; other connections are not held up), two ways doing the same work
(mint, write a file, revoke the old token):

  - `mdcred rotate --config FILE --force` at each --parallel of
    BENCH_ROT_PARALLEL (default "8 16 64"), BENCH_ROT_RUNS times each
    (default 3), alternating; one role per account, one file store each,
    grace 0 and keep 1 so the old token is revoked in the same run;
  - bench/rot_loop.sh: the seed's curl | jq commands, one account after
    the other (once: it takes minutes).

Then each --parallel once more without the delay: mdcred's own cost.

Setup is not timed: its own emulator (recording every token it issues in
RUN_DIR/tokens.record, so tests/leakscan.sh covers this part too), the
accounts (created concurrently), a first untimed rotation of every role and
a first token per account for the loop (minted concurrently and written as
the loop writes them), so each timed run does the full work. Each run's API
requests are counted by the emulator (request_count) and its delayed
requests by the fault rule's remaining count; every timed run is checked
(every role rotated and its old token revoked, no account failed in the
loop), and at the end the API and the files must agree. Writes
RUN_DIR/rotate.json for report.py.

Token values go only to files under RUN_DIR/requested/ (the admin token's
header file for curl, the stores, the loop's files); none is printed or put
in argv.
"""
import atexit
import collections
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

b, run = sys.argv[1], os.path.abspath(sys.argv[2])
ROLES = int(os.environ.get("BENCH_ROLES", "1000"))
RUNS = int(os.environ.get("BENCH_ROT_RUNS", "3"))
PARALLEL = [int(p) for p in os.environ.get("BENCH_ROT_PARALLEL", "8 16 64").split()]
DELAY_MS = 20
FAULT_COUNT = 1000000
here = os.path.dirname(os.path.abspath(__file__))
md = os.path.abspath(os.path.join(b, "mdcred"))
emu_bin = os.path.abspath(os.path.join(b, "mdcred-emulator"))
req = os.path.join(run, "requested")
store_dir = os.path.join(req, "rot")           # mdcred's file stores
loop_dir = os.path.join(req, "rot-loop")       # the shell loop's files
state_dir = os.path.join(run, "rot-state")     # mdcred's locks
admin_file = os.path.join(req, "rot-admin.token")
header_file = os.path.join(req, "rot-auth.header")
conf = os.path.join(run, "rot.conf")
users = [f"rot_{i:05d}" for i in range(1, ROLES + 1)]
roles = [f"r{i:05d}" for i in range(1, ROLES + 1)]


def log(msg):
    print(f"rotate bench: {msg}", file=sys.stderr, flush=True)


for d in (req, store_dir, loop_dir, state_dir):
    os.makedirs(d, mode=0o700, exist_ok=True)
emu_log = open(os.path.join(run, "rot-emulator.log"), "w")
emu = subprocess.Popen([emu_bin, "--admin-token-file", admin_file,
                        "--record-tokens", os.path.join(run, "tokens.record")],
                       stdout=subprocess.PIPE, stderr=emu_log, text=True)
atexit.register(lambda: emu.poll() is None and emu.terminate())
url = emu.stdout.readline().strip()
if not url.startswith("http://"):
    sys.exit("rotate bench: the emulator did not start (see rot-emulator.log)")


def ctl(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(url + path, data=data, method=method)
    with urllib.request.urlopen(r, timeout=60) as f:
        return json.load(f)


def request_count():
    return ctl("GET", "/_emulator/state")["request_count"]


old_umask = os.umask(0o077)
with open(admin_file) as f, open(header_file, "w") as h:
    h.write(f"Authorization: Bearer {f.read().strip()}\n")
os.umask(old_umask)
with open(header_file) as f:
    auth = f.read().split(":", 1)[1].strip()


def api_post(path, body):
    r = urllib.request.Request(url + path, method="POST", data=json.dumps(body).encode(),
                               headers={"Authorization": auth,
                                        "Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=60) as f:
        return json.load(f)


def create(u):
    api_post("/v1/users", {"username": u})


def write_0600(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def prime_loop(u):
    """The loop's first round, as rot_loop.sh would write it (token file,
    id file), minus the revocation: there is nothing to revoke yet."""
    t = api_post(f"/v1/users/{u}/tokens",
                 {"name": f"loop-{u}-0", "token_type": "read_write", "ttl": 86400})
    write_0600(os.path.join(loop_dir, u + ".token"), t["token"] + "\n")
    write_0600(os.path.join(loop_dir, u + ".id"), t["id"] + "\n")


env = dict(os.environ, MOTHERDUCK_API_BASE_URL=url, MOTHERDUCK_ADMIN_TOKEN_FILE=admin_file)
results = {"roles": ROLES, "delay_ms": DELAY_MS, "runs": [], "mdcred": md}


def delay_on(on):
    ctl("DELETE", "/_emulator/faults")
    if on:
        ctl("POST", "/_emulator/faults",
            {"action": "delay", "delay_ms": DELAY_MS, "count": FAULT_COUNT})


def delayed_so_far():
    fs = ctl("GET", "/_emulator/faults")["faults"]
    return FAULT_COUNT - fs[0]["count"] if fs else FAULT_COUNT


def timed(kind, argv, label, parallel, delay, stdin=None, check=None):
    """Runs argv once with the delay on or off; returns the run's record."""
    delay_on(delay)
    n0 = request_count()
    out_path = os.path.join(run, f"rot-{label}.out")
    with open(out_path, "w") as out, open(os.path.join(run, f"rot-{label}.err"), "w") as err:
        t0 = time.monotonic()
        p = subprocess.run(argv, stdout=out, stderr=err, stdin=stdin, env=env)
        wall = time.monotonic() - t0
    delayed = delayed_so_far() if delay else 0
    delay_on(False)
    st = ctl("GET", "/_emulator/state")
    n = st["request_count"] - n0
    tail = st["requests"][-n:] if n <= len(st["requests"]) else []
    methods = dict(collections.Counter(r["method"] for r in tail))
    bad = sum(1 for r in tail if not 200 <= r["status"] < 300)
    rec = {"kind": kind, "label": label, "parallel": parallel, "delay": delay,
           "wall_s": wall, "exit": p.returncode, "requests": n, "by_method": methods,
           "non_2xx": bad, "delayed": delayed}
    if check:
        rec.update(check(out_path))
    if delay and delayed != n:
        sys.exit(f"rotate bench: {label}: {delayed} of {n} requests were delayed")
    log(f"{label}: {wall:.2f} s, exit {p.returncode}, {n} requests {methods}, "
        f"{delayed} delayed, {bad} not 2xx")
    results["runs"].append(rec)
    return rec


def check_mdcred(out_path):
    actions, revoked, errors = collections.Counter(), 0, 0
    with open(out_path) as f:
        for line in f:
            o = json.loads(line)
            actions[o["action"]] += 1
            revoked += o.get("revoked") or 0
            errors += o.get("error") is not None
    return {"actions": dict(actions), "revoked": revoked, "errors": errors}


# --- setup (not timed) ---
t0 = time.monotonic()
with ThreadPoolExecutor(16) as ex:
    list(ex.map(create, users))
with open(conf, "w") as f:
    f.write(f"# rotate_bench.py: {ROLES} roles, one account and one file store each.\n"
            "# grace 0, keep 1: the old token is revoked in the same run.\n"
            "ttl = 1d\ngrace = 0\nkeep = 1\n")
    for r, u in zip(roles, users):
        f.write(f"\n[{r}]\nusername = {u}\nstore = file://{store_dir}/{r}.json?format=json\n")
rot = [md, "rotate", "--config", conf, "--state-dir", state_dir, "--json"]
prime = timed("mdcred", rot + ["--parallel", "64"], "prime-mdcred", 64, False, check=check_mdcred)
if prime["exit"] != 0 or prime["actions"].get("rotated") != ROLES:
    sys.exit(f"rotate bench: the first rotate --config did not rotate every role: {prime}")
with ThreadPoolExecutor(16) as ex:
    list(ex.map(prime_loop, users))
loop = ["sh", os.path.join(here, "rot_loop.sh"), url, header_file, loop_dir]
log(f"setup: {ROLES} accounts, a token each for mdcred and the loop, {time.monotonic() - t0:.1f} s")

# --- timed runs ---
def rotate_all(p, label, delay):
    r = timed("mdcred", rot + ["--force", "--parallel", str(p)], label, p, delay,
              check=check_mdcred)
    if r["exit"] != 0 or r["actions"].get("rotated") != ROLES or r["revoked"] != ROLES:
        sys.exit(f"rotate bench: a timed run did not rotate and retire every role: {r}")


for i in range(RUNS):
    for p in PARALLEL:
        rotate_all(p, f"mdcred-p{p}-{i + 1}", True)
r = timed("loop", loop + ["1"] + users, "loop", 1, True)
if r["exit"] != 0:
    sys.exit(f"rotate bench: the shell loop failed for {r['exit']} accounts")
# The same work without injected latency: what is left is mdcred's own cost.
for p in PARALLEL:
    rotate_all(p, f"mdcred-p{p}-nodelay", False)

# --- the end state: every account has exactly the token each side wrote ---
st = ctl("GET", "/_emulator/state")
live = {u["username"]: [t for t in u["tokens"] if not t["revoked"] and not t["expired"]]
        for u in st["users"]}
wrong = 0
for r, u in zip(roles, users):
    with open(os.path.join(store_dir, r + ".json")) as f:
        md_id = json.load(f)["id"]
    with open(os.path.join(loop_dir, u + ".id")) as f:
        loop_id = f.read().strip()
    if sorted(t["id"] for t in live.get(u, [])) != sorted([md_id, loop_id]):
        wrong += 1
results["end_state_wrong_accounts"] = wrong
if wrong:
    sys.exit(f"rotate bench: {wrong} accounts' live tokens differ from what the files hold")
log(f"end state: every account has exactly its mdcred token and its loop token live")

emu.terminate()
emu.wait()
emu_log.close()
results["runs"] = [r for r in results["runs"] if not r["label"].startswith("prime-")]
with open(os.path.join(run, "rotate.json"), "w") as f:
    json.dump(results, f, indent=1)


def med(label_prefix):
    w = [r["wall_s"] for r in results["runs"] if r["label"].startswith(label_prefix)
         and r["delay"]]
    return statistics.median(w) if w else float("nan")


for p in PARALLEL:
    log(f"median mdcred --parallel {p}: {med(f'mdcred-p{p}-'):.2f} s")
log(f"loop: {med('loop'):.2f} s")
