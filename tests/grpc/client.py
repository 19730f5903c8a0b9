#!/usr/bin/python3
"""client.py MODE SOCKET CERT - a real gRPC client (Debian's python3-grpcio)
driving the test server of tests/unit/test_grpc_server.c (set up in
grpc_server_util.h) over TLS on a Unix
socket. Raw methods with identity (bytes) serializers. Exit 0 and a last
line "ok MODE" on success; anything else is a failure (the reason on
stderr). Tests wait for a state, never for a while: a timeout here only
bounds a hang.

Methods the C test registers:
  /test.Svc/Echo      unary: the request back
  /test.Svc/Stream    server streaming: b"N" -> item-0 .. item-(N-1)
  /test.Svc/Count     client streaming: number of messages, as ASCII
  /test.Svc/Bidi      bidi: each message back as b"echo:" + msg
  /test.Svc/Together  unary: the request back, once 100 calls are in it at once
  /test.Svc/Fail      unary: INVALID_ARGUMENT "100% sure\\nnot \u00fcn\u00ef"
  /test.Svc/NoFinish  unary: handler returns without a status -> INTERNAL
  /test.Svc/Hold      bidi: answers b"held" to each message, holds open
  /test.Svc/Shutdown  unary: answers b"" and stops the server
  /test.Svc/Flood     server streaming: b"N" -> N messages of 1 MiB, message
                      i filled with byte i % 251 (more than the server's
                      send high-water mark: back-pressure)
"""
import os
import queue
import socket
import ssl
import sys
import threading
import time

import grpc

MODE, SOCK, CERT = sys.argv[1], sys.argv[2], sys.argv[3]
with open(CERT, "rb") as f:
    CERT_PEM = f.read()


HANG = 30  # seconds; a bound against a hang only, never a measure


def ident(b):
    return b


def fail(msg):
    print("FAIL %s: %s" % (MODE, msg), file=sys.stderr, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def channel():
    creds = grpc.ssl_channel_credentials(root_certificates=CERT_PEM)
    opts = [
        ("grpc.ssl_target_name_override", "localhost"),
        ("grpc.max_send_message_length", 100 << 20),
        ("grpc.max_receive_message_length", 100 << 20),
    ]
    return grpc.secure_channel("unix:" + SOCK, creds, opts)


def unary(ch, m):
    return ch.unary_unary(m, request_serializer=ident, response_deserializer=ident)


def expect_code(fn, code, details=None):
    try:
        r = fn()
    except grpc.RpcError as e:
        check(e.code() == code, "want %s, got %s (%s)" % (code, e.code(), e.details()))
        if details is not None:
            check(e.details() == details, "details %r, want %r" % (e.details(), details))
        return e
    fail("want %s, got a reply %r" % (code, r[:40]))


def mode_echo(ch):
    echo = unary(ch, "/test.Svc/Echo")
    check(echo(b"hello", timeout=10) == b"hello", "echo hello")
    check(echo(b"", timeout=10) == b"", "echo of an empty message")
    check(echo(bytes(range(256)), timeout=10) == bytes(range(256)), "binary echo")


def mode_stream(ch):
    st = ch.unary_stream("/test.Svc/Stream", request_serializer=ident,
                         response_deserializer=ident)
    got = list(st(b"7", timeout=10))
    check(got == [b"item-%d" % i for i in range(7)], "stream items %r" % got)
    check(list(st(b"0", timeout=10)) == [], "empty stream")
    cs = ch.stream_unary("/test.Svc/Count", request_serializer=ident,
                         response_deserializer=ident)
    check(cs(iter([b"m"] * 10), timeout=10) == b"10", "client streaming count")
    check(cs(iter([]), timeout=10) == b"0", "client streaming, no message")


def mode_bidi(ch):
    bidi = ch.stream_stream("/test.Svc/Bidi", request_serializer=ident,
                            response_deserializer=ident)
    q = queue.Queue()

    def reqs():
        while True:
            m = q.get()
            if m is None:
                return
            yield m

    call = bidi(reqs(), timeout=20)
    # Ping-pong: each answer arrives before the next request is sent, so the
    # server streams while the client stream is still open.
    for i in range(20):
        msg = b"ping-%d" % i
        q.put(msg)
        r = next(call)
        check(r == b"echo:" + msg, "bidi reply %r" % r)
    # Meanwhile unary calls on the same connection proceed.
    check(unary(ch, "/test.Svc/Echo")(b"x", timeout=10) == b"x", "echo during bidi")
    q.put(None)
    rest = list(call)
    check(rest == [], "bidi after half-close %r" % rest)
    check(call.code() == grpc.StatusCode.OK, "bidi status %s" % call.code())
    check(call.details() == "done", "bidi details %r" % call.details())


def mode_unknown(ch):
    expect_code(lambda: unary(ch, "/no.Such/Method")(b"x", timeout=10),
                grpc.StatusCode.UNIMPLEMENTED)
    st = ch.unary_stream("/no.Such/Stream", request_serializer=ident,
                         response_deserializer=ident)
    expect_code(lambda: list(st(b"", timeout=10)), grpc.StatusCode.UNIMPLEMENTED)
    # the connection is still good
    check(unary(ch, "/test.Svc/Echo")(b"y", timeout=10) == b"y", "echo after unknown")


def mode_errors(ch):
    expect_code(lambda: unary(ch, "/test.Svc/Fail")(b"", timeout=10),
                grpc.StatusCode.INVALID_ARGUMENT, "100% sure\nnot \u00fcn\u00ef")
    expect_code(lambda: unary(ch, "/test.Svc/NoFinish")(b"", timeout=10),
                grpc.StatusCode.INTERNAL)
    # A compressed message: we offer only identity.
    e = expect_code(lambda: unary(ch, "/test.Svc/Echo")(b"z" * 1000, timeout=10,
                                                       compression=grpc.Compression.Gzip),
                    grpc.StatusCode.UNIMPLEMENTED)
    check("compress" in e.details(), "compressed: details %r" % e.details())


def mode_big(ch):
    data = os.urandom(20 << 20)
    t = time.monotonic()
    r = unary(ch, "/test.Svc/Echo")(data, timeout=60)
    check(r == data, "20 MiB round trip differs (len %d)" % len(r))
    print("20 MiB round trip: %.2f s" % (time.monotonic() - t))
    fl = ch.unary_stream("/test.Svc/Flood", request_serializer=ident,
                         response_deserializer=ident)
    t = time.monotonic()
    n = 0
    for i, m in enumerate(fl(b"40", timeout=60)):
        check(m == bytes([i % 251]) * (1 << 20), "flood message %d" % i)
        n += 1
        if i == 0:
            # A slow reader (behaviour under test: the server must wait,
            # not queue), not a wait for a state.
            time.sleep(0.5)
    check(n == 40, "flood: %d messages" % n)
    print("40 x 1 MiB stream: %.2f s" % (time.monotonic() - t))


def mode_max(ch):
    data = os.urandom(64 << 20)  # exactly the limit
    t = time.monotonic()
    r = unary(ch, "/test.Svc/Echo")(data, timeout=120)
    check(r == data, "64 MiB round trip differs (len %d)" % len(r))
    print("64 MiB round trip: %.2f s" % (time.monotonic() - t))


def mode_toobig(ch):
    data = b"\0" * ((64 << 20) + 1)
    e = expect_code(lambda: unary(ch, "/test.Svc/Echo")(data, timeout=60),
                    grpc.StatusCode.RESOURCE_EXHAUSTED)
    check("limit" in e.details(), "too big: details %r" % e.details())
    check(unary(ch, "/test.Svc/Echo")(b"ok", timeout=10) == b"ok", "echo after too big")


def mode_concurrent(ch):
    # Together answers only once all 100 calls are in it at once: calls
    # made or served one after the other would not get an answer.
    tg = unary(ch, "/test.Svc/Together")
    futs = [tg.future(b"c%d" % i, timeout=HANG) for i in range(100)]
    for i, f in enumerate(futs):
        try:
            r = f.result()
        except grpc.RpcError as e:
            fail("call %d: %s %s" % (i, e.code(), e.details()))
        check(r == b"c%d" % i, "call %d" % i)


def mode_noalpn(_ch):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=CERT_PEM.decode())
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(HANG)
    raw.connect(SOCK)
    closed = False
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        check(s.selected_alpn_protocol() is None, "ALPN negotiated without offer")
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        closed = s.recv(100) == b""
    except (ssl.SSLError, ConnectionError, OSError) as e:
        closed = not isinstance(e, socket.timeout)
    check(closed, "the server kept a connection without ALPN h2 open")
    # The server is still fine for a proper client.
    check(unary(channel(), "/test.Svc/Echo")(b"a", timeout=10) == b"a", "echo after no-ALPN")


def mode_shutdown(ch):
    hold = ch.stream_stream("/test.Svc/Hold", request_serializer=ident,
                            response_deserializer=ident)
    ev = threading.Event()

    def reqs():
        yield b"hi"
        ev.wait(HANG)

    call = hold(reqs(), timeout=HANG)
    check(next(call) == b"held", "hold reply")
    result = {}

    def drain():
        try:
            for _ in call:
                pass
            result["code"] = call.code()
        except grpc.RpcError as e:
            result["code"] = e.code()

    th = threading.Thread(target=drain)
    th.start()
    r = unary(ch, "/test.Svc/Shutdown")(b"", timeout=10)
    check(r == b"", "shutdown reply %r" % r)
    th.join(HANG)
    ev.set()
    check(not th.is_alive(), "held stream did not end after shutdown")
    print("held stream ended with %s" % result.get("code"))


MODES = {
    "echo": mode_echo, "stream": mode_stream, "bidi": mode_bidi,
    "unknown": mode_unknown, "errors": mode_errors, "big": mode_big,
    "toobig": mode_toobig, "max": mode_max, "concurrent": mode_concurrent, "noalpn": mode_noalpn,
    "shutdown": mode_shutdown,
}

if __name__ == "__main__":
    if MODE not in MODES:
        fail("unknown mode")
    ch = channel()
    MODES[MODE](ch)
    ch.close()
    print("ok %s" % MODE, flush=True)
