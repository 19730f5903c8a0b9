#!/usr/bin/env python3
"""fake_vault.py - a faithful fake of Vault's / OpenBao's KV v2 API for tests.

Serves on 127.0.0.1 (HTTP, or HTTPS with --tls-cert/--tls-key) and prints its
base URL ("http://127.0.0.1:PORT") on stdout once it is ready. Like Vault it
checks X-Vault-Token on every /v1/ request except the login endpoints, and
X-Vault-Namespace (when given) must name a namespace it knows.

  KV v2 at each --kv-mount (default "secret"), per namespace:
    POST|PUT /v1/<mount>/data/<path>   {"data":{...},"options":{"cas":N}}
    GET      /v1/<mount>/data/<path>[?version=N]
    DELETE   /v1/<mount>/data/<path>   (soft delete of the latest version)
    GET      /v1/<mount>/metadata/<path>
  Auth:
    POST /v1/auth/<approle-mount>/login     {"role_id","secret_id"}
    POST /v1/auth/<k8s-mount>/login         {"role","jwt"}
    GET  /v1/auth/token/lookup-self
  Errors are {"errors":["..."]} with Vault's status codes.

Control plane (outside /v1/, unauthenticated, test-only):
  POST /_fake/faults  {"method","path" (prefix),"status","retry_after",
                       "action": "status"|"drop"|"drop_after"|"delay"|"hold"|"bump"|"reflect",
                       "delay_ms","count" (default 1, -1 forever),"message","echo","cut"}
      status:     answer status (with Retry-After if given), do nothing
      drop:       read the request, close the connection without an answer
      drop_after: process the request, then close without an answer
      delay:      sleep delay_ms, then process
      hold:       wait for POST /_fake/release (or a reset), at most delay_ms
                  (default 60000), then process
      bump:       another writer writes a new version of the path, then
                  the request is processed (a cas conflict for a writer
                  that read before)
      reflect:    a hostile Vault: answers status (default 403) without doing
                  anything, its errors echoing the request's credentials, by
                  "echo":
                    auth      ["permission denied: X-Vault-Token <token>"]
                    body      ["invalid request: <the raw request body>"]
                    values    ["bad value: <v>"] for each string in the body
                              (the pushed token among them); a body-less
                              request (a read) gets the auth one
                    straddle  pads, then "X-Vault-Token <token>", so that the
                              errors joined with "; " are cut at byte "cut"
                              (default 299) 8 bytes before the token's end
                    all       auth and values (the default)
  DELETE /_fake/faults, POST /_fake/reset (data, login tokens, faults, log;
      held requests released), POST /_fake/release (held requests go on)
  GET /_fake/state: versions per namespace/mount/path (each version's keys
      and the SHA-256 of each value, never a value), the request log
      (method, path, namespace, token kind, status), logins, the fault rules
      (count left), in_flight (requests being handled now: a delayed one
      counts until it is done; tests wait for 0 before they judge).

Never prints or logs a token or a stored value. Every token a login issues
is appended to --record-tokens FILE (the leak scan searches for them).
"""
import argparse
import datetime
import hashlib
import json
import secrets
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

sys.dont_write_bytecode = True  # no __pycache__ beside the fakes
from hold import generation, hold, release  # noqa: E402 (tests/fakes/hold.py)

LOCK = threading.RLock()  # reentrant: send() logs while a handler may hold it
ARGS = None
ROOT_TOKEN = None
APPROLES = {}  # role_id -> secret_id
K8S_ROLES = {}  # role -> jwt
NAMESPACES = {""}


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class State:
    def __init__(self):
        self.in_flight = 0  # requests being handled (a reset leaves it)
        self.reset()

    def reset(self):
        # kv[(ns, mount)][path] = {"current": N, "versions": {N: {...}}}
        self.kv = {}
        self.tokens = {}  # token -> {"ns": ns, "kind": "approle"|"kubernetes", ...}
        self.faults = []
        self.log = []
        self.logins = 0


STATE = State()


def sha(v):
    return hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest()


def record_token(tok):
    if ARGS.record_tokens:
        with open(ARGS.record_tokens, "a") as f:
            f.write(tok + "\n")


def ns_allows(token_ns, req_ns):
    """A token of namespace T may act in T and its children."""
    return token_ns == "" or req_ns == token_ns or req_ns.startswith(token_ns + "/")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeVault/1.0"

    def log_message(self, fmt, *args):  # request lines hold no secrets, but keep stderr quiet
        if ARGS.verbose:
            sys.stderr.write("fake_vault: %s %s\n" % (self.command, urlsplit(self.path).path))

    # --- plumbing ---------------------------------------------------------
    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        self._raw_len = len(raw)
        self._raw = raw
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return ValueError

    def send(self, status, obj=None, headers=None):
        data = b"" if obj is None else json.dumps(obj).encode()
        # The request is in the log before its answer leaves: a client that
        # has the answer (and a test that then reads /_fake/state) sees it.
        entry = getattr(self, "_entry", None)
        if entry is not None:
            entry["status"] = status
            self.log_entry(entry)
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._status = status

    def errors(self, status, *msgs):
        self.send(status, {"errors": list(msgs)})

    def drop(self):
        self.close_connection = True
        self._status = 0
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_DELETE(self):
        self.route()

    def do_PATCH(self):
        self.route()

    def do_LIST(self):
        self.route()

    # --- dispatch ---------------------------------------------------------
    def route(self):
        url = urlsplit(self.path)
        path = url.path
        self._status = None
        self._entry = None  # a kept-alive connection's handler serves many
        if path.startswith("/_fake/"):
            return self.control(path)
        with LOCK:
            STATE.in_flight += 1
        try:
            self.route_api(url, path)
        finally:
            with LOCK:
                STATE.in_flight -= 1

    def route_api(self, url, path):
        body = self.body_json()
        ns = (self.headers.get("X-Vault-Namespace") or "").strip("/")
        entry = {"method": self.command, "path": path, "namespace": ns, "token": "none",
                 "body_bytes": self._raw_len}
        self._entry = entry
        fault = self.take_fault(path)
        after_drop = False
        if fault:
            entry["fault"] = fault.get("action", "status")
            act = fault.get("action", "status")
            if act == "status":
                hdrs = {}
                if fault.get("retry_after") is not None:
                    hdrs["Retry-After"] = str(fault["retry_after"])
                self.send(int(fault.get("status", 503)),
                          {"errors": [fault.get("message", "injected fault")]}, hdrs)
                entry["status"] = self._status
                self.log_entry(entry)
                return
            if act == "reflect":
                self.send(int(fault.get("status", 403)), {"errors": self.reflect(fault, body)})
                entry["status"] = self._status
                self.log_entry(entry)
                return
            if act == "drop":
                entry["status"] = 0
                self.log_entry(entry)
                return self.drop()
            if act == "delay":
                time.sleep(int(fault.get("delay_ms", 1000)) / 1000.0)
            if act == "hold":
                hold(fault["gen"], int(fault.get("delay_ms", 60000)) / 1000.0)
            if act == "bump":
                self.bump(ns, path)
            after_drop = act == "drop_after"
        if after_drop:
            # Process, then lose the answer: write to a throwaway buffer.
            real = self.wfile
            import io
            self.wfile = io.BytesIO()
            self._entry = None  # logged below, as lost (status 0)
            self.dispatch(path, url.query, ns, body, entry)
            self.wfile = real
            entry["status"] = 0
            self.log_entry(entry)
            return self.drop()
        self.dispatch(path, url.query, ns, body, entry)
        entry["status"] = self._status
        self.log_entry(entry)

    def reflect(self, fault, body):
        """The errors of a reflect fault: the request's credentials echoed."""
        tok = self.headers.get("X-Vault-Token") or ""
        echo = fault.get("echo", "all")
        auth = ["permission denied: X-Vault-Token " + tok]
        values = ["bad value: " + v for v in string_leaves(body)] or auth
        if echo == "auth":
            return auth
        if echo == "body":
            return ["invalid request: " + self._raw.decode("utf-8", "replace")]
        if echo == "values":
            return values
        if echo == "straddle":
            tail = "X-Vault-Token " + tok
            room = int(fault.get("cut", 299)) + 8 - len(tok) - len("X-Vault-Token ")
            k = max(1, -(-room // 152))  # pads of at most 150, each then "; "
            total = room - 2 * k
            return ["p" * (total // k + (i < total % k)) for i in range(k)] + [tail]
        return auth + values

    def log_entry(self, e):
        # Once per request: send() may have logged it already.
        if getattr(self, "_logged", None) is e:
            return
        self._logged = e
        with LOCK:
            STATE.log.append(e)

    def take_fault(self, path):
        with LOCK:
            for f in STATE.faults:
                if f.get("method") and f["method"].upper() != self.command:
                    continue
                if not path.startswith(f.get("path", "")):
                    continue
                c = f.get("count", 1)
                if c == 0:
                    continue
                if c > 0:
                    f["count"] = c - 1
                f["hits"] = f.get("hits", 0) + 1
                return dict(f, gen=generation())
        return None

    def bump(self, ns, path):
        parts = path.split("/")
        if len(parts) >= 5 and parts[1] == "v1" and parts[3] == "data":
            with LOCK:
                self.kv_store(ns, parts[2], "/".join(parts[4:]),
                              {"written_by": "another-writer"})

    def dispatch(self, path, query, ns, body, entry):
        if not path.startswith("/v1/"):
            return self.errors(404, "404 page not found")
        if ns and ns not in NAMESPACES:
            return self.errors(403, "permission denied")
        rest = path[len("/v1/"):]
        parts = rest.split("/")
        if body is ValueError:
            return self.errors(400, "failed to parse JSON input: invalid character")
        # Login endpoints need no token.
        if len(parts) == 3 and parts[0] == "auth" and parts[2] == "login" \
                and parts[1] in (ARGS.approle_mount, ARGS.k8s_mount):
            entry["token"] = "login"
            if self.command not in ("POST", "PUT"):
                return self.errors(405, "1 error occurred:\n\t* unsupported operation\n\n")
            return self.login(parts[1], ns, body or {})
        tok = self.headers.get("X-Vault-Token") or ""
        kind = self.token_kind(tok, ns)
        entry["token"] = kind
        if kind not in ("root", "login"):
            return self.errors(403, "permission denied")
        if rest == "auth/token/lookup-self" and self.command == "GET":
            return self.send(200, {"data": {"policies": ["root"] if kind == "root" else ["default"],
                                            "namespace_path": (ns + "/") if ns else ""}})
        if len(parts) >= 3 and parts[0] in ARGS.kv_mount and parts[1] in ("data", "metadata") \
                and all(parts[2:]):
            mount, what, spath = parts[0], parts[1], "/".join(parts[2:])
            if what == "data":
                return self.kv_data(ns, mount, spath, query, body)
            return self.kv_metadata(ns, mount, spath)
        return self.errors(404, 'no handler for route "%s". route entry not found.' % rest)

    def token_kind(self, tok, ns):
        if not tok:
            return "none"
        if secrets.compare_digest(tok, ROOT_TOKEN):
            return "root"
        with LOCK:
            t = STATE.tokens.get(tok)
        if t and ns_allows(t["ns"], ns):
            return "login"
        return "invalid"

    # --- auth -------------------------------------------------------------
    def login(self, mount, ns, body):
        if mount == ARGS.approle_mount:
            rid, sid = body.get("role_id"), body.get("secret_id")
            if not rid:
                return self.errors(400, "missing role_id")
            if rid not in APPROLES:
                return self.errors(400, "invalid role ID")
            if not sid or not secrets.compare_digest(str(sid), APPROLES[rid]):
                return self.errors(400, "invalid secret id")
            kind, meta = "approle", {"role_name": "role-" + rid[:4]}
        else:
            role, jwt = body.get("role"), body.get("jwt")
            if not role:
                return self.errors(400, "missing role")
            if not jwt:
                return self.errors(400, "missing jwt")
            if role not in K8S_ROLES:
                return self.errors(400, 'invalid role name "%s"' % role)
            if not secrets.compare_digest(str(jwt), K8S_ROLES[role]):
                return self.errors(403, "permission denied")
            kind, meta = "kubernetes", {"role": role}
        tok = "hvs." + secrets.token_urlsafe(24)
        record_token(tok)
        with LOCK:
            STATE.tokens[tok] = {"ns": ns, "kind": kind}
            STATE.logins += 1
        self.send(200, {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False,
                        "lease_duration": 0, "data": None, "wrap_info": None, "warnings": None,
                        "auth": {"client_token": tok, "accessor": secrets.token_hex(12),
                                 "policies": ["default", "mdcred"],
                                 "token_policies": ["default", "mdcred"], "metadata": meta,
                                 "lease_duration": 2764800, "renewable": True,
                                 "entity_id": str(uuid.uuid4()), "token_type": "service",
                                 "orphan": True}})

    # --- KV v2 ------------------------------------------------------------
    def kv_store(self, ns, mount, spath, data):
        """Writes a new version (caller holds LOCK); returns its metadata."""
        m = STATE.kv.setdefault((ns, mount), {})
        e = m.setdefault(spath, {"current": 0, "versions": {}, "created": now_iso()})
        e["current"] += 1
        v = {"data": data, "created_time": now_iso(), "deletion_time": "", "destroyed": False}
        e["versions"][e["current"]] = v
        while len(e["versions"]) > ARGS.max_versions:
            del e["versions"][min(e["versions"])]
        return self.version_meta(e["current"], v)

    @staticmethod
    def version_meta(n, v):
        return {"created_time": v["created_time"], "custom_metadata": None,
                "deletion_time": v["deletion_time"], "destroyed": v["destroyed"], "version": n}

    def wrap(self, data):
        return {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False,
                "lease_duration": 0, "data": data, "wrap_info": None, "warnings": None,
                "auth": None}

    def kv_data(self, ns, mount, spath, query, body):
        if self.command in ("POST", "PUT"):
            if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                return self.errors(400, "no data provided")
            opts = body.get("options") or {}
            cas = opts.get("cas") if isinstance(opts, dict) else None
            with LOCK:
                e = STATE.kv.get((ns, mount), {}).get(spath)
                cur = e["current"] if e else 0
                if cas is None and ARGS.cas_required:
                    return self.errors(400, "check-and-set parameter required for this call")
                if cas is not None:
                    if not isinstance(cas, int) or isinstance(cas, bool) or cas != cur:
                        return self.errors(400, "check-and-set parameter did not match the "
                                           "current version")
                meta = self.kv_store(ns, mount, spath, body["data"])
            return self.send(200, self.wrap(meta))
        if self.command == "GET":
            with LOCK:
                e = STATE.kv.get((ns, mount), {}).get(spath)
                if not e:
                    return self.errors(404)
                want = e["current"]
                q = parse_qs(query)
                if q.get("version") and q["version"][0] not in ("", "0"):
                    try:
                        want = int(q["version"][0])
                    except ValueError:
                        return self.errors(400, "invalid version")
                v = e["versions"].get(want)
                if not v:
                    return self.errors(404)
                meta = self.version_meta(want, v)
                if v["deletion_time"] or v["destroyed"]:
                    return self.send(404, self.wrap({"data": None, "metadata": meta}))
                return self.send(200, self.wrap({"data": v["data"], "metadata": meta}))
        if self.command == "DELETE":
            with LOCK:
                e = STATE.kv.get((ns, mount), {}).get(spath)
                if e and e["current"] in e["versions"]:
                    e["versions"][e["current"]]["deletion_time"] = now_iso()
            return self.send(204)
        return self.errors(405, "1 error occurred:\n\t* unsupported operation\n\n")

    def kv_metadata(self, ns, mount, spath):
        if self.command != "GET":
            return self.errors(405, "1 error occurred:\n\t* unsupported operation\n\n")
        with LOCK:
            e = STATE.kv.get((ns, mount), {}).get(spath)
            if not e:
                return self.errors(404)
            vers = {str(n): {"created_time": v["created_time"],
                             "deletion_time": v["deletion_time"], "destroyed": v["destroyed"]}
                    for n, v in e["versions"].items()}
            return self.send(200, self.wrap({
                "cas_required": ARGS.cas_required, "created_time": e["created"],
                "current_version": e["current"], "max_versions": 0,
                "oldest_version": min(e["versions"]) if e["versions"] else 0,
                "versions": vers}))

    # --- control plane ----------------------------------------------------
    def control(self, path):
        body = self.body_json()
        if path == "/_fake/faults" and self.command == "POST":
            if not isinstance(body, dict):
                return self.errors(400, "fault must be a JSON object")
            with LOCK:
                STATE.faults.append(body)
            return self.send(200, {"ok": True})
        if path == "/_fake/faults" and self.command == "DELETE":
            with LOCK:
                STATE.faults = []
            return self.send(200, {"ok": True})
        if path == "/_fake/reset" and self.command == "POST":
            with LOCK:
                STATE.reset()
            release()
            return self.send(200, {"ok": True})
        if path == "/_fake/release" and self.command == "POST":
            release()
            return self.send(200, {"ok": True})
        if path == "/_fake/state" and self.command == "GET":
            with LOCK:
                out = {}
                for (ns, mount), paths in STATE.kv.items():
                    for p, e in paths.items():
                        out.setdefault(ns or "root", {}).setdefault(mount, {})[p] = {
                            "current_version": e["current"],
                            "versions": [{"version": n, "deleted": bool(v["deletion_time"]),
                                          "keys": sorted(v["data"]),
                                          "sha256": {k: sha(x) for k, x in v["data"].items()}}
                                         for n, v in sorted(e["versions"].items())]}
                state = {"kv": out, "requests": list(STATE.log), "logins": STATE.logins,
                         "request_count": len(STATE.log), "in_flight": STATE.in_flight,
                         "faults": [{k: v for k, v in f.items()} for f in STATE.faults]}
            return self.send(200, state)
        return self.errors(404, "no such control path")


def string_leaves(v):
    """Every string in a JSON value (keys aside)."""
    if isinstance(v, str):
        return [v]
    if isinstance(v, dict):
        return [s for x in v.values() for s in string_leaves(x)]
    if isinstance(v, list):
        return [s for x in v for s in string_leaves(x)]
    return []


def pairs(items, what):
    out = {}
    for it in items or []:
        if ":" not in it:
            sys.exit("fake_vault: %s wants NAME:FILE" % what)
        name, fn = it.split(":", 1)
        with open(fn) as f:
            out[name] = f.read().strip()
    return out


def main():
    global ARGS, ROOT_TOKEN, APPROLES, K8S_ROLES
    ap = argparse.ArgumentParser(description="fake Vault KV v2 server for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--root-token-file", required=True)
    ap.add_argument("--namespace", action="append", default=[])
    ap.add_argument("--kv-mount", action="append", default=None)
    ap.add_argument("--cas-required", action="store_true")
    ap.add_argument("--max-versions", type=int, default=10)
    ap.add_argument("--approle", action="append", help="ROLE_ID:SECRET_ID_FILE")
    ap.add_argument("--approle-mount", default="approle")
    ap.add_argument("--k8s-role", action="append", help="ROLE:JWT_FILE")
    ap.add_argument("--k8s-mount", default="kubernetes")
    ap.add_argument("--record-tokens")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("-v", "--verbose", action="store_true")
    ARGS = ap.parse_args()
    ARGS.kv_mount = ARGS.kv_mount or ["secret"]
    with open(ARGS.root_token_file) as f:
        ROOT_TOKEN = f.read().strip()
    if not ROOT_TOKEN:
        sys.exit("fake_vault: the root token file is empty")
    APPROLES = pairs(ARGS.approle, "--approle")
    K8S_ROLES = pairs(ARGS.k8s_role, "--k8s-role")
    for ns in ARGS.namespace:
        parts = ns.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            NAMESPACES.add("/".join(parts[:i]))
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    scheme = "http"
    if ARGS.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    print("%s://127.0.0.1:%d" % (scheme, srv.server_address[1]), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
