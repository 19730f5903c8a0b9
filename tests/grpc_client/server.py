#!/usr/bin/python3
"""Test-only gRPC server for tests/unit/test_grpc_client.c.

usage: server.py SOCKET_PATH KEY_PEM CERT_PEM CLIENT_CERT_PEM

Serves on the Unix socket SOCKET_PATH with mutual TLS (the client must
present CLIENT_CERT_PEM, which is also the only trusted root) and generic
handlers that treat messages as raw bytes:
  /test.Echo/Unary   echoes the request
  /test.Echo/Status  request "CODE:message" -> that status and message
  /test.Echo/Slow    sleeps 200 ms, then echoes
Runs until killed. Needs Debian's python3-grpcio (run with /usr/bin/python3).
"""
import sys
import time
from concurrent import futures

import grpc

MAX_MSG = 64 << 20


def ident(b):
    return b


def unary(request, context):
    return request


def slow(request, context):
    time.sleep(0.2)
    return request


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
        "test.Echo", {"Unary": h(unary), "Status": h(status), "Slow": h(slow)})
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
