#!/usr/bin/python3
"""Peer for shoal-bench's Q1, Q2, P1, M1, I1: the same workloads on Python's multiprocessing.

Prints `python-mp <workload> <metric> <value> <unit>` lines (median of --reps) on stdout,
each repetition on stderr prefixed with '#', like ../shared/peers.

  Q1_queue_1to1        one producer, one consumer, 64-byte items: items/s
  Q2_queue_2to2        two producers, two consumers, 64-byte items: items/s
  P1_pipe_rtt          64-byte send_bytes/recv_bytes ping-pong with a child: p50/p99 (us)
  M1_manager_dict_rtt  Manager dict set and get, alternating, each one sample: p50/p99 (us)
  I1_imap_chunk1       Pool(2).imap of x*x over range(n), chunksize 1, in order: tasks/s
"""
import argparse
import math
import multiprocessing as mp
import statistics
import sys
import time

PEER = "python-mp"
ITEM = 64


def now_us():
    return time.perf_counter_ns() / 1000.0


def make_item(i):
    return i.to_bytes(8, "little") + b"\x5a" * (ITEM - 8)


def consumer(q, out, lock):
    s = n = 0
    while True:
        b = q.get()
        if not b:
            break
        s += int.from_bytes(b[:8], "little")
        n += 1
    with lock:
        out[0] += s
        out[1] += n


def producer(q, first, step, n):
    for i in range(first, n, step):
        q.put(make_item(i))


def queue_run(producers, consumers, n):
    q = mp.Queue()
    lock = mp.Lock()
    out = mp.Array("q", 2, lock=False)
    takers = [mp.Process(target=consumer, args=(q, out, lock)) for _ in range(consumers)]
    for p in takers:
        p.start()
    makers = [mp.Process(target=producer, args=(q, k, producers, n)) for k in range(producers)]
    t0 = time.perf_counter()
    for p in makers:
        p.start()
    for p in makers:
        p.join()
    for _ in range(consumers):
        q.put(b"")
    for p in takers:
        p.join()
    elapsed = time.perf_counter() - t0
    if out[1] != n or out[0] != n * (n - 1) // 2:
        sys.exit("python-mp: queue lost or duplicated items")
    return {"throughput": (n / elapsed, "items/s")}


def percentile(sorted_samples, p):
    k = max(0, min(len(sorted_samples) - 1, math.ceil(p / 100.0 * len(sorted_samples)) - 1))
    return sorted_samples[k]


def latency(samples):
    samples.sort()
    return {"p50": (percentile(samples, 50), "us"), "p99": (percentile(samples, 99), "us")}


def echo(conn):
    while True:
        m = conn.recv_bytes()
        if not m:
            return
        conn.send_bytes(m)


def pipe_run(k):
    here, there = mp.Pipe()
    p = mp.Process(target=echo, args=(there,))
    p.start()
    there.close()
    msg = b"p" * ITEM
    for _ in range(200):
        here.send_bytes(msg)
        here.recv_bytes()
    samples = []
    for _ in range(k):
        t0 = now_us()
        here.send_bytes(msg)
        back = here.recv_bytes()
        samples.append(now_us() - t0)
        if len(back) != ITEM:
            sys.exit("python-mp: pipe echo mismatch")
    here.send_bytes(b"")
    p.join()
    return latency(samples)


def manager_run(manager, k):
    d = manager.dict()
    value = b"x" * ITEM
    for i in range(200):
        d[i % 100] = value
    samples = []
    for i in range(k):
        t0 = now_us()
        if i % 2 == 0:
            d[i % 100] = value
        elif len(d.get((i - 1) % 100)) != ITEM:
            sys.exit("python-mp: manager dict mismatch")
        samples.append(now_us() - t0)
    return latency(samples)


def sq(x):
    return x * x


def imap_run(pool, n):
    t0 = time.perf_counter()
    out = list(pool.imap(sq, range(n), 1))
    elapsed = time.perf_counter() - t0
    if out != [x * x for x in range(n)]:
        sys.exit("python-mp: imap results wrong")
    return {"throughput": (n / elapsed, "tasks/s")}


def measure(workload, reps, fn):
    values = {}
    units = {}
    for r in range(reps):
        m = fn()
        print("# raw %s %s rep=%d %s" % (PEER, workload, r + 1,
              " ".join("%s=%.6g" % (k, v[0]) for k, v in m.items())), file=sys.stderr)
        for k, (v, u) in m.items():
            values.setdefault(k, []).append(v)
            units[k] = u
    for k, vs in values.items():
        print("%s %s %s %.6g %s" % (PEER, workload, k, statistics.median(vs), units[k]))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workloads", default="Q1,Q2,P1,M1")
    ap.add_argument("--items", type=int, default=200_000, help="Q1/Q2 items")
    ap.add_argument("--round-trips", type=int, default=20_000, help="P1/M1 samples")
    ap.add_argument("--imap-items", type=int, default=1_000_000, help="I1 items")
    a = ap.parse_args()
    wl = set(a.workloads.split(","))
    if "Q1" in wl:
        measure("Q1_queue_1to1", a.reps, lambda: queue_run(1, 1, a.items))
    if "Q2" in wl:
        measure("Q2_queue_2to2", a.reps, lambda: queue_run(2, 2, a.items))
    if "P1" in wl:
        measure("P1_pipe_rtt", a.reps, lambda: pipe_run(a.round_trips))
    if "M1" in wl:
        with mp.Manager() as manager:
            measure("M1_manager_dict_rtt", a.reps, lambda: manager_run(manager, a.round_trips))
    if "I1" in wl:
        with mp.Pool(2) as pool:
            pool.map(sq, range(1000))  # warm-up: workers started
            measure("I1_imap_chunk1", a.reps, lambda: imap_run(pool, a.imap_items))


if __name__ == "__main__":
    sys.exit(main())
