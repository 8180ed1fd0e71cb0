#!/usr/bin/env python3
"""The rolling upgrade (Scripts/rolling-upgrade builds both binaries and runs this): a 3-node cluster +
Redis of the OLD release serves mixed load; the nodes are replaced one at a time by the NEW release
(SIGTERM, wait for the exit, start the new binary on the same ports, wait for /readyz), with load running
the whole time; every answer is checked.

Usage: rolling_upgrade.py OLD_BIN NEW_BIN [SECONDS_PER_PHASE]

Load (4 threads, a random live node per request): EMBED of known texts (hits after the first ask),
EMBED of new texts (misses, forwarded to their owner half the time or more), MEMBED of 8 mixing both,
HTTP POST /v1/embeddings. Phases: all old; n1 new; n1+n2 new; all new; each SECONDS_PER_PHASE long.
The node being replaced is taken out of the clients' choice before its SIGTERM, as a load balancer
drains a host; a request that still reaches it is retried once on another node and counted as
"retried" (a client of a stopped server can only go elsewhere). Everything else that is not an answer
is a failure.

Correct means: the vector equals, bit for bit, what `embcache embed` of the old or of the new release
computes for that text (both are computed first; the run prints whether they agree). Wrong means any
other vector. Prints a table per phase (requests, texts, failed, wrong, retried, p99) and one summary
line; exits 1 on any wrong vector or failure. Stops all it starts, by PID; every loop is bounded."""
import base64, json, os, random, signal, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

import numpy as np
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, free_port, wait_port

OLD_BIN, NEW_BIN = sys.argv[1], sys.argv[2]
PHASE_SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 15.0
IDS = ["n1", "n2", "n3"]
work = tempfile.mkdtemp(prefix="rolling-upgrade-")
redis_port = free_port()
ports = {i: (free_port(), free_port()) for i in IDS}
procs, started = {}, []
lock = threading.Lock()
live = set()          # nodes the clients may choose (the one being replaced is drained first)
phase = ["old"]
stats = {}            # phase -> counters and latencies
failures = []


def phase_stats():
    return stats.setdefault(phase[0], {"requests": 0, "texts": 0, "failed": 0, "wrong": 0, "retried": 0, "lat": []})


def bump(key, n=1):
    with lock:
        phase_stats()[key] += n


def write_cluster():
    lines = ["cluster:", "  name: rolling", "model:", f"  path: {ROOT}/models/all-MiniLM-L6-v2",
             "cache:", "  l1_max_bytes: 33554432", "  ttl: 1h", "nodes:"]
    for i in IDS:
        lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{ports[i][0]}", f"    http: 127.0.0.1:{ports[i][1]}",
                  f"    redis: 127.0.0.1:{redis_port}/0"]
    path = os.path.join(work, "cluster.yaml")
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def ready(i, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{ports[i][1]}/readyz", timeout=1).read()
            return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    return False


def start_node(i, binary, path):
    log = open(os.path.join(work, f"{i}.log"), "a")
    log.write(f"---- {os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(binary))))} {binary}\n"); log.flush()
    p = subprocess.Popen([binary, "serve", "--cluster", path, "--node", i], cwd=ROOT, stdout=log, stderr=log)
    started.append(p); procs[i] = p
    if not ready(i):
        raise SystemExit(f"node {i} ({binary}) did not become ready; log {work}/{i}.log")


def embed_reference(binary, texts):
    f = os.path.join(work, "texts.jsonl")
    open(f, "w").write("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = subprocess.run([binary, "embed", "--input", f], cwd=ROOT, capture_output=True, text=True, timeout=600).stdout.splitlines()
    assert len(out) == len(texts), f"{binary} embed gave {len(out)} vectors for {len(texts)} texts"
    return {t: np.array(json.loads(l)["embedding"], np.float32).tobytes() for t, l in zip(texts, out)}


# Known texts are asked again and again (hits, from L1, L2 or a peer); "new" texts are drawn from a pool
# no request repeats often, so most are misses computed by their owner, a node of either release.
base = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "Scripts", "workloads", "short.texts.jsonl"), encoding="utf-8")]
known = base[:100]
fresh = [f"rolling upgrade text {k}: {base[(k * 7) % len(base)]}" for k in range(15000)]
ref_old = embed_reference(OLD_BIN, known + fresh)
ref_new = embed_reference(NEW_BIN, known + fresh)
same = sum(ref_old[t] == ref_new[t] for t in ref_old)
print(f"old and new releases' vectors bit-equal for {same} of {len(ref_old)} texts", flush=True)
fresh_next = [0]


def check(text, vector):
    if vector != ref_old.get(text) and vector != ref_new.get(text):
        bump("wrong")
        with lock:
            if len(failures) < 20:
                failures.append(f"{phase[0]}: wrong vector for {text[:40]!r}")


def next_fresh():
    with lock:
        k = fresh_next[0] % len(fresh); fresh_next[0] += 1
    return fresh[k]


def one_request(rng, node, kind):
    rp, hp = ports[node]
    if kind == "http":
        texts = [rng.choice(known), next_fresh()]
        fmt = rng.choice(["float", "base64"])
        req = urllib.request.Request(f"http://127.0.0.1:{hp}/v1/embeddings", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"input": texts, "encoding_format": fmt}).encode())
        body = json.loads(urllib.request.urlopen(req, timeout=35).read())
        for t, d in zip(texts, body["data"]):
            check(t, base64.b64decode(d["embedding"]) if fmt == "base64" else np.array(d["embedding"], np.float32).tobytes())
        return len(texts)
    c = redis.Redis(port=rp, protocol=2, socket_timeout=35, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))
    try:
        if kind == "membed":
            texts = [rng.choice(known) if rng.random() < 0.5 else next_fresh() for _ in range(8)]
            replies = c.execute_command("MEMBED", *texts)
        else:
            texts = [rng.choice(known) if kind == "hit" else next_fresh()]
            replies = [c.execute_command("EMBED", texts[0])]
        for t, r in zip(texts, replies):
            check(t, r)
        return len(texts)
    finally:
        c.close()


def worker(w, deadline):
    rng = random.Random(w)
    while time.time() < deadline[0]:
        kind = rng.choices(["hit", "miss", "membed", "http"], [40, 25, 20, 15])[0]
        with lock:
            node = rng.choice(sorted(live))
        for attempt in range(2):
            t0 = time.time()
            try:
                bump("requests")
                n = one_request(rng, node, kind)
                with lock:
                    s = phase_stats(); s["texts"] += n; s["lat"].append(time.time() - t0)
                break
            except Exception as e:  # noqa: BLE001 (every error is counted, none is hidden)
                refused = isinstance(e, (redis.ConnectionError, ConnectionRefusedError)) or (
                    isinstance(e, urllib.error.URLError) and isinstance(e.reason, ConnectionRefusedError))
                with lock:
                    drained = node not in live
                if attempt == 0 and refused and drained:
                    bump("retried")
                    with lock:
                        node = rng.choice(sorted(live))
                    continue
                bump("failed")
                with lock:
                    if len(failures) < 20:
                        failures.append(f"{phase[0]}: {kind} on {node}: {type(e).__name__}: {str(e)[:120]}")
                break


def info_field(i, field):
    try:
        c = redis.Redis(port=ports[i][0], protocol=2, socket_timeout=5)
        value = c.info().get(field); c.close(); return value
    except Exception:  # noqa: BLE001
        return None


exit_code = 1
try:
    path = write_cluster()
    rp = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(rp); wait_port(redis_port)
    for i in IDS:
        start_node(i, OLD_BIN, path)
    live.update(IDS)
    deadline = [time.time() + 10 * PHASE_SECONDS + 600]   # moved to the real end below; bounds the workers
    threads = [threading.Thread(target=worker, args=(w, deadline), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(PHASE_SECONDS)
    for k, i in enumerate(IDS, 1):
        with lock:
            live.discard(i)          # drained: clients stop choosing it
        time.sleep(0.5)              # requests already on their way to it finish
        procs[i].send_signal(signal.SIGTERM)
        try:
            procs[i].wait(30)
        except subprocess.TimeoutExpired:
            failures.append(f"{i} did not exit within 30 s of SIGTERM"); procs[i].kill(); procs[i].wait(5)
        with lock:
            phase[0] = f"{k} new" if k < len(IDS) else "all new"
        start_node(i, NEW_BIN, path)
        with lock:
            live.add(i)
        time.sleep(PHASE_SECONDS)
    deadline[0] = time.time()
    for t in threads:
        t.join(60)

    print(f"{'phase':<9} {'requests':>9} {'texts':>7} {'failed':>7} {'wrong':>6} {'retried':>8} {'p99 ms':>7}")
    total = {"requests": 0, "texts": 0, "failed": 0, "wrong": 0, "retried": 0}
    for name in ["old", "1 new", "2 new", "all new"]:
        s = stats.get(name, {"requests": 0, "texts": 0, "failed": 0, "wrong": 0, "retried": 0, "lat": []})
        lat = sorted(s["lat"]); p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000 if lat else 0.0
        print(f"{name:<9} {s['requests']:>9} {s['texts']:>7} {s['failed']:>7} {s['wrong']:>6} {s['retried']:>8} {p99:>7.1f}")
        for key in total:
            total[key] += s[key]
    forwards = {i: info_field(i, "forwards") for i in IDS}
    print(f"forwards per node after the upgrade (new release, since its start): {forwards}")
    for f in failures:
        print("  " + f)
    ok = total["failed"] == 0 and total["wrong"] == 0 and not any("did not exit" in f for f in failures) and total["texts"] > 0
    print(f"rolling upgrade {os.path.basename(OLD_BIN)} -> new: {total['requests']} requests, {total['texts']} texts, "
          f"{total['failed']} failed, {total['wrong']} wrong, {total['retried']} retried: {'PASS' if ok else 'FAIL'}")
    exit_code = 0 if ok else 1
finally:
    for p in started:
        if p.poll() is None:
            p.kill(); p.wait(5)
    if exit_code:
        for i in IDS:
            f = os.path.join(work, f"{i}.log")
            if os.path.exists(f):
                print(f"---- {i} log (tail) ----\n" + open(f).read()[-2000:])
sys.exit(exit_code)
