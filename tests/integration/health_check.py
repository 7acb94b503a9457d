#!/usr/bin/python3
"""The standard gRPC health check (grpc.health.v1.Health/Check), as Kubernetes' grpc probe
and grpc_health_probe make it, without generated stubs: the request and the answer are
small enough to encode by hand (HealthCheckRequest{service = 1}, HealthCheckResponse
{status = 1}: UNKNOWN 0, SERVING 1, NOT_SERVING 2, SERVICE_UNKNOWN 3).

usage: health_check.py HOST:PORT [SERVICE]   prints SERVING, NOT_SERVING, ... or the gRPC
                                             status code of a failed call (e.g. NOT_FOUND)
       health_check.py --watch HOST:PORT      Watch: prints each status as it comes, then
                                             "END" and the stream's final status code
"""
import sys

import grpc

NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def status_of(answer):
    """The status of a HealthCheckResponse: field 1, a varint (absent when 0)."""
    status = answer[1] if len(answer) >= 2 and answer[0] == 0x08 else 0
    return NAMES.get(status, str(status))


watch = sys.argv[1] == "--watch"
args = sys.argv[2:] if watch else sys.argv[1:]
address = args[0]
service = args[1].encode() if len(args) > 1 else b""
assert len(service) < 128, "one-byte length only"
request = b"\x0a" + bytes([len(service)]) + service if service else b""
if watch:
    with grpc.insecure_channel(address) as channel:
        stream = channel.unary_stream("/grpc.health.v1.Health/Watch",
                                      request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)(request, timeout=60)
        try:
            for answer in stream:
                print(status_of(answer), flush=True)
            print("END OK", flush=True)
        except grpc.RpcError as e:
            print("END " + e.code().name, flush=True)
    sys.exit(0)
with grpc.insecure_channel(address) as channel:
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    try:
        answer = check(request, timeout=10)
    except grpc.RpcError as e:
        print(e.code().name)
        sys.exit(0)
print(status_of(answer))
