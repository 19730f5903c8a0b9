#!/usr/bin/env python3
"""hostile_api.py - a hostile stand-in for MotherDuck's admin API, for tests.

Python 3 standard library only. Serves plain HTTP on 127.0.0.1 and prints its
base URL ("http://127.0.0.1:PORT") as the first line on stdout once it is
ready. It answers the admin API's paths (../shared/spec/motherduck-api.md):

  POST   /v1/users                          {"username"}       -> {"username"}
  DELETE /v1/users/{u}                                          -> {"username"}
  POST   /v1/users/{u}/tokens               {"name","token_type","ttl"} -> token object
  GET    /v1/users/{u}/tokens                                   -> {"tokens":[metadata]}
  DELETE /v1/users/{u}/tokens/{id}                              -> {}
  GET    /v1/users/{u}/instances                                -> Duckling config
  PUT    /v1/users/{u}/instances            {"config":{...}}    -> Duckling config
  GET    /v1/active_accounts                                    -> {"accounts":[...]}

Every /v1/ request must carry "Authorization: Bearer <admin token>", the
token being the one line of --admin-token-file (the only one accepted);
missing or wrong: 401 {"code":"UNAUTHORIZED"} as the real API answers. An
unknown account is a JSON 404 NOT_FOUND, an unknown path a plain-text 404.
After a reset there are two accounts: svc_hostile (with one token, id
SEED_ID below, whose value nobody knows) and svc_hostile_old.

Every token value it issues (good or bad) is appended to --record-tokens FILE
so the run's leak scan searches for it: each run of printable ASCII of 20
bytes or more in the value, cut to 256 bytes, one per line (a value with a
newline, an ESC or a 0xff byte is recorded as its printable pieces). Issued
values are random: every recorded piece holds random characters. It never
prints or logs a token; its log lines are "METHOD PATH STATUS".

Control plane (outside /v1/, no auth, test-only):
  POST /_hostile/reset            accounts as above, mode normal, logs emptied;
                                  a body {"mode": RULE} then sets RULE as
                                  /_hostile/mode would (one call per run)
  POST /_hostile/mode  {"mode": NAME, "method": "POST,PUT" (default: any),
                        "path": REGEX (searched in the path; default: any),
                        "count": N (matching requests it applies to; default
                        -1, forever), and the mode's own keys below}
      Requests the rule does not match are answered normally.
  GET  /_hostile/state            {"requests":[{"method","path","status",
                                   "hostile"}], "request_count",
                                   "deleted": ids revoked by a DELETE,
                                   "delete_requests": every id a DELETE named,
                                   "issued": [{"id","name","variant","live"}],
                                   "live_tokens": live tokens of all accounts,
                                   "stolen": {"hits","with_credential"},
                                   "users": [names], "mode": the rule}
                                  (ids and names only, never a value)
  GET  /_hostile/issued           {"tokens":[{"id","value_hex"}]}: the values
                                  issued since the reset, hex-encoded, for the
                                  test to search outputs for (test-only)
  ANY  /stolen                    the redirect target: counts hits, and those
                                  that carried an Authorization header or the
                                  admin token in the body; answers 200 {}

Modes:
  normal    a well-behaved API: tokens are JWT-shaped (three base64url parts).
  echo      {"status": 400|401|403|404|409|429|500|503|..., "shape": S}
            answers status without doing anything, echoing the request's
            credentials: the text "Authorization: <header> body: <request
            body>" goes, by shape, into
              message   {"code": C, "message": TEXT}
              issues    {"code": C, "message": "denied", "issues":[{"message":
                        "Authorization: <header>"}, {"message": "body: ..."}]}
              code      {"code": TEXT, "message": "denied"}
              escaped   {"code": C, "message": TEXT} with TEXT written with
                        "\\/" for "/" and every other letter or digit as a
                        \\u00XX escape: only the decoded string shows the token
              straddle  {"code": C, "message": pad, "issues":[{"message":
                        pad}, {"message": "Authorization: <header>"}]}, the
                        pads sized so that "CODE: message (issue; issue)" is
                        cut at byte "cut" (default 399) 8 bytes before the end
                        of the admin token (a client that cuts the line before
                        it redacts shows most of the token)
              text      text/plain TEXT
              html      text/html <html><body><h1>Error</h1><pre>TEXT</pre>...
            C is "code" if given, else NOT_FOUND for 404 and the status's
            usual code. A plain-text 404 ("text", "html") is the router's.
  redirect  {"status": 301|302|307|308}: answers status with Location:
            <base>/stolen, and does nothing.
  huge      {"size": bytes, default 17 MiB}: does the work, then answers 200
            with the normal answer plus a "pad" member making the body size
            bytes (more than a client's 16 MiB limit). A mint did happen.
  slow      {"rate": seconds per byte, default 1}: does the work, then sends
            the normal answer one byte at a time (Content-Length of the whole).
  bad_token {"variant": V}: a mint (POST .../tokens; the rule's default path)
            creates a live token with a real id and name, and answers with a
            value that is not a usable token:
              newline     JWT + "\\nLD_PRELOAD=/tmp/<hex>.so"
              esc         an ESC [2J and ESC ] 0;title BEL inside a JWT
              nonutf8     raw bytes 0xff 0xfe inside the JSON string
              not_jwt     "not-a-jwt-<hex>"
              two_parts   header.signature
              four_parts  header.payload.signature.signature
              bad_chars   base64 (not base64url) characters + / = in a part
              empty_part  header..signature
              empty       ""
              huge        a JWT-shaped value of 1 MiB
              dup_token   {"token": A, "token": B, ...}: two JWT-shaped values
              dup_id      {"id": decoy, "id": real, ...} with a good value
              dup_id_real_first  {"id": real, "id": decoy, ...}
              no_id       a good value and no "id" at all
            "issued" in the state says which id was really created.
  ctl       {"where": W}: control characters and terminal escapes (ESC [2J,
            ESC ] 0;title BEL, C1 0xC2 0x9B, DEL, CR, U+202E) in
              error     a 400 answer's code, message and issues
              list      the token list's names, types, dates and an id
              ducklings every Duckling field of the GET/PUT answer
              accounts  the active-accounts answer
              user      the username of a POST/DELETE /v1/users answer
              mint      a good mint's name, type and dates (the value is fine)
  dup       {"where": W}: duplicate keys in an answer that is otherwise
            normal:
              list        {"tokens": [...], "tokens": []}
              list_entry  each token's "id" twice (a decoy first)
              ducklings   "read_write" twice
              ducklings_size  "instance_size" twice inside read_write
              accounts    {"accounts": [...], "accounts": []}
              user        {"username": A, "username": B}
              error       a 404 {"code": "NOT_FOUND", "code": "CONFLICT", ...}
"""
import argparse
import base64
import json
import re
import secrets
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LOCK = threading.Lock()
ARGS = None
ADMIN = None
BASE = None
SEED_ID = "00000000-0000-4000-8000-00000000beef"
USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,254}$")
SIZES = ("pulse", "standard", "jumbo", "mega", "giga")
CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
         409: "CONFLICT", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_SERVER_ERROR",
         502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}
# ESC [2J, ESC ] 0;title BEL, C1 CSI (U+009B: 0xC2 0x9B in UTF-8), DEL, CR, U+202E.
NASTY = "\x1b[2J\x1b]0;pwned\x07\u009b31m\x7f\r\u202eevil"
JWT_HEAD = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # {"alg":"HS256","typ":"JWT"}
DEFAULT_PATHS = {"bad_token": r"^/v1/users/[^/]+/tokens$"}
DEFAULT_METHODS = {"bad_token": "POST"}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(pad=0):
    payload = b64u(json.dumps({"jti": secrets.token_hex(8)}).encode()) + "A" * pad
    return "%s.%s.%s" % (JWT_HEAD, payload, b64u(secrets.token_bytes(32)))


def now_iso(offset=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def record(value):
    """Appends the printable pieces (20+ bytes, cut to 256) of value to the record."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    pieces = [p[:256] for p in re.split(rb"[^\x21-\x7e]+", value) if len(p) >= 20]
    if ARGS.record_tokens and pieces:
        with open(ARGS.record_tokens, "ab") as f:
            f.write(b"".join(p + b"\n" for p in pieces))


def jstr(s):
    """A JSON string literal, raw UTF-8 (control characters escaped as JSON wants)."""
    return json.dumps(s, ensure_ascii=False)


def jdump(obj):
    return jstr(obj) if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)


def escaped(s):
    """s as a JSON string literal with "\\/" and every other alphanumeric as \\u00XX."""
    out, n = [], 0
    for c in s:
        if c == "/":
            out.append("\\/")
        elif c.isascii() and c.isalnum():
            n += 1
            out.append("\\u%04x" % ord(c) if n % 2 else c)
        else:
            out.append(json.dumps(c, ensure_ascii=False)[1:-1])
    return '"' + "".join(out) + '"'


class State:
    def __init__(self):
        self.reset()

    def reset(self):
        self.users = {}
        for u in ("svc_hostile", "svc_hostile_old"):
            self.add_user(u)
        self.users["svc_hostile"]["tokens"][SEED_ID] = {
            "id": SEED_ID, "name": "seed-token", "token_type": "read_write",
            "expire_at": now_iso(86400), "created_ts": now_iso(), "read_only": False,
            "live": True}
        self.log = []
        self.deleted = []
        self.delete_requests = []
        self.issued = []  # {"id","name","variant","value": bytes}
        self.stolen = {"hits": 0, "with_credential": 0}
        self.mode = {"mode": "normal"}

    def add_user(self, u):
        self.users[u] = {"tokens": {}, "ducklings": {
            "read_write": {"instance_size": "standard", "cooldown_seconds": 600},
            "read_scaling": {"instance_size": "pulse", "flock_size": 0}}}

    def take_rule(self, method, path):
        """The mode rule if it applies to this request (counting it down)."""
        m = self.mode
        if m.get("mode", "normal") == "normal":
            return None
        methods = m.get("method", DEFAULT_METHODS.get(m["mode"], ""))
        if methods and method not in [x.strip().upper() for x in methods.split(",")]:
            return None
        if not re.search(m.get("path", DEFAULT_PATHS.get(m["mode"], "")), path):
            return None
        c = m.get("count", -1)
        if c == 0:
            return None
        if c > 0:
            m["count"] = c - 1
        return m


STATE = State()


class Answer:
    """An answer: status, body bytes, content type, extra headers."""

    def __init__(self, status, body=b"", ctype="application/json", headers=None):
        self.status = status
        self.body = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
        self.ctype = ctype
        self.headers = headers or {}


def jans(status, obj):
    return Answer(status, jdump(obj))


def err(status, code, message):
    return jans(status, {"code": code, "message": message})


def not_found(what):
    return err(404, "NOT_FOUND", what)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile-api/1.0"

    def log_message(self, fmt, *args):  # the default access log is not wanted
        pass

    def log(self, status):
        # Paths hold names and ids only; headers and bodies are never logged.
        sys.stderr.write("hostile_api: %s %s %s\n" % (self.command, self.path[:200], status))
        sys.stderr.flush()

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    # --- plumbing -----------------------------------------------------------
    def send(self, a, slow=None):
        self.send_response(a.status)
        if a.body or a.status not in (204, 301, 302, 307, 308):
            self.send_header("Content-Type", a.ctype)
        self.send_header("Content-Length", str(len(a.body)))
        for k, v in a.headers.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            if slow:
                for i in range(len(a.body)):
                    self.wfile.write(a.body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(slow)
            else:
                for i in range(0, len(a.body), 1 << 20):
                    self.wfile.write(a.body[i:i + (1 << 20)])
        except OSError:
            self.close_connection = True  # the client gave up: so be it
        self.log(a.status)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        path = urlsplit(self.path).path
        if path.startswith("/_hostile/"):
            return self.send(self.control(path, raw))
        if path == "/stolen":
            return self.send(self.stolen(raw))
        hostile = False
        auth = self.headers.get("Authorization", "")
        if not path.startswith("/v1/"):
            a = Answer(404, "Not Found", "text/plain")
        elif not secrets.compare_digest(auth.encode(), ("Bearer " + ADMIN).encode()):
            a = err(401, "UNAUTHORIZED", "Invalid Credentials")
        else:
            with LOCK:
                rule = STATE.take_rule(self.command, path)
                rule = dict(rule) if rule else None
            hostile = rule is not None
            a = self.hostile(rule, path, raw, auth) if rule else self.api(path, raw, None)
        with LOCK:
            STATE.log.append({"method": self.command, "path": path, "status": a.status,
                              "hostile": hostile})
        slow = rule.get("rate", 1) if hostile and rule["mode"] == "slow" else None
        self.send(a, slow)

    def stolen(self, raw):
        with LOCK:
            STATE.stolen["hits"] += 1
            if self.headers.get("Authorization") or ADMIN.encode() in raw:
                STATE.stolen["with_credential"] += 1
        return jans(200, {})

    # --- hostile answers ----------------------------------------------------
    def hostile(self, rule, path, raw, auth):
        mode = rule["mode"]
        if mode == "echo":
            return echo_answer(rule, auth, raw)
        if mode == "redirect":
            return Answer(int(rule.get("status", 302)), b"", "text/plain",
                          {"Location": BASE + "/stolen"})
        if mode == "huge":
            a = self.api(path, raw, None)
            body = a.body.rstrip()
            size = int(rule.get("size", 17 << 20))
            if body.endswith(b"}") and body != b"{}":
                body = body[:-1] + b',"pad":"'
            else:
                body = b'{"pad":"'
            a.body = body + b"A" * max(0, size - len(body) - 2) + b'"}'
            a.status, a.ctype = 200, "application/json"
            return a
        if mode in ("ctl", "dup", "bad_token", "slow"):
            return self.api(path, raw, rule)
        return Answer(400, "unknown mode", "text/plain")

    # --- the API ------------------------------------------------------------
    def api(self, path, raw, rule):
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return err(400, "BAD_REQUEST", "the body is not JSON")
        where = rule.get("where") if rule else None
        mode = rule["mode"] if rule else "normal"
        if mode == "ctl" and where == "error":
            return jans(400, {"code": "BAD_REQUEST" + NASTY, "message": "bad " + NASTY,
                              "issues": [{"message": NASTY}]})
        if mode == "dup" and where == "error":
            return Answer(404, '{"code":"NOT_FOUND","code":"CONFLICT","message":"gone"}')
        parts = [unquote(p) for p in path[len("/v1/"):].split("/")]
        with LOCK:
            if parts == ["users"] and self.command == "POST":
                return self.user_create(body, mode, where)
            if parts == ["active_accounts"] and self.command == "GET":
                return accounts_answer(mode, where)
            if len(parts) < 2 or parts[0] != "users":
                return Answer(404, "Not Found", "text/plain")
            u = STATE.users.get(parts[1])
            if len(parts) == 2 and self.command == "DELETE":
                if not u:
                    return not_found("user not found")
                del STATE.users[parts[1]]
                return user_answer(parts[1], mode, where)
            rest, cmd = parts[2:], self.command
            if rest == ["tokens"] and cmd == "POST":
                return self.mint(u, parts[1], body, mode, rule) if u else not_found("no user")
            if rest == ["tokens"] and cmd == "GET":
                return list_answer(u, mode, where) if u else not_found("user not found")
            if len(rest) == 2 and rest[0] == "tokens" and cmd == "DELETE":
                STATE.delete_requests.append(rest[1])
                t = u["tokens"].get(rest[1]) if u else None
                if not t or not t["live"]:
                    return not_found("token not found")
                t["live"] = False
                STATE.deleted.append(rest[1])
                return jans(200, {})
            if rest == ["instances"] and cmd in ("GET", "PUT"):
                if not u:
                    return not_found("user not found")
                if cmd == "PUT":
                    cfg = body.get("config") if isinstance(body, dict) else None
                    if not isinstance(cfg, dict) or not all(
                            isinstance(cfg.get(k), dict) and cfg[k].get("instance_size") in SIZES
                            for k in ("read_write", "read_scaling")):
                        return err(400, "BAD_REQUEST", "invalid config")
                    u["ducklings"] = cfg
                return ducklings_answer(u["ducklings"], mode, where)
        return Answer(404, "Not Found", "text/plain")

    def user_create(self, body, mode, where):
        name = body.get("username") if isinstance(body, dict) else None
        if not isinstance(name, str) or not USERNAME.match(name):
            return err(400, "BAD_REQUEST", "invalid username")
        if name in STATE.users:
            return err(409, "CONFLICT", "user already exists")
        STATE.add_user(name)
        return user_answer(name, mode, where)

    def mint(self, u, username, body, mode, rule):
        name, ttype, ttl = body.get("name"), body.get("token_type", "read_write"), body.get("ttl")
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            return err(400, "BAD_REQUEST", "name is required")
        if ttype not in ("read_write", "read_scaling"):
            return err(400, "BAD_REQUEST", "invalid token_type")
        if ttl is not None and (not isinstance(ttl, int) or not 300 <= ttl <= 31536000):
            return err(400, "BAD_REQUEST", "ttl out of range")
        if any(t["live"] and t["name"] == name for t in u["tokens"].values()):
            return err(409, "CONFLICT", "a live token has this name")
        tid = str(uuid.uuid4())
        meta = {"id": tid, "name": name, "token_type": ttype, "created_ts": now_iso(),
                "read_only": ttype == "read_scaling"}
        if ttl is not None:
            meta["expire_at"] = now_iso(ttl)
        u["tokens"][tid] = dict(meta, live=True)
        variant = rule.get("variant", "") if mode == "bad_token" else "good"
        value, text = bad_token(variant, meta) if mode == "bad_token" else (jwt(), None)
        values = value if isinstance(value, list) else [value]
        for v in values:
            record(v)
        STATE.issued.append({"id": tid, "name": name, "variant": variant, "values": values})
        if text is None:
            obj = dict(meta, token=value)
            if mode == "ctl" and rule.get("where") == "mint":
                for k in ("name", "token_type", "created_ts", "expire_at"):
                    obj[k] = obj.get(k, "") + NASTY
            text = jdump(obj)
        return Answer(200, text)

    # --- control plane ------------------------------------------------------
    def control(self, path, raw):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return err(400, "BAD_REQUEST", "bad json")
        with LOCK:
            if path == "/_hostile/reset" and self.command == "POST":
                mode = body.get("mode") if isinstance(body, dict) else None
                if mode is not None and not mode_ok(mode):
                    return err(400, "BAD_REQUEST", "unknown mode")
                STATE.reset()
                if mode is not None:
                    STATE.mode = mode
                return jans(200, {"ok": True})
            if path == "/_hostile/mode" and self.command == "POST":
                if not mode_ok(body):
                    return err(400, "BAD_REQUEST", "unknown mode")
                STATE.mode = body
                return jans(200, {"ok": True})
            if path == "/_hostile/state" and self.command == "GET":
                live_ids = {i for u in STATE.users.values() for i, t in u["tokens"].items()
                            if t["live"]}
                return jans(200, {
                    "requests": STATE.log, "request_count": len(STATE.log),
                    "deleted": STATE.deleted, "delete_requests": STATE.delete_requests,
                    "issued": [{"id": i["id"], "name": i["name"], "variant": i["variant"],
                                "live": i["id"] in live_ids} for i in STATE.issued],
                    "live_tokens": len(live_ids), "stolen": STATE.stolen,
                    "users": sorted(STATE.users), "mode": STATE.mode})
            if path == "/_hostile/issued" and self.command == "GET":
                return jans(200, {"tokens": [{"id": i["id"], "value_hex": v.hex()}
                                             for i in STATE.issued for v in
                                             (x.encode("utf-8", "surrogateescape")
                                              if isinstance(x, str) else x
                                              for x in i["values"])]})
        return err(404, "NOT_FOUND", "no such control path")


def mode_ok(rule):
    return isinstance(rule, dict) and rule.get("mode") in (
        "normal", "echo", "redirect", "huge", "slow", "bad_token", "ctl", "dup")


# --- answers ----------------------------------------------------------------

def echo_answer(rule, auth, raw):
    status = int(rule.get("status", 400))
    shape = rule.get("shape", "message")
    code = rule.get("code", CODES.get(status, "ERROR"))
    body = raw.decode("utf-8", "replace")
    text = "Authorization: %s body: %s" % (auth, body)
    if shape == "message":
        return jans(status, {"code": code, "message": text})
    if shape == "issues":
        return jans(status, {"code": code, "message": "denied", "issues": [
            {"message": "Authorization: " + auth}, {"message": "body: " + body}]})
    if shape == "code":
        return jans(status, {"code": text, "message": "denied"})
    if shape == "escaped":
        return Answer(status, '{"code":%s,"message":%s}' % (jstr(code), escaped(text)))
    if shape == "straddle":
        # "CODE: MSG (PAD; Authorization: Bearer TOKEN)" cut at byte `cut`.
        cut = int(rule.get("cut", 399))
        start = cut + 8 - len(ADMIN)  # where the token must begin
        room = start - len("Authorization: Bearer ") - len(code) - len(": ") - len(" (") \
            - len("; ")
        msg = "m" * min(200, room // 2)
        return jans(status, {"code": code, "message": msg, "issues": [
            {"message": "p" * (room - len(msg))}, {"message": "Authorization: " + auth}]})
    if shape == "text":
        return Answer(status, text, "text/plain; charset=utf-8")
    if shape == "html":
        return Answer(status, "<html><body><h1>Error %d</h1><pre>%s</pre></body></html>"
                      % (status, text), "text/html")
    return Answer(400, "unknown shape", "text/plain")


def bad_token(variant, meta):
    """(value or [values], answer text or None for the usual object) of a variant."""
    good = jwt()
    head, payload, sig = good.split(".")
    sig2 = b64u(secrets.token_bytes(32))
    plain = {
        "newline": good + "\nLD_PRELOAD=/tmp/" + secrets.token_hex(12) + ".so",
        "esc": good[:60] + "\x1b[2J\x1b]0;" + secrets.token_hex(12) + "\x07" + good[60:],
        "not_jwt": "not-a-jwt-" + secrets.token_hex(16),
        "two_parts": head + "." + sig,
        "four_parts": good + "." + sig2,
        "bad_chars": "%s.%s.%s+/%s=" % (head, payload, sig[:20], sig[20:]),
        "empty_part": head + ".." + sig,
        "empty": "",
        "huge": jwt(pad=1 << 20),
    }
    fields = lambda: ",".join("%s:%s" % (jstr(k), jdump(v)) for k, v in meta.items() if k != "id")
    if variant in plain:
        return plain[variant], None
    if variant == "nonutf8":
        value = good[:60].encode() + b"\xff\xfe" + good[60:].encode()
        text = b'{"token":"' + value + b'","id":' + jstr(meta["id"]).encode() + b"," + \
            fields().encode() + b"}"
        return value, text
    if variant == "dup_token":
        other = jwt()
        return [good, other], '{"token":%s,"token":%s,"id":%s,%s}' % (
            jstr(good), jstr(other), jstr(meta["id"]), fields())
    if variant in ("dup_id", "dup_id_real_first"):
        ids = [str(uuid.uuid4()), meta["id"]]
        if variant == "dup_id_real_first":
            ids.reverse()
        return good, '{"token":%s,"id":%s,"id":%s,%s}' % (jstr(good), jstr(ids[0]),
                                                         jstr(ids[1]), fields())
    if variant == "no_id":
        return good, '{"token":%s,%s}' % (jstr(good), fields())
    raise ValueError("unknown variant")


def live_meta(u):
    return [{k: v for k, v in t.items() if k != "live"} for t in u["tokens"].values()
            if t["live"]]


def list_answer(u, mode, where):
    toks = live_meta(u)
    if mode == "ctl" and where == "list":
        toks.append({"id": str(uuid.uuid4()), "name": "n" + NASTY,
                     "token_type": "read_write" + NASTY, "expire_at": now_iso(60) + NASTY,
                     "created_ts": NASTY, "read_only": False})
        toks.append({"id": str(uuid.uuid4()) + NASTY, "name": "other", "token_type": "read_write",
                     "created_ts": now_iso(), "read_only": False})
    if mode == "dup" and where == "list":
        return Answer(200, '{"tokens":%s,"tokens":[]}' % jdump(toks))
    if mode == "dup" and where == "list_entry":
        return Answer(200, '{"tokens":[%s]}' % ",".join(
            '{"id":%s,%s}' % (jstr(str(uuid.uuid4())),
                              ",".join("%s:%s" % (jstr(k), jdump(v)) for k, v in t.items()))
            for t in toks))
    return jans(200, {"tokens": toks})


def ducklings_answer(cfg, mode, where):
    if mode == "ctl" and where == "ducklings":
        return jans(200, {"read_write": {"instance_size": "standard" + NASTY,
                                         "cooldown_seconds": 600},
                          "read_scaling": {"instance_size": NASTY, "flock_size": 4,
                                           NASTY: NASTY}})
    if mode == "dup" and where == "ducklings":
        return Answer(200, '{"read_write":%s,"read_write":{"instance_size":"giga"},'
                      '"read_scaling":%s}' % (jdump(cfg["read_write"]),
                                               jdump(cfg["read_scaling"])))
    if mode == "dup" and where == "ducklings_size":
        rw = dict(cfg["read_write"])
        size = rw.pop("instance_size")
        inner = ",".join("%s:%s" % (jstr(k), jdump(v)) for k, v in rw.items())
        return Answer(200, '{"read_write":{"instance_size":%s,"instance_size":"giga"%s},'
                      '"read_scaling":%s}' % (jstr(size), "," + inner if inner else "",
                                               jdump(cfg["read_scaling"])))
    return jans(200, cfg)


def accounts_answer(mode, where):
    accts = [{"username": u, "instances": [{"instance_type": "read_write",
                                            "status": "running"}]}
             for u in sorted(STATE.users)]
    if mode == "ctl" and where == "accounts":
        accts.append({"username": "svc" + NASTY, "instances": [{NASTY: NASTY}]})
    if mode == "dup" and where == "accounts":
        return Answer(200, '{"accounts":%s,"accounts":[]}' % jdump(accts))
    return jans(200, {"accounts": accts})


def user_answer(name, mode, where):
    if mode == "ctl" and where == "user":
        return jans(200, {"username": name + NASTY})
    if mode == "dup" and where == "user":
        return Answer(200, '{"username":%s,"username":"svc_decoy"}' % jstr(name))
    return jans(200, {"username": name})


def main():
    global ARGS, ADMIN, BASE
    ap = argparse.ArgumentParser(description="hostile MotherDuck admin API for tests")
    ap.add_argument("--admin-token-file", required=True)
    ap.add_argument("--record-tokens")
    ap.add_argument("--port", type=int, default=0)
    ARGS = ap.parse_args()
    with open(ARGS.admin_token_file, encoding="utf-8") as f:
        ADMIN = f.read().strip()
    if not ADMIN:
        sys.exit("hostile_api: the admin token file is empty")
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    BASE = "http://127.0.0.1:%d" % srv.server_address[1]
    print(BASE, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
