#!/usr/bin/env python3
"""A 3-node cluster (+ one Redis) on loopback, real processes: consistent vectors from every node,
keys only on their owners, a node killed with -9 under load (zero failed requests, zero wrong
vectors), its return, SIGHUP with a 4th node (moved fraction within ±10% of 1/4 at the default
vnodes, connections kept), and warm-then-query. Everything started here is stopped by PID; loops are bounded."""
import json, os, signal, socket, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, summary, wait_port, results
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
procs = []



work = tempfile.mkdtemp()
redis_port = free_port()
ports = {f"n{i}": (free_port(), free_port()) for i in range(1, 5)}


def write_cluster(ids):
    lines = ["cluster:", "  name: test", "  secret: null", "model:", f"  path: {ROOT}/models/all-MiniLM-L6-v2",
             "cache:", "  l1_max_bytes: 64MiB", "  ttl: 1h", "  early_expiry_beta: 1.0", "nodes:"]
    for i in ids:
        lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{ports[i][0]}", f"    http: 127.0.0.1:{ports[i][1]}", f"    redis: 127.0.0.1:{redis_port}/0"]
    path = os.path.join(work, "cluster.yaml")
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def start_node(node_id, path):
    log = open(os.path.join(work, f"{node_id}.log"), "a")
    p = subprocess.Popen([BIN, "serve", "--cluster", path, "--node", node_id], cwd=ROOT, stdout=log, stderr=log)
    procs.append(p)
    wait_port(ports[node_id][0])
    return p


def client(node_id, **kw):
    return redis.Redis(port=ports[node_id][0], protocol=2, socket_timeout=60, **kw)


rs = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
procs.append(rs); wait_port(redis_port)
path = write_cluster(["n1", "n2", "n3"])
nodes = {i: start_node(i, path) for i in ["n1", "n2", "n3"]}
try:
    time.sleep(1.0)  # first health round
    texts = [f"cluster text {i}: the embeddings of retrieval augmented generation" for i in range(200)]
    ref_out = subprocess.run([BIN, "embed", *texts], cwd=ROOT, capture_output=True, timeout=120).stdout.decode().splitlines()
    import numpy as np
    reference = {t: np.array(json.loads(l)["embedding"], np.float32).tobytes() for t, l in zip(texts, ref_out)}

    # Same vector whichever node is asked; the owner is the same from every node.
    same = all(client(n).execute_command("EMBED", t) == reference[t] for t in texts[:30] for n in ["n1", "n2", "n3"])
    check("every node returns the encoder's vector for every text", same)
    owners = {t: {client(n).execute_command("EMBED.LOCATE", t)[1].decode() for n in ["n1", "n2", "n3"]} for t in texts[:30]}
    check("every node names the same owner", all(len(o) == 1 for o in owners.values()))
    check("keys spread over all three nodes", {next(iter(o)) for o in owners.values()} == {"n1", "n2", "n3"})
    entries = sum(client(n).info("l1")["l1_entries"] for n in ["n1", "n2", "n3"])
    check("each key lives only on its owner (L1 entries = distinct texts)", entries == 30, f"{entries} entries for 30 texts")
    tiers = {t: client(next(iter(owners[t]))).execute_command("EMBED.LOCATE", t)[2] for t in texts[:5]}
    check("EMBED.LOCATE reports the owner's tier", all(v == b"l1" for v in tiers.values()), str(tiers))
    nodes_out = client("n1").execute_command("CLUSTER", "NODES").decode()
    check("CLUSTER NODES lists 3 nodes up", nodes_out.count(" up ") == 3, nodes_out)
    check("CLUSTER RING has 3 × 1024 points (the default vnodes)", len(client("n1").execute_command("CLUSTER", "RING")) == 3 * 1024)

    # 10,000 requests through n1 and n2; kill -9 n3 in the middle.
    errors, wrong, done = [0], [0], [0]
    lock = threading.Lock()
    def load(node_id, rounds):
        c = client(node_id)
        for r in range(rounds):
            batch = [texts[(r * 50 + k * 7) % len(texts)] for k in range(50)]
            try:
                p = c.pipeline(transaction=False)
                for t in batch: p.execute_command("EMBED", t)
                answers = p.execute()
            except Exception:
                with lock: errors[0] += len(batch)
                continue
            with lock:
                done[0] += len(batch)
                wrong[0] += sum(a != reference[t] for a, t in zip(answers, batch))
    threads = [threading.Thread(target=load, args=(n, 100)) for n in ["n1", "n2"]]
    for t in threads: t.start()
    time.sleep(0.5)
    nodes["n3"].send_signal(signal.SIGKILL); nodes["n3"].wait(10)
    for t in threads: t.join(300)
    check("n3 killed under load: 10,000 requests answered", done[0] == 10000 and errors[0] == 0, f"done {done[0]} errors {errors[0]}")
    check("n3 killed under load: zero wrong vectors", wrong[0] == 0, f"{wrong[0]} wrong")
    time.sleep(2)
    check("CLUSTER NODES shows n3 down", " down " in client("n1").execute_command("CLUSTER", "NODES").decode())

    # n3 comes back and takes its keys back.
    n3_texts = [t for t in texts[:30] if owners[t] == {"n3"}]
    nodes["n3"] = start_node("n3", path)
    end = time.time() + 10
    while time.time() < end and " down " in client("n1").execute_command("CLUSTER", "NODES").decode():
        time.sleep(0.2)
    back = all(client("n1").execute_command("EMBED.LOCATE", t)[1] == b"n3" for t in n3_texts)
    check("a node that comes back takes its keys back", back and len(n3_texts) > 0, f"{len(n3_texts)} keys")

    # SIGHUP with a 4th node: moved fraction within the ring bound, no connection dropped.
    probe = [f"reload probe {i}" for i in range(4000)]  # sampling sd of the moved share: 0.7 points
    def owners_of(ts):
        p = client("n1").pipeline(transaction=False)
        for t in ts: p.execute_command("EMBED.LOCATE", t)
        return [x[1] for x in p.execute()]
    before = owners_of(probe)
    kept = client("n2"); kept_id = kept.execute_command("CLIENT", "ID")
    path = write_cluster(["n1", "n2", "n3", "n4"])
    nodes["n4"] = start_node("n4", path)
    for n in ["n1", "n2", "n3"]:
        nodes[n].send_signal(signal.SIGHUP)
    time.sleep(1.5)
    after = owners_of(probe)
    moved = sum(a != b for a, b in zip(before, after)) / len(probe)
    check("SIGHUP with a 4th node: moved fraction within ±10% of 1/4", 0.9 / 4 <= moved <= 1.1 / 4, f"moved {moved:.4f}")
    check("SIGHUP: keys move only to the new node", all(b == a or a == b"n4" for a, b in zip(after, before)))
    check("SIGHUP: an open connection survives", kept.execute_command("CLIENT", "ID") == kept_id and kept.ping())
    # A bad file is refused and the old one kept.
    open(path, "a").write("  - id: n1\n    resp: nonsense\n")
    nodes["n1"].send_signal(signal.SIGHUP); time.sleep(0.5)
    check("a bad cluster file is refused, the node keeps serving", client("n1").execute_command("EMBED", texts[0]) == reference[texts[0]])
    path = write_cluster(["n1", "n2", "n3", "n4"])

    # Warm, then query: all hits, no computation.
    warm_texts = [f"warm text {i} about vector caches" for i in range(120)] + ["warm text 1 about vector caches"]
    wf = os.path.join(work, "warm.txt"); open(wf, "w").write("\n".join(warm_texts) + "\n")
    # Through the wrapper, in both of its forms: embcache warm's own (--cluster FILE INPUT), then the short one.
    warm_cache = os.path.join(ROOT, "Scripts", "warm-cache")
    out = subprocess.run([warm_cache, "--cluster", path, wf], cwd=ROOT, capture_output=True, text=True, timeout=300)
    check("Scripts/warm-cache --cluster FILE INPUT: computes every distinct text", out.returncode == 0 and "computed: 120" in out.stdout and "failed: 0" in out.stdout, out.stdout + out.stderr[-300:])
    out = subprocess.run([warm_cache, path, wf], cwd=ROOT, capture_output=True, text=True, timeout=300)
    check("Scripts/warm-cache FILE INPUT again: everything already cached", out.returncode == 0 and "already cached: 120" in out.stdout, out.stdout + out.stderr[-300:])
    out = subprocess.run([warm_cache, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    check("Scripts/warm-cache --help shows the forms and embcache warm's options", out.returncode == 0 and "--cluster" in out.stdout and "--concurrency" in out.stdout, out.stdout[-300:])
    computed_before = sum(client(n).info("tiers")["served_computed"] for n in ["n1", "n2", "n3", "n4"])
    for n in ["n1", "n2"]:
        client(n).execute_command("MEMBED", *warm_texts[:60])
    computed_after = sum(client(n).info("tiers")["served_computed"] for n in ["n1", "n2", "n3", "n4"])
    check("after warming, queries compute nothing", computed_after == computed_before, f"{computed_after - computed_before} computed")
    # A cluster with a secret: clients must AUTH, and peers authenticate to each other.
    for p in list(nodes.values()):
        p.kill(); p.wait(5)
    sp = {i: (free_port(), free_port()) for i in ["s1", "s2"]}
    lines = ["cluster:", "  name: secret", "  secret: hunter2", "model:", f"  path: {ROOT}/models/all-MiniLM-L6-v2", "nodes:"]
    for i, (rp, hp) in sp.items():
        lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{rp}", f"    http: 127.0.0.1:{hp}"]
    spath = os.path.join(work, "secret.yaml"); open(spath, "w").write("\n".join(lines) + "\n")
    for i, (rp, hp) in sp.items():
        log = open(os.path.join(work, f"{i}.log"), "a")
        procs.append(subprocess.Popen([BIN, "serve", "--cluster", spath, "--node", i], cwd=ROOT, stdout=log, stderr=log)); wait_port(rp)
    time.sleep(1)
    try:
        redis.Redis(port=sp["s1"][0], protocol=2).execute_command("EMBED", "x"); noauth = ""
    except redis.exceptions.RedisError as e:
        noauth = str(e)
    check("with a secret, a client that did not AUTH gets NOAUTH", noauth.startswith("Authentication required") or "NOAUTH" in noauth, noauth)
    try:
        # One attempt: redis-py 8 retries an AuthenticationError 10 times with backoff by default (~30 s).
        redis.Redis(port=sp["s1"][0], protocol=2, password="wrong", retry=Retry(NoBackoff(), 0)).ping(); wrongpass = ""
    except redis.exceptions.RedisError as e:
        wrongpass = str(e)
    check("a wrong password is refused", "invalid" in wrongpass or "WRONGPASS" in wrongpass, wrongpass)
    authed = redis.Redis(port=sp["s1"][0], protocol=2, password="hunter2")
    remote = next(t for t in texts if authed.execute_command("EMBED.LOCATE", t)[1] == b"s2")
    check("peers authenticate: a key owned by the other node is forwarded", authed.execute_command("EMBED", remote) == reference[remote]
          and authed.info("tiers")["served_forwarded"] >= 1, str(authed.info("tiers")))
finally:
    for p in procs:
        if p.poll() is None:
            p.kill(); p.wait(5)
    if results["failed"]:
        for n in ["n1", "n2", "n3", "n4"]:
            f = os.path.join(work, f"{n}.log")
            if os.path.exists(f): print(f"---- {n} log ----\n" + open(f).read()[-1500:])
sys.exit(summary())
