#!/usr/bin/env python3
"""fake_k8s.py - a faithful fake of the Kubernetes API server's Secret API, for tests.

Python 3 standard library only. HTTPS on 127.0.0.1 with the certificate and
key the test made (--tls-cert/--tls-key); prints "https://127.0.0.1:PORT" on
stdout when ready.

API (bearer auth checked on every /api/ request against --token-file, one
token per line):
  GET    /api/v1/namespaces/NS/secrets            SecretList
  POST   /api/v1/namespaces/NS/secrets            create (201; 409 AlreadyExists)
  GET    /api/v1/namespaces/NS/secrets/NAME       Secret (404 NotFound)
  PATCH  /api/v1/namespaces/NS/secrets/NAME       application/merge-patch+json only
                                                  (415 otherwise); a stale
                                                  metadata.resourceVersion -> 409 Conflict;
                                                  immutable data -> 422 Invalid
  PUT    /api/v1/namespaces/NS/secrets/NAME       replace (resourceVersion checked if given)
  DELETE /api/v1/namespaces/NS/secrets/NAME       Status Success
Namespaces exist only if named with --namespace (repeatable; default
"default"); --deny NS makes every request in NS a 403 Forbidden for a valid
token. resourceVersion is one cluster-wide counter bumped on every change.
Errors are Status objects {"kind":"Status","apiVersion":"v1","metadata":{},
"status":"Failure","message","reason","details","code"}.

Control plane (no auth; never returns secret data):
  POST   /_fake/faults  {"method","path" (prefix),"status","retry_after",
                         "action": "status"|"drop"|"drop_after"|"delay"|"hold"|"bump"|"reflect",
                         "delay_ms","count" (default 1; -1 forever),"echo"}
           status: answer status with a Status object (request not processed);
           drop: close the connection without an answer (not processed);
           drop_after: process the request, then close without an answer;
           delay: wait delay_ms, then process normally;
           hold: wait for POST /_fake/release (or a reset), at most delay_ms
                 (default 60000), then process normally;
           bump: another writer changes the Secret named by the path first
                 (annotation fake.k8s.io/bumped, new resourceVersion), then process;
           reflect: a hostile API server: answers status (default 403) with a
                 Status object, not processing the request, that echoes the
                 request's credentials, by "echo":
                   auth    message "Unauthorized: Authorization: Bearer <token>"
                   reason  reason "<token>", message "denied"
                   body    message "invalid: <the raw request body>"
                   values  message "invalid data: <v>" for each data value,
                           decoded (the pushed token); a body-less request (a
                           read) gets the auth one
                   base64  the same with each data value as sent (base64)
                   all     auth, then values, in one message (the default).
  DELETE /_fake/faults  remove all fault rules
  POST   /_fake/bump    {"namespace","name"}: the same change as the bump action
  POST   /_fake/reset   forget every Secret, fault and logged request; release
                        held requests
  POST   /_fake/release held requests go on
  GET    /_fake/state   {"resource_version","namespaces","secrets":[{namespace,name,
                         resourceVersion,immutable,type,keys,annotations}],
                         "requests":[{method,path,status,content_type,auth}],
                         "request_count","faults","in_flight"}
           in_flight: API requests being handled now (a delayed one counts
           until it is done; tests wait for 0 before they judge)
It never prints a token or a Secret's data; its log lines are "METHOD PATH STATUS".
"""

import argparse
import base64
import binascii
import copy
import datetime
import hmac
import json
import re
import socketserver
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True  # no __pycache__ beside the fakes
from hold import generation, hold, release  # noqa: E402 (tests/fakes/hold.py)

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 409: "Conflict", 415: "UnsupportedMediaType",
           422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}
SA_USER = "system:serviceaccount:mdcred:rotator"


class ApiError(Exception):
    def __init__(self, code, message, reason=None, details=None):
        super().__init__(message)
        self.code, self.message = code, message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details


def status_obj(code, message, reason=None, details=None):
    o = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason or REASONS.get(code, "Unknown"), "code": code}
    if details:
        o["details"] = details
    return o


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class State:
    def __init__(self, tokens, namespaces, deny):
        self.lock = threading.Lock()
        self.tokens = tokens
        self.namespaces = set(namespaces)
        self.deny = set(deny)
        self.in_flight = 0  # API requests being handled (a reset leaves it)
        self.reset()

    def reset(self):
        self.rv = 1000
        self.secrets = {}  # (ns, name) -> object
        self.faults = []
        self.requests = []

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if f.get("method", "*") not in ("*", method):
                    continue
                if not path.startswith(f.get("path", "")):
                    continue
                if f["count"] == 0:
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                return dict(f, gen=generation())
        return None

    def bump(self, ns, name):
        """Another writer changes the Secret (caller holds the lock)."""
        obj = self.secrets.get((ns, name))
        if obj is None:
            return False
        ann = obj["metadata"].setdefault("annotations", {})
        ann["fake.k8s.io/bumped"] = str(int(ann.get("fake.k8s.io/bumped", "0")) + 1)
        obj["metadata"]["resourceVersion"] = self.next_rv()
        return True


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_secret(obj, name):
    """Validation the API server does on a Secret (raises ApiError 422/400)."""
    if obj.get("kind", "Secret") != "Secret" or obj.get("apiVersion", "v1") != "v1":
        raise ApiError(400, "the object is not a v1 Secret")
    if not SUBDOMAIN.match(name) or len(name) > 253:
        raise ApiError(422, 'Secret "%s" is invalid: metadata.name: Invalid value: a lowercase '
                       "RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                       "'-' or '.'" % name[:64], details={"name": name[:64], "kind": "Secret"})
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise ApiError(400, "data: expected an object")
    sd = obj.pop("stringData", None) or {}
    for k, v in sd.items():
        data[k] = base64.b64encode(str(v).encode()).decode()
    for k, v in data.items():
        if not DATA_KEY.match(k) or len(k) > 253:
            raise ApiError(422, 'Secret "%s" is invalid: data[%s]: Invalid value: a valid config '
                           "key must consist of alphanumeric characters, '-', '_' or '.'"
                           % (name, k[:64]))
        if not isinstance(v, str):
            raise ApiError(400, "data[%s]: expected a base64 string" % k[:64])
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            # The API server's decoding error: never echo the value.
            raise ApiError(400, "illegal base64 data in data[%s]" % k[:64]) from None
    obj["data"] = data
    obj.setdefault("type", "Opaque")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver/1.0"
    st = None  # State

    def log_message(self, fmt, *args):  # no default access log (it prints the request line)
        pass

    def log(self, status):
        # Paths hold names only, never data; headers and bodies are never logged.
        sys.stderr.write("fake_k8s: %s %s %s\n" % (self.command, self.path[:200], status))
        sys.stderr.flush()

    def send_json(self, code, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.log(code)
        return code

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def handle_any(self):
        raw = self.read_body()
        path = self.path.split("?", 1)[0]
        if path.startswith("/_fake/"):
            return self.control(path, raw)
        with self.st.lock:
            self.st.in_flight += 1
        try:
            self.handle_api(path, raw)
        finally:
            with self.st.lock:
                self.st.in_flight -= 1

    def handle_api(self, path, raw):
        fault = self.st.take_fault(self.command, path)
        if fault:
            action = fault.get("action", "status")
            if action == "drop":
                self.record(path, 0)
                self.log("dropped")
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if action == "status":
                code = int(fault.get("status", 500))
                extra = {}
                if fault.get("retry_after") is not None:
                    extra["Retry-After"] = str(fault["retry_after"])
                self.record(path, code)
                return self.send_json(code, status_obj(code, "injected fault"), extra)
            if action == "reflect":
                code = int(fault.get("status", 403))
                self.record(path, code)
                return self.send_json(code, self.reflect(code, fault.get("echo", "all"), raw))
            if action == "delay":
                time.sleep(int(fault.get("delay_ms", 1000)) / 1000.0)
            if action == "hold":
                hold(fault["gen"], int(fault.get("delay_ms", 60000)) / 1000.0)
            if action == "bump":
                m = re.match(r"^/api/v1/namespaces/([^/]+)/secrets/([^/]+)$", path)
                if m:
                    with self.st.lock:
                        self.st.bump(m.group(1), m.group(2))
        try:
            code, obj = self.api(path, raw)
        except ApiError as e:
            code, obj = e.code, status_obj(e.code, e.message, e.reason, e.details)
        self.record(path, code)
        if fault and fault.get("action") == "drop_after":
            self.log("%d dropped" % code)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_json(code, obj)

    def reflect(self, code, echo, raw):
        """The Status object of a reflect fault: the request's credentials echoed."""
        auth = "Unauthorized: Authorization: " + self.headers.get("Authorization", "")
        try:
            data = (json.loads(raw.decode("utf-8")) or {}).get("data") or {}
        except (UnicodeDecodeError, ValueError, AttributeError):
            data = {}
        sent = [str(v) for v in data.values()] if isinstance(data, dict) else []
        vals = []
        for v in sent:
            try:
                vals.append(base64.b64decode(v).decode("utf-8", "replace"))
            except (binascii.Error, ValueError):
                vals.append(v)
        if echo == "reason":
            return status_obj(code, "denied", self.headers.get("Authorization", "")[7:])
        values = "invalid data: " + "; ".join(vals) if vals else auth
        message = {"auth": auth, "body": "invalid: " + raw.decode("utf-8", "replace"),
                   "values": values,
                   "base64": "invalid data: " + "; ".join(sent) if sent else auth
                   }.get(echo, auth + "; " + values if vals else auth)
        return status_obj(code, message)

    def record(self, path, code):
        with self.st.lock:
            self.st.requests.append({
                "method": self.command, "path": path, "status": code,
                "content_type": self.headers.get("Content-Type", ""),
                "auth": self.auth_ok()})

    def auth_ok(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Bearer "):
            return False
        got = h[7:].strip().encode()
        ok = False
        for t in self.st.tokens:
            ok |= hmac.compare_digest(got, t.encode())
        return ok

    # ---- the API ----

    def api(self, path, raw):
        if not self.auth_ok():
            raise ApiError(401, "Unauthorized")
        m = re.match(r"^/api/v1/namespaces/([^/]+)/secrets(?:/([^/]+))?$", path)
        if not m:
            raise ApiError(404, "the server could not find the requested resource")
        ns, name = m.group(1), m.group(2)
        verb = {"GET": "get" if name else "list", "POST": "create", "PATCH": "patch",
                "PUT": "update", "DELETE": "delete"}.get(self.command)
        if verb is None or (name is None and verb != "list" and verb != "create") or \
                (name is not None and verb == "create"):
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if ns in self.st.deny:
            what = 'secrets "%s"' % name if name else "secrets"
            raise ApiError(403, '%s is forbidden: User "%s" cannot %s resource "secrets" in API '
                           'group "" in the namespace "%s"' % (what, SA_USER, verb, ns),
                           details={"name": name or "", "kind": "secrets"})
        body = None
        if verb in ("create", "patch", "update"):
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            want = "application/merge-patch+json" if verb == "patch" else "application/json"
            if ctype != want:
                raise ApiError(415, 'the body of the request was in an unknown format - accepted '
                               'media types include: %s' % want)
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise ApiError(400, "the request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise ApiError(400, "the request body is not a JSON object")
        with self.st.lock:
            return getattr(self, "op_" + verb)(ns, name, body)

    def not_found(self, name):
        return ApiError(404, 'secrets "%s" not found' % name, details={"name": name,
                                                                      "kind": "secrets"})

    def op_list(self, ns, _name, _body):
        items = [copy.deepcopy(o) for (n, _), o in sorted(self.st.secrets.items()) if n == ns]
        return 200, {"kind": "SecretList", "apiVersion": "v1",
                     "metadata": {"resourceVersion": str(self.st.rv)}, "items": items}

    def op_get(self, ns, name, _body):
        obj = self.st.secrets.get((ns, name))
        if obj is None:
            raise self.not_found(name)
        return 200, copy.deepcopy(obj)

    def op_create(self, ns, _name, body):
        if ns not in self.st.namespaces:
            raise ApiError(404, 'namespaces "%s" not found' % ns,
                           details={"name": ns, "kind": "namespaces"})
        meta = body.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            raise ApiError(422, "Secret is invalid: metadata.name: Required value: name or "
                           "generateName is required")
        name = str(meta["name"])
        if meta.get("namespace", ns) != ns:
            raise ApiError(400, "the namespace of the provided object does not match the "
                           "namespace sent on the request")
        if meta.get("resourceVersion"):
            raise ApiError(400, "resourceVersion should not be set on objects to be created")
        check_secret(body, name)
        if (ns, name) in self.st.secrets:
            raise ApiError(409, 'secrets "%s" already exists' % name, "AlreadyExists",
                           {"name": name, "kind": "secrets"})
        meta.update({"namespace": ns, "uid": str(uuid.uuid4()), "creationTimestamp": now(),
                     "resourceVersion": self.st.next_rv()})
        body["kind"], body["apiVersion"] = "Secret", "v1"
        self.st.secrets[(ns, name)] = body
        return 201, copy.deepcopy(body)

    def change(self, ns, name, old, new):
        """Common checks of PATCH and PUT; stores new (bumping the version) if it changed."""
        nm = new.setdefault("metadata", {})
        if not isinstance(nm, dict) or nm.get("name", name) != name or \
                nm.get("namespace", ns) != ns:
            raise ApiError(400, "the name or namespace of the object cannot change")
        if old.get("immutable"):
            if new.get("data") != old.get("data") or "stringData" in new:
                raise ApiError(422, 'Secret "%s" is invalid: data: Forbidden: field is immutable '
                               "when `immutable` is set" % name)
            if not new.get("immutable"):
                raise ApiError(422, 'Secret "%s" is invalid: immutable: Forbidden: field is '
                               "immutable when `immutable` is set" % name)
        if new.get("type", "Opaque") != old.get("type", "Opaque"):
            raise ApiError(422, 'Secret "%s" is invalid: type: Invalid value: field is '
                           "immutable" % name)
        check_secret(new, name)
        for k in ("uid", "creationTimestamp"):
            nm[k] = old["metadata"][k]
        nm["name"], nm["namespace"] = name, ns
        nm["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new != old:
            nm["resourceVersion"] = self.st.next_rv()
            self.st.secrets[(ns, name)] = new
        return 200, copy.deepcopy(new)

    def check_rv(self, name, old, given):
        if given is not None and str(given) != old["metadata"]["resourceVersion"]:
            raise ApiError(409, 'Operation cannot be fulfilled on secrets "%s": the object has '
                           "been modified; please apply your changes to the latest version and "
                           "try again" % name, "Conflict", {"name": name, "kind": "secrets"})

    def op_patch(self, ns, name, body):
        old = self.st.secrets.get((ns, name))
        if old is None:
            raise self.not_found(name)
        meta = body.get("metadata")
        self.check_rv(name, old, meta.get("resourceVersion") if isinstance(meta, dict) else None)
        return self.change(ns, name, old, merge_patch(old, body))

    def op_update(self, ns, name, body):
        old = self.st.secrets.get((ns, name))
        if old is None:
            raise self.not_found(name)
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        self.check_rv(name, old, meta.get("resourceVersion") or None)
        return self.change(ns, name, old, copy.deepcopy(body))

    def op_delete(self, ns, name, _body):
        if self.st.secrets.pop((ns, name), None) is None:
            raise self.not_found(name)
        self.st.next_rv()
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "details": {"name": name, "kind": "secrets"}}

    # ---- control plane ----

    def control(self, path, raw):
        try:
            body = json.loads(raw.decode() or "{}")
        except ValueError:
            return self.send_json(400, {"error": "bad json"})
        st = self.st
        with st.lock:
            if path == "/_fake/faults" and self.command == "POST":
                f = {"method": body.get("method", "*"), "path": body.get("path", "/api/"),
                     "action": body.get("action", "status"),
                     "status": int(body.get("status", 403 if body.get("action") == "reflect"
                                            else 500)),
                     "retry_after": body.get("retry_after"),
                     "delay_ms": int(body.get("delay_ms", 60000 if body.get("action") == "hold"
                                              else 1000)),
                     "count": int(body.get("count", 1)), "echo": body.get("echo", "all")}
                if f["action"] not in ("status", "drop", "drop_after", "delay", "hold", "bump",
                                       "reflect"):
                    return self.send_json(400, {"error": "unknown action"})
                st.faults.append(f)
                return self.send_json(200, {"ok": True})
            if path == "/_fake/faults" and self.command == "DELETE":
                st.faults = []
                return self.send_json(200, {"ok": True})
            if path == "/_fake/reset" and self.command == "POST":
                st.reset()
                release()
                return self.send_json(200, {"ok": True})
            if path == "/_fake/release" and self.command == "POST":
                release()
                return self.send_json(200, {"ok": True})
            if path == "/_fake/bump" and self.command == "POST":
                ok = st.bump(str(body.get("namespace")), str(body.get("name")))
                return self.send_json(200 if ok else 404, {"ok": ok})
            if path == "/_fake/state" and self.command == "GET":
                secrets = []
                for (ns, name), o in sorted(st.secrets.items()):
                    secrets.append({
                        "namespace": ns, "name": name,
                        "resourceVersion": o["metadata"]["resourceVersion"],
                        "immutable": bool(o.get("immutable")), "type": o.get("type"),
                        "keys": sorted((o.get("data") or {}).keys()),
                        "annotations": o["metadata"].get("annotations", {})})
                return self.send_json(200, {
                    "resource_version": str(st.rv), "namespaces": sorted(st.namespaces),
                    "secrets": secrets, "requests": st.requests,
                    "request_count": len(st.requests), "faults": st.faults,
                    "in_flight": st.in_flight})
        return self.send_json(404, {"error": "no such control endpoint"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    ssl_ctx = None

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the request's thread.
        request.settimeout(30)
        tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        sys.stderr.write("fake_k8s: connection error: %s\n" % type(e).__name__)
        sys.stderr.flush()


def main():
    ap = argparse.ArgumentParser(description="fake Kubernetes Secret API for tests")
    ap.add_argument("--tls-cert", required=True)
    ap.add_argument("--tls-key", required=True)
    ap.add_argument("--token-file", required=True, help="accepted bearer tokens, one a line")
    ap.add_argument("--namespace", action="append", default=[],
                    help="a namespace that exists (repeatable; default: default)")
    ap.add_argument("--deny", action="append", default=[],
                    help="namespace the tokens may not touch: 403 (repeatable)")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    with open(a.token_file, encoding="utf-8") as f:
        tokens = [ln.strip() for ln in f if ln.strip()]
    if not tokens:
        sys.exit("fake_k8s: --token-file holds no token")
    Handler.st = State(tokens, a.namespace or ["default"], a.deny)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.tls_cert, a.tls_key)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.ssl_ctx = ctx
    print("https://127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    socketserver.TCPServer.allow_reuse_address = True
    main()
