#!/usr/bin/python3
"""The standard gRPC health check (grpc.health.v1.Health/Check), as Kubernetes' grpc probe
and grpc_health_probe make it, without generated stubs: the request and the answer are
small enough to encode by hand (HealthCheckRequest{service = 1}, HealthCheckResponse
{status = 1}: UNKNOWN 0, SERVING 1, NOT_SERVING 2, SERVICE_UNKNOWN 3).

usage: health_check.py HOST:PORT [SERVICE]   prints SERVING, NOT_SERVING, ... or the gRPC
                                             status code of a failed call (e.g. NOT_FOUND)
"""
import sys

import grpc

NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

address = sys.argv[1]
service = sys.argv[2].encode() if len(sys.argv) > 2 else b""
assert len(service) < 128, "one-byte length only"
request = b"\x0a" + bytes([len(service)]) + service if service else b""
with grpc.insecure_channel(address) as channel:
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    try:
        answer = check(request, timeout=10)
    except grpc.RpcError as e:
        print(e.code().name)
        sys.exit(0)
# Field 1, varint: 0x08 then the value (absent when 0).
status = answer[1] if len(answer) >= 2 and answer[0] == 0x08 else 0
print(NAMES.get(status, str(status)))
