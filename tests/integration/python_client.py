#!/usr/bin/python3
"""A client in another language: stubs generated from proto/ at run time, one task
submitted by name with MessagePack arguments, its MessagePack result read back.

usage: python_client.py PROTO_DIR OUT_DIR HOST:PORT [ROOT_CERTS.pem [CERT.pem KEY.pem]]
(prints "test.square(7) = 49"; with ROOT_CERTS.pem it connects with TLS, and with
CERT.pem and KEY.pem it presents that client certificate: mutual TLS)
"""
import os
import sys
import threading

proto_dir, out_dir, address = sys.argv[1:4]
root_certs = sys.argv[4] if len(sys.argv) > 4 else None
client_cert, client_key = sys.argv[5:7] if len(sys.argv) > 6 else (None, None)
os.makedirs(out_dir, exist_ok=True)
from grpc_tools import protoc  # noqa: E402

files = [os.path.join(proto_dir, "shoal", "v1", f) for f in ("task.proto", "service.proto")]
if protoc.main(["protoc", "-I" + proto_dir, "--python_out=" + out_dir,
                "--grpc_python_out=" + out_dir] + files) != 0:
    sys.exit("protoc failed")
sys.path.insert(0, out_dir)

import grpc  # noqa: E402
import msgpack  # noqa: E402
from shoal.v1 import service_pb2, service_pb2_grpc, task_pb2  # noqa: E402

done = threading.Event()


def requests():
    task = task_pb2.Task(id="python-client-1", name="test.square", args=msgpack.packb([7]))
    yield service_pb2.ClientMessage(submit=service_pb2.SubmitBatch(tasks=[task]))
    done.wait(60)  # keep the session open until the result is in


def read(path):
    with open(path, "rb") as f:
        return f.read()


if root_certs:
    credentials = grpc.ssl_channel_credentials(
        read(root_certs),
        private_key=read(client_key) if client_key else None,
        certificate_chain=read(client_cert) if client_cert else None)
    channel = grpc.secure_channel(address, credentials)
else:
    channel = grpc.insecure_channel(address)
stub = service_pb2_grpc.TaskServiceStub(channel)
call = stub.Session(requests())
for message in call:
    if message.WhichOneof("body") == "rejected":
        sys.exit("rejected: %s" % message.rejected.error.message)
    if message.WhichOneof("body") != "results":
        continue
    for result in message.results.results:
        if result.id == "python-client-1":
            # values: one MessagePack array of the results (items only when a call failed)
            value = msgpack.unpackb(result.values)[0] if result.values else msgpack.unpackb(result.items[0].value)
            print("test.square(7) = %r" % value, flush=True)
            done.set()
            call.cancel()
            sys.exit(0)
