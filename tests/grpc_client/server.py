#!/usr/bin/python3
"""Test-only gRPC server for tests/unit/test_grpc_client.c.

usage: server.py SOCKET_PATH KEY_PEM CERT_PEM CLIENT_CERT_PEM

Serves on the Unix socket SOCKET_PATH with mutual TLS (the client must
present CLIENT_CERT_PEM, which is also the only trusted root) and generic
handlers that treat messages as raw bytes:
  /test.Echo/Unary   echoes the request
  /test.Echo/Status  request "CODE:message" -> that status and message
  /test.Echo/Slow    sleeps 200 ms, then echoes
  /test.Echo/Hold    echoes only when the call goes away (reset, closed, or
                     the server killed): a call the test knows is in flight
  /test.Echo/Together  echoes once N calls (N: the request's first word) are
                     in it at once: calls made one after the other never are
  /test.Echo/Count   the count the request names, in ASCII: "slow", the Slow
                     calls the server is not done with; "held", the Hold
                     calls it holds
Tests wait for a state (these counts), never for a while.
Runs until killed. Needs Debian's python3-grpcio (run with /usr/bin/python3).
"""
import sys
import threading
import time
from concurrent import futures

import grpc

MAX_MSG = 64 << 20
HANG = 60  # seconds; a bound against a hang only


def ident(b):
    return b


def unary(request, context):
    return request


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = {"slow": 0, "held": 0}

    def add(self, name, d):
        with self.lock:
            self.n[name] += d

    def get(self, name):
        with self.lock:
            return self.n.get(name, -1)


COUNTS = Counts()


def when_over(context, fn):
    """Calls fn once the call is over on the server's side: its status sent
    and the stream closed, or the call cancelled."""
    if not context.add_callback(fn):
        fn()  # it is over already


def slow(request, context):
    # A call is "slow" from here until both the handler returned and the
    # call is over. Whichever comes second ends it: a cancelled call sends
    # nothing after its handler returns, and a call that was not cancelled
    # is over only once its answer and status are sent. Either way, the
    # server sends nothing more for it.
    COUNTS.add("slow", 1)
    left = [2]
    lock = threading.Lock()

    def one_done():
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            COUNTS.add("slow", -1)

    when_over(context, one_done)
    # A slow handler (behaviour under test: timeouts shorter and longer
    # than it, calls that overlap), not a wait for a state.
    time.sleep(0.2)
    one_done()
    return request


def hold(request, context):
    gone = threading.Event()
    when_over(context, gone.set)
    COUNTS.add("held", 1)
    gone.wait()
    COUNTS.add("held", -1)
    return request


BARRIERS = {}
BARRIERS_LOCK = threading.Lock()


def together(request, context):
    n = int(request.split()[0])
    with BARRIERS_LOCK:
        barrier = BARRIERS.setdefault(n, threading.Barrier(n))
    try:
        barrier.wait(HANG)
    except threading.BrokenBarrierError:
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                      "the %d calls never were all in at once" % n)
    return request


def count(request, context):
    return b"%d" % COUNTS.get(request.decode())


def status(request, context):
    text = request.decode("utf-8")
    code_s, _, message = text.partition(":")
    code = int(code_s)
    for sc in grpc.StatusCode:
        if sc.value[0] == code:
            context.abort(sc, message)
    context.abort(grpc.StatusCode.UNKNOWN, "no such code " + code_s)


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    sock, key_path, cert_path, client_cert_path = sys.argv[1:]
    with open(key_path, "rb") as f:
        key = f.read()
    with open(cert_path, "rb") as f:
        cert = f.read()
    with open(client_cert_path, "rb") as f:
        client_cert = f.read()

    def h(fn):
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=ident, response_serializer=ident)

    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Unary": h(unary), "Status": h(status), "Slow": h(slow),
                      "Hold": h(hold), "Together": h(together), "Count": h(count)})
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=256),
        handlers=[handler],
        options=[
            ("grpc.max_receive_message_length", MAX_MSG),
            ("grpc.max_send_message_length", MAX_MSG),
        ],
    )
    creds = grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_cert, require_client_auth=True)
    if server.add_secure_port("unix:" + sock, creds) == 0:
        sys.stderr.write("server.py: cannot listen on %s\n" % sock)
        return 1
    server.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
