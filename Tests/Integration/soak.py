#!/usr/bin/env python3
"""The soak (Scripts/soak MINUTES): 3 nodes + Redis on loopback under mixed load while faults are
injected on a schedule, every answer checked against the encoder.

Load (8 worker threads, a random node each request): EMBED of known texts (hits), EMBED of new texts
(misses), MEMBED of 8 mixing both, pipelines of 10 EMBEDs, and HTTP POST /v1/embeddings (float and
base64). Faults, one cycle per 2 minutes (or per run, if shorter): a node kill -9'ed and restarted,
Redis restarted, a node SIGSTOP'ed for 5 s (a slow peer), a 4th node added to the cluster file and
then removed again (SIGHUP to all). Checks: every vector equals `embcache embed`'s for its text (known
texts: all; new texts: a sample of up to 3,000, computed at the end); zero failures other than -BUSY;
each node's peak RSS under a bound. A request whose node is down by the soak's own hand (killed or
not yet restarted) is retried once on another node and counted as "retried", not as a failure: a
client of a dead server can only go elsewhere. Everything started is stopped by PID; loops are
bounded in time. Prints one summary line of counts and exits 1 on any wrong vector or failure."""
import base64, json, os, random, signal, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

import numpy as np
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, free_port, wait_port

MINUTES = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
L1_BYTES = 64 << 20
RSS_BOUND_MB = 75 + 64 + 32 + 16 + 64  # start + L1 + alias table + hot cache + connections and slack (Docs/reliability.md)
work = tempfile.mkdtemp(prefix="soak-")
redis_port = free_port()
ports = {f"n{i}": (free_port(), free_port()) for i in range(1, 5)}
procs = {}          # name -> Popen (current process of each node / redis)
all_started = []    # every Popen, to stop at the end
down = set()        # nodes the soak itself has taken down (killed or stopped)
lock = threading.Lock()
counts = {k: 0 for k in ["requests", "texts", "hits_checked", "misses", "membed", "pipelines", "http", "busy", "retried",
                         "failures", "wrong", "faults"]}
failures = []
miss_sample = []    # (text, vector bytes) of new texts, checked at the end
peak_rss = {}


def bump(key, n=1):
    with lock:
        counts[key] += n


def write_cluster(ids):
    lines = ["cluster:", "  name: soak", "model:", f"  path: {ROOT}/models/all-MiniLM-L6-v2",
             "cache:", f"  l1_max_bytes: {L1_BYTES}", "  ttl: 1h", "nodes:"]
    for i in ids:
        lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{ports[i][0]}", f"    http: 127.0.0.1:{ports[i][1]}",
                  f"    redis: 127.0.0.1:{redis_port}/0"]
    path = os.path.join(work, "cluster.yaml")
    open(path + ".tmp", "w").write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)
    return path


def start_redis():
    p = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    all_started.append(p); procs["redis"] = p; wait_port(redis_port)


def start_node(i, path):
    """Starts node i and waits for both its ports; a node that exits or never listens is the soak's own
    failure, reported with its log (not a run of 'connection refused' blamed on the load)."""
    log_path = os.path.join(work, f"{i}.log")
    log = open(log_path, "a")
    p = subprocess.Popen([BIN, "serve", "--cluster", path, "--node", i], cwd=ROOT, stdout=log, stderr=log)
    all_started.append(p); procs[i] = p
    if not (wait_port(ports[i][0]) and wait_port(ports[i][1])) or p.poll() is not None:
        tail = open(log_path, errors="replace").read()[-600:]
        raise RuntimeError(f"node {i} did not start (exit {p.poll()}): {tail.strip()}")


def rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# Texts and their reference vectors.
base = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "Scripts", "workloads", "short.texts.jsonl"), encoding="utf-8")]
known = base[:120] + [f"soak known text {i}: caching embeddings for retrieval" for i in range(80)]
ref_file = os.path.join(work, "known.jsonl")
open(ref_file, "w").write("".join(json.dumps({"text": t}) + "\n" for t in known))
out = subprocess.run([BIN, "embed", "--input", ref_file], cwd=ROOT, capture_output=True, text=True, timeout=300).stdout.splitlines()
reference = {t: np.array(json.loads(l)["embedding"], np.float32).tobytes() for t, l in zip(known, out)}
assert len(reference) == len(known), "embcache embed gave no reference vectors"

path = write_cluster(["n1", "n2", "n3"])
deadline = time.time() + MINUTES * 60  # set again once the nodes are up
members = ["n1", "n2", "n3"]


def record_failure(what):
    bump("failures")
    with lock:
        if len(failures) < 20:
            failures.append(what)


def check_vector(text, vector):
    if text in reference:
        bump("hits_checked")
        if vector != reference[text]:
            bump("wrong"); record_failure(f"wrong vector for {text[:40]!r}")
    else:
        bump("misses")
        with lock:
            if len(miss_sample) < 3000 and random.random() < 0.3:
                miss_sample.append((text, vector))


def one_request(rng, node, kind, worker, n):
    rp, hp = ports[node]
    if kind == "http":
        texts = [rng.choice(known) if rng.random() < 0.7 else f"soak http miss {worker}-{n}"]
        fmt = rng.choice(["float", "base64"])
        req = urllib.request.Request(f"http://127.0.0.1:{hp}/v1/embeddings", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"input": texts, "encoding_format": fmt, "user": f"soak-{worker}"}).encode())
        try:
            body = json.loads(urllib.request.urlopen(req, timeout=20).read())
        except urllib.error.HTTPError as e:
            if e.code == 503:
                return "busy"
            raise RuntimeError(f"HTTP {e.code}: {e.read()[:200]!r}")
        for t, d in zip(texts, body["data"]):
            v = base64.b64decode(d["embedding"]) if fmt == "base64" else np.array(d["embedding"], np.float32).tobytes()
            check_vector(t, v)
        bump("http"); bump("texts", len(texts))
        return "ok"
    c = redis.Redis(port=rp, protocol=2, socket_timeout=20, socket_connect_timeout=2)
    try:
        if kind == "pipeline":
            texts = [rng.choice(known) for _ in range(10)]
            p = c.pipeline(transaction=False)
            for t in texts:
                p.execute_command("EMBED", t)
            replies = p.execute(raise_on_error=False)
            bump("pipelines")
        elif kind == "membed":
            texts = [rng.choice(known) if rng.random() < 0.6 else f"soak membed miss {worker}-{n}-{k}" for k in range(8)]
            replies = c.execute_command("MEMBED", *texts)
            bump("membed")
        else:
            texts = [rng.choice(known) if kind == "hit" else f"soak miss {worker}-{n}: a text nobody asked before"]
            replies = [c.execute_command("EMBED", texts[0])]
        for t, r in zip(texts, replies):
            if isinstance(r, Exception):
                if "BUSY" in str(r):
                    bump("busy"); continue
                raise r
            check_vector(t, r)
        bump("texts", len(texts))
        return "ok"
    except redis.ResponseError as e:
        if "BUSY" in str(e):
            return "busy"
        raise
    finally:
        c.close()


def worker(w):
    rng = random.Random(w)
    n = 0
    while time.time() < deadline:
        n += 1
        kind = rng.choices(["hit", "miss", "membed", "pipeline", "http"], [40, 10, 15, 15, 20])[0]
        with lock:
            candidates = [m for m in members if m not in down] or list(members)
        node = rng.choice(candidates)
        for attempt in range(2):
            try:
                bump("requests")
                if one_request(rng, node, kind, w, n) == "busy":
                    bump("busy")
                break
            except (redis.ConnectionError, redis.TimeoutError, urllib.error.URLError, ConnectionError, OSError) as e:
                with lock:
                    was_down = node in down or procs.get(node) is None or procs[node].poll() is not None
                if was_down and attempt == 0:
                    bump("retried")
                    with lock:
                        node = rng.choice([m for m in members if m not in down and m != node] or ["n1"])
                    continue
                record_failure(f"{kind} on {node}: {type(e).__name__}: {e}")
                break
            except Exception as e:
                record_failure(f"{kind} on {node}: {type(e).__name__}: {e}")
                break


def faults():
    """Runs the fault cycles; whatever goes wrong in the soak's own hands is counted as a failure."""
    try:
        fault_cycles()
    except Exception as e:
        record_failure(f"fault injection: {type(e).__name__}: {e}")


def fault_cycles():
    """One cycle of faults per period, spread over it."""
    global path
    period = min(120.0, MINUTES * 60)
    start = time.time()
    while time.time() < deadline - 5:
        t0 = start + int((time.time() - start) // period) * period
        for at, fault in [(0.10, "kill"), (0.30, "redis"), (0.50, "stop"), (0.65, "add"), (0.85, "remove")]:
            while time.time() < t0 + at * period:
                if time.time() >= deadline - 5:
                    return
                time.sleep(0.2)
            bump("faults")
            if fault == "kill":
                with lock:
                    down.add("n2")
                procs["n2"].kill(); procs["n2"].wait(5)
                time.sleep(3)
                start_node("n2", path)
                time.sleep(1.5)  # peers see it up again at their next PING
                with lock:
                    down.discard("n2")
            elif fault == "redis":
                procs["redis"].kill(); procs["redis"].wait(5)
                time.sleep(2)
                start_redis()
            elif fault == "stop":
                with lock:
                    down.add("n3")
                os.kill(procs["n3"].pid, signal.SIGSTOP)
                time.sleep(5)
                os.kill(procs["n3"].pid, signal.SIGCONT)
                time.sleep(1.5)
                with lock:
                    down.discard("n3")
            elif fault == "add":
                path = write_cluster(["n1", "n2", "n3", "n4"])
                start_node("n4", path)
                for i in ["n1", "n2", "n3"]:
                    procs[i].send_signal(signal.SIGHUP)
                time.sleep(1.0)
                with lock:
                    members.append("n4")
            elif fault == "remove":
                with lock:
                    members.remove("n4"); down.add("n4")
                path = write_cluster(["n1", "n2", "n3"])
                for i in ["n1", "n2", "n3"]:
                    procs[i].send_signal(signal.SIGHUP)
                time.sleep(1.0)
                procs["n4"].terminate(); procs["n4"].wait(10)
                with lock:
                    down.discard("n4")
        while time.time() < t0 + period and time.time() < deadline - 5:
            time.sleep(0.2)


def sample_rss():
    while time.time() < deadline:
        for i in ["n1", "n2", "n3", "n4"]:
            p = procs.get(i)
            if p is not None and p.poll() is None:
                peak_rss[i] = max(peak_rss.get(i, 0.0), rss_mb(p.pid))
        time.sleep(1.0)


code = 1
try:
    start_redis()
    for i in ["n1", "n2", "n3"]:
        start_node(i, path)
    time.sleep(1.0)
    deadline = time.time() + MINUTES * 60
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    threads += [threading.Thread(target=faults), threading.Thread(target=sample_rss)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=MINUTES * 60 + 120)
    # The new texts' vectors against the encoder, computed now in one batch.
    sample_file = os.path.join(work, "misses.jsonl")
    open(sample_file, "w").write("".join(json.dumps({"text": t}) + "\n" for t, _ in miss_sample))
    lines = subprocess.run([BIN, "embed", "--input", sample_file], cwd=ROOT, capture_output=True, text=True, timeout=600).stdout.splitlines()
    wrong_misses = sum(np.array(json.loads(l)["embedding"], np.float32).tobytes() != v for (t, v), l in zip(miss_sample, lines))
    if len(lines) != len(miss_sample):
        record_failure(f"embcache embed gave {len(lines)} of {len(miss_sample)} reference vectors")
    counts["wrong"] += wrong_misses
    over = {i: round(v, 1) for i, v in peak_rss.items() if v > RSS_BOUND_MB}
    print(f"soak {MINUTES:g} min: requests {counts['requests']}, texts {counts['texts']}, known texts checked {counts['hits_checked']}, "
          f"new texts {counts['misses']} ({len(miss_sample)} checked), membed {counts['membed']}, pipelines {counts['pipelines']}, "
          f"http {counts['http']}, faults {counts['faults']}, retried (node down) {counts['retried']}, busy {counts['busy']}, "
          f"wrong vectors {counts['wrong']}, failures {counts['failures']}, peak RSS MB {dict((k, round(v, 1)) for k, v in sorted(peak_rss.items()))} "
          f"(bound {RSS_BOUND_MB})", flush=True)
    for f in failures:
        print("  failure:", f)
    if over:
        print(f"  RSS over the bound: {over}")
    code = 0 if counts["wrong"] == 0 and counts["failures"] == 0 and not over and counts["faults"] > 0 else 1
finally:
    for p in all_started:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
            except OSError:
                pass
            p.kill(); p.wait(5)
sys.exit(code)
