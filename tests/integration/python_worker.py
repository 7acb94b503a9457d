#!/usr/bin/python3
"""A worker in another language, written from the comments in proto/shoal/v1/ alone:
a ZeroMQ DEALER speaking WorkerMessage / BrokerMessage frames, tasks run by name with
MessagePack arguments, their MessagePack results sent back in ResultBatches. (Where the
comments had left it guessing, they were completed, and this follows them: a time limit
or a dead task process fails the whole task, results sent lately go again after a
reconnect.)

usage: python_worker.py PROTO_DIR OUT_DIR tcp://HOST:PORT NAME [--slots=N]
                        [--queues=A,B] [--claim=TASK]

Prints "python-worker ready name=NAME slots=N" once the broker has welcomed it. Tasks:
py.add (sum of its arguments), py.fail (raises ValueError with its argument as the
message), py.echo (its argument), py.sleep (sleeps its argument in seconds, returns it),
py.gate (waits until the file named by its argument exists, returns the name).
--claim=TASK says in the hello that it runs TASK without having it (as a worker whose
registry changed would), so the broker sends it TASK and the worker answers
ERROR_KIND_NOT_REGISTERED. SIGTERM drains: Bye{draining}, the tasks held finish and
their results go out, then Bye{} and exit 0.
"""
import concurrent.futures
import os
import queue
import select
import signal
import socket
import sys
import time
import traceback
import uuid

proto_dir, out_dir, endpoint, name = sys.argv[1:5]
options = dict(a[2:].split("=", 1) for a in sys.argv[5:] if a.startswith("--") and "=" in a)
slots = int(options.get("slots", "1"))
prefetch = 1
queues = [q for q in options.get("queues", "default").split(",") if q]
claimed = [t for t in options.get("claim", "").split(",") if t]

os.makedirs(out_dir, exist_ok=True)
from grpc_tools import protoc  # noqa: E402

files = [os.path.join(proto_dir, "shoal", "v1", f) for f in ("task.proto", "worker.proto")]
if protoc.main(["protoc", "-I" + proto_dir, "--python_out=" + out_dir] + files) != 0:
    sys.exit("protoc failed")
sys.path.insert(0, out_dir)

import msgpack  # noqa: E402
import zmq  # noqa: E402
from shoal.v1 import task_pb2, worker_pb2  # noqa: E402

VERSION = 1
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20  # Welcome.max_message_bytes == 0
DRAIN_TIMEOUT_S = 30  # SIGTERM: how long held tasks may keep the worker
where = "%s:%d" % (socket.gethostname(), os.getpid())
instance = uuid.uuid4().hex  # one per process: tells a reconnect from a namesake


def log(text):
    print("python-worker %s: %s" % (name, text), file=sys.stderr, flush=True)


# --- the tasks -------------------------------------------------------------------------

def py_add(*args):
    return sum(args)


def py_fail(message):
    raise ValueError(message)


def py_echo(value):
    return value


def py_sleep(seconds):
    time.sleep(seconds)
    return seconds


def py_gate(path):
    while not os.path.exists(path):
        time.sleep(0.01)
    return path


TASKS = {"py.add": py_add, "py.fail": py_fail, "py.echo": py_echo, "py.sleep": py_sleep,
         "py.gate": py_gate}


# --- running one task -----------------------------------------------------------------

def utf8(text):
    """Protobuf strings must be UTF-8; an exception's text may not be."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error(kind, message, type_name=""):
    return task_pb2.TaskError(kind=kind, type_name=utf8(type_name), message=utf8(message),
                              where=where)


def call(fn, args):
    """One call: ("value", msgpack bytes) or ("error", TaskError) for its ItemOutcome."""
    try:
        value = fn(*args)
    except Exception as e:  # the task threw: REMOTE, with its type and message
        return "error", error(task_pb2.ERROR_KIND_REMOTE, str(e), type(e).__name__)
    try:
        return "value", msgpack.packb(value, use_bin_type=True, unicode_errors="surrogateescape")
    except Exception as e:
        return "error", error(task_pb2.ERROR_KIND_SERIALIZATION,
                              "result of %s: %s" % (fn.__name__, e))


def call_with_limit(fn, args, limit_ms):
    """call() in a forked child killed after limit_ms (the proto wants the process killed,
    and a Python thread cannot be). ("failure", TaskError) when it was killed or died."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, write the outcome, leave without cleanup
        os.close(read_fd)
        try:
            outcome, payload = call(fn, args)
            data = (b"v" + payload) if outcome == "value" else (b"e" + payload.SerializeToString())
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
        finally:
            os._exit(0)
    os.close(write_fd)
    data, deadline = b"", time.monotonic() + limit_ms / 1000.0
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "failure", error(task_pb2.ERROR_KIND_TIME_LIMIT,
                                        "ran past its time limit of %d ms" % limit_ms)
            chunk = pipe.read(1 << 16)
            if not chunk:
                break
            data += chunk
    os.waitpid(pid, 0)
    if data[:1] == b"v":
        return "value", data[1:]
    if data[:1] == b"e":
        return "error", task_pb2.TaskError.FromString(data[1:])
    # Its process died: WORKER_LOST, which the broker retries.
    return "failure", error(task_pb2.ERROR_KIND_WORKER_LOST, "the task's process died")


def run(task):
    """Runs `task` (one call, or a chunk of Task.items calls): its TaskResult."""
    result = task_pb2.TaskResult(id=task.id, lease=task.lease)
    fn = TASKS.get(task.name)
    if fn is None:  # a name it lacks fails the task as a whole
        message = "task '%s' is not registered on worker %s" % (task.name, name)
        result.failure.CopyFrom(error(task_pb2.ERROR_KIND_NOT_REGISTERED, message))
        return result
    n = max(1, task.items)
    try:
        # Strings inside MessagePack need not be UTF-8 (task.proto): keep odd bytes.
        args = msgpack.unpackb(task.args, raw=False, unicode_errors="surrogateescape")
        calls = [args] if task.items <= 1 else args
        if not isinstance(calls, list) or len(calls) != n or \
                not all(isinstance(a, list) for a in calls):
            raise ValueError("expected %s" % ("an array of arguments" if n == 1 else
                                              "an array of %d argument arrays" % n))
    except Exception as e:
        result.failure.CopyFrom(error(task_pb2.ERROR_KIND_SERIALIZATION,
                                      "arguments of %s: %s" % (task.name, e)))
        return result
    outcomes = []
    for a in calls:
        kind, payload = call_with_limit(fn, a, task.time_limit_ms) if task.time_limit_ms \
            else call(fn, a)
        if kind == "failure":  # the whole task (for a chunk, every call) fails
            result.failure.CopyFrom(payload)
            return result
        outcomes.append((kind, payload))
    if all(kind == "value" for kind, _ in outcomes):
        # values: one MessagePack array of the n results. Each is already packed, so
        # write the array header and splice them in.
        header = msgpack.Packer().pack_array_header(n)
        result.values = header + b"".join(payload for _, payload in outcomes)
    else:
        for kind, payload in outcomes:
            item = result.items.add()
            if kind == "value":
                item.value = payload
            else:
                item.error.CopyFrom(payload)
    return result


# --- the session ----------------------------------------------------------------------

class Worker:
    def __init__(self):
        self.context = zmq.Context()
        self.socket = None
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=slots)
        self.done = queue.Queue()  # TaskResults from the executor threads
        self.wake_r, self.wake_w = os.pipe()  # wakes the poller (results, signals)
        os.set_blocking(self.wake_w, False)
        self.held = {}  # id -> Task: received, result not yet sent
        self.outbox = []  # finished TaskResults not yet sent
        # (sent at, TaskResult) of the last 2 x liveness x heartbeat_ms: the broker
        # acknowledges no result, so these go again after a reconnect.
        self.recent = []
        self.welcomed = False
        self.ready_printed = False
        self.heartbeat_ms = 1000
        self.liveness = 3
        self.max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES
        self.last_sent = self.last_heard = time.monotonic()
        self.hello_sent_at = 0.0
        self.refused_until = None  # give-up time after the first Refused
        self.stopping = False  # SIGTERM seen
        self.draining_said = False

    def send(self, **body):
        message = worker_pb2.WorkerMessage(version=VERSION, **body)
        self.socket.send(message.SerializeToString())
        self.last_sent = time.monotonic()

    def connect(self):
        """A new DEALER (the old one, if any, dropped) and a hello on it."""
        if self.socket is not None:
            self.socket.close(linger=0)
        # What we sent lately may not have arrived: held again, sent again once welcomed.
        now, window = time.monotonic(), 2 * self.liveness * self.heartbeat_ms / 1000.0
        again = [r for t, r in self.recent if now - t <= window and r.id not in self.held]
        for r in again:
            self.held[r.id] = None
        self.outbox = again + self.outbox
        self.recent = []
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 2000)
        self.socket.connect(endpoint)
        self.welcomed = False
        self.hello()

    def hello(self):
        # Credit: the free places, counting every task held (running or finished but
        # not reported): slots x prefetch is the most the broker keeps for us.
        free = max(0, slots * prefetch - len(self.held))
        self.send(hello=worker_pb2.WorkerHello(
            name=name, queues=queues, tasks=sorted(set(TASKS) | set(claimed)), slots=slots,
            prefetch=prefetch, credit=0 if self.stopping else free,
            host=socket.gethostname(), pid=os.getpid(), running=list(self.held),  # as received
            instance=instance))
        self.hello_sent_at = self.last_heard = time.monotonic()

    def wake(self):
        try:
            os.write(self.wake_w, b"x")
        except BlockingIOError:
            pass  # already awake

    def finished(self, future):
        self.done.put(future.result())
        self.wake()

    def submit(self, task):
        def guarded():
            try:
                return run(task)
            except Exception:  # a bug here must still answer the task
                result = task_pb2.TaskResult(id=task.id, lease=task.lease)
                result.failure.CopyFrom(error(task_pb2.ERROR_KIND_OTHER, traceback.format_exc()))
                return result
        self.executor.submit(guarded).add_done_callback(self.finished)

    def flush(self):
        """Sends the finished results in ResultBatches within max_message_bytes, each
        granting as much credit as it frees (none once draining)."""
        while not self.done.empty():
            result = self.done.get()
            if result.ByteSize() > self.max_message_bytes:
                size = result.ByteSize()
                result = task_pb2.TaskResult(id=result.id, lease=result.lease)
                result.failure.CopyFrom(error(
                    task_pb2.ERROR_KIND_RESOURCE_EXHAUSTED,
                    "result of %d bytes exceeds the broker's limit of %d bytes" %
                    (size, self.max_message_bytes)))
            self.outbox.append(result)
        if not self.welcomed:
            return  # sent after the next Welcome
        while self.outbox:
            batch, size = [], 0
            while self.outbox and (not batch or size + self.outbox[0].ByteSize() + 16 <=
                                   self.max_message_bytes):
                size += self.outbox[0].ByteSize() + 16
                batch.append(self.outbox.pop(0))
            now = time.monotonic()
            for r in batch:
                self.held.pop(r.id, None)
                self.recent.append((now, r))
            window = 2 * self.liveness * self.heartbeat_ms / 1000.0
            self.recent = [(t, r) for t, r in self.recent if now - t <= window]
            credit = 0 if self.stopping else len(batch)
            self.send(results=worker_pb2.ResultBatch(results=batch, credit=credit))

    def on_message(self, data):
        message = worker_pb2.BrokerMessage()
        try:
            message.ParseFromString(data)
        except Exception:
            log("dropped a frame that does not parse")
            return
        if message.version != VERSION:
            log("dropped a frame of version %d" % message.version)
            return
        self.last_heard = time.monotonic()
        body = message.WhichOneof("body")
        if body == "welcome":
            w = message.welcome
            self.heartbeat_ms = w.heartbeat_ms or 1000
            self.liveness = w.liveness or 3
            self.max_message_bytes = w.max_message_bytes or DEFAULT_MAX_MESSAGE_BYTES
            self.welcomed = True
            self.refused_until = None
            self.draining_said = False  # a new session: say Bye{draining} again if stopping
            if not self.ready_printed:
                print("python-worker ready name=%s slots=%d" % (name, slots), flush=True)
                self.ready_printed = True
            self.flush()
        elif body == "tasks":
            for task in message.tasks.tasks:
                if task.id in self.held:
                    continue  # already running it (leased to us again after a reconnect)
                self.held[task.id] = task
                self.submit(task)
        elif body == "reconnect":
            # Every frame of ours in flight draws one: answer the first only (a second
            # hello would replace the first registration and lose what came between).
            if self.welcomed:
                log("broker does not know us (%s): hello again" % message.reconnect.reason)
                self.welcomed = False
                self.hello()
        elif body == "refused":
            now = time.monotonic()
            if self.refused_until is None:
                self.refused_until = now + message.refused.retry_ms / 1000.0
            if now >= self.refused_until:
                log("refused: %s" % message.refused.reason)
                sys.exit(3)
            self.welcomed = False
        elif body == "shutdown":
            log("broker shutting down (%s): will reconnect" % message.shutdown.reason)
            self.welcomed = False
            self.last_heard = time.monotonic()
        # heartbeat: last_heard is all it does

    def on_sigterm(self, *_):
        self.stopping = True
        self.stop_deadline = time.monotonic() + DRAIN_TIMEOUT_S
        self.wake()

    def loop(self):
        signal.signal(signal.SIGTERM, self.on_sigterm)
        self.connect()
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        poller.register(self.wake_r, zmq.POLLIN)
        while True:
            if self.stopping and not self.draining_said and self.welcomed:
                self.send(bye=worker_pb2.Bye(reason="SIGTERM", draining=True))
                self.draining_said = True
            # Held tasks (running, or results unsent: no broker welcomed us) keep a
            # stopping worker until they are out, or its drain timeout has passed.
            if self.stopping and (not self.held or time.monotonic() >= self.stop_deadline):
                self.flush()
                if self.welcomed:
                    self.send(bye=worker_pb2.Bye(reason="SIGTERM"))
                break
            timeout = self.heartbeat_ms / 2
            events = dict(poller.poll(timeout))
            if self.wake_r in events:
                os.read(self.wake_r, 4096)
            if self.socket in events:
                while self.socket.poll(0):
                    self.on_message(self.socket.recv())
            self.flush()
            now = time.monotonic()
            silent = now - self.last_heard
            lost_after = self.liveness * self.heartbeat_ms / 1000.0
            if not self.welcomed:
                # No Welcome yet (or Refused, or Shutdown): say hello again, on a fresh
                # connection, once a heartbeat period has passed.
                if now - self.hello_sent_at >= max(self.heartbeat_ms / 1000.0, 0.2):
                    poller.unregister(self.socket)
                    self.connect()
                    poller.register(self.socket, zmq.POLLIN)
            elif silent >= lost_after:
                log("broker silent for %.1f s: reconnecting" % silent)
                poller.unregister(self.socket)
                self.connect()
                poller.register(self.socket, zmq.POLLIN)
            elif now - self.last_sent >= self.heartbeat_ms / 1000.0:
                self.send(heartbeat=worker_pb2.Heartbeat(sent_unix_ms=int(time.time() * 1000)))
        self.executor.shutdown(wait=False)
        self.socket.close()  # linger: lets the Bye out
        self.context.term()


if __name__ == "__main__":
    Worker().loop()
