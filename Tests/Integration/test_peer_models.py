#!/usr/bin/env python3
"""Issue 17 §1, peers prove what they serve: two nodes whose cluster files give the same model name
("mini", the default) to two DIFFERENT checkpoints of the same width (all-MiniLM-L6-v2 with its mean
pooling on n1; the same weights with CLS pooling on n2: another fingerprint, 384 floats too), and a
second model ("shared": the same weights with max pooling) that is the same checkpoint on both. Every vector each node answers, over
RESP and HTTP, single and batched, must equal its OWN model's reference (`embcache embed`), with
nothing failed: "mini" keys are never forwarded (peer_model_mismatch counts them on both nodes, in
INFO, /metrics, SAVINGS and the dashboard), "shared" keys still are. Also: /readyz says 503 until a
node has a view of its peers, and a peer whose file names another cluster is refused in the
handshake (counted, logged once) and never routed to. Everything started here is stopped by PID;
loops are bounded."""
import base64, json, os, subprocess, sys, tempfile, time, urllib.error, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, pooled_copy, serve, stop_all, summary, wait_port
import numpy as np
import redis

procs = []
work = tempfile.mkdtemp()
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
ids = ["n1", "n2", "x3"]
ports = {i: (free_port(), free_port()) for i in ids}


def cluster_file(node, name, mini, members):
    lines = ["cluster:", f"  name: {name}", "  secret: null", "models:", "  - name: mini", f"    path: {mini}",
             "  - name: shared", f"    path: {shared}", "cache:", "  l1_max_bytes: 64MiB", "  ttl: 1h", "nodes:"]
    for i in members:
        lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{ports[i][0]}", f"    http: 127.0.0.1:{ports[i][1]}"]
    path = os.path.join(work, f"{node}.yaml")
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def start(node, path):
    return serve(procs, work, node, path)


def readyz(node):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{ports[node][1]}/readyz", timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def wait_ready(node, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        if readyz(node) == 200:
            return True
        time.sleep(0.05)
    return False


def references(folder, texts):
    out = subprocess.run([BIN, "embed", "--model", folder, *texts], cwd=ROOT, capture_output=True, timeout=300).stdout.decode().splitlines()
    return {t: np.array(json.loads(l)["embedding"], np.float32).tobytes() for t, l in zip(texts, out)}


def http_embed(node, model, inputs):
    body = json.dumps({"model": model, "input": inputs, "encoding_format": "base64"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{ports[node][1]}/v1/embeddings", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    data = json.loads(urllib.request.urlopen(req, timeout=120).read())["data"]
    return [base64.b64decode(d["embedding"]) for d in sorted(data, key=lambda d: d["index"])]


def info_cluster(node):
    return redis.Redis(port=ports[node][0], protocol=2, socket_timeout=60).info("cluster")


try:
    mini_cls = pooled_copy(work, "cls")
    # A third checkpoint, the same on both nodes (were it MiniLM itself, n1's "mini" keys would be
    # rightly served by n2's "shared" lane: an owner serves a fingerprint from whichever lane has it).
    shared = pooled_copy(work, "max")
    own = {"n1": MINILM, "n2": mini_cls}
    files = {n: cluster_file(n, "pm", own[n], ["n1", "n2"]) for n in ["n1", "n2"]}

    # Readiness: n1 alone has no view of n2 yet, so it is not ready; with n2 up, both are.
    start("n1", files["n1"])
    check("n1 listens", wait_port(ports["n1"][1], 60))
    early = readyz("n1")
    check("n1 says 503 on /readyz before it has a view of its peer", early == 503, f"{early}")
    check("INFO cluster says the peer view is not ready", info_cluster("n1").get("peer_view_ready") == 0 or readyz("n1") == 200)
    start("n2", files["n2"])
    check("n1 and n2 become ready", wait_ready("n1") and wait_ready("n2"))
    # Right after both say ready, they name the same owners (the "shared" lane: same checkpoint on
    # both, so no key stays home for a model mismatch). Issue 17 §4 measured three owner maps here.
    probes = [f"ownership probe {k}" for k in range(200)]
    def owners(node):
        c = redis.Redis(port=ports[node][0], protocol=2, socket_timeout=60)
        c.execute_command("CLIENT", "SETMODEL", "shared")
        p = c.pipeline(transaction=False)
        for t in probes:
            p.execute_command("EMBED.LOCATE", t)
        return [r[1].decode() for r in p.execute()]
    o1, o2 = owners("n1"), owners("n2")
    check("right after ready, n1 and n2 name the same owner for 200 probes, spread over both",
          o1 == o2 and set(o1) == {"n1", "n2"}, f"{sum(a != b for a, b in zip(o1, o2))} differ, owners {set(o1)}")
    check("n1 sees n2 up and n2 sees n1 up", info_cluster("n1")["peers_up"] == 1 and info_cluster("n2")["peers_up"] == 1,
          f"{info_cluster('n1')['peers_up']} {info_cluster('n2')['peers_up']}")

    texts = [f"peer model text {k}: a fine-tuned checkpoint copied to one host first" for k in range(96)]
    refs = {"n1": references(MINILM, texts), "n2": references(mini_cls, texts)}
    check("the two checkpoints really differ (same width, other vectors)",
          all(len(refs["n1"][t]) == len(refs["n2"][t]) == 384 * 4 for t in texts) and sum(refs["n1"][t] != refs["n2"][t] for t in texts) == len(texts))
    shared_ref = references(shared, texts)

    wrong, failed, answers = {"n1": 0, "n2": 0}, {"n1": 0, "n2": 0}, {"n1": 0, "n2": 0}

    def tally(node, got, want):
        for t, v in zip(texts, got):
            answers[node] += 1
            if v is None:
                failed[node] += 1
            elif v != want[t]:
                wrong[node] += 1

    for node in ["n1", "n2"]:
        c = redis.Redis(port=ports[node][0], protocol=2, socket_timeout=120)
        for rnd in range(2):  # first asks (misses), then hits
            tally(node, [c.execute_command("EMBED", t) for t in texts], refs[node])
        tally(node, c.execute_command("MEMBED", *texts), refs[node])
        tally(node, http_embed(node, "mini", texts), refs[node])
        single = [http_embed(node, "mini", t)[0] for t in texts[:16]]
        for t, v in zip(texts[:16], single):
            answers[node] += 1
            wrong[node] += v != refs[node][t]
        # The shared model: the same checkpoint on both, so its keys are still forwarded to their owner.
        tally(node, [c.execute_command("EMBED", t, "MODEL", "shared") for t in texts], shared_ref)
        tally(node, http_embed(node, "shared", texts), shared_ref)
    for node in ["n1", "n2"]:
        print(f"     {node}: {answers[node]} answers, {wrong[node]} wrong, {failed[node]} failed", flush=True)
        check(f"{node}: every vector is its own model's (0 wrong of {answers[node]})", wrong[node] == 0, f"{wrong[node]} wrong")
        check(f"{node}: nothing failed", failed[node] == 0, f"{failed[node]} failed")

    info = {n: info_cluster(n) for n in ["n1", "n2"]}
    for n in ["n1", "n2"]:
        print(f"     {n}: peer_model_mismatch {info[n]['peer_model_mismatch']}, forwards {info[n]['forwards']}, "
              f"forward_failures {info[n]['forward_failures']}", flush=True)
        check(f"{n}: peer_model_mismatch > 0 in INFO cluster", info[n]["peer_model_mismatch"] > 0, f"{info[n]['peer_model_mismatch']}")
        check(f"{n}: no forward failed", info[n]["forward_failures"] == 0, f"{info[n]['forward_failures']}")
    check("the shared model's keys were still forwarded", info["n1"]["forwards"] + info["n2"]["forwards"] > 0)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports['n1'][1]}/metrics", timeout=30).read().decode()
    line = [l for l in metrics.splitlines() if l.startswith("embcache_cluster_peer_model_mismatch_total")]
    check("/metrics has embcache_cluster_peer_model_mismatch_total > 0", bool(line) and float(line[0].split()[-1]) > 0, f"{line}")
    snapshot = json.loads(redis.Redis(port=ports["n2"][0], protocol=2).execute_command("SAVINGS"))
    check("the SAVINGS snapshot (report) carries the node's peer_model_mismatch", (snapshot["health"].get("peerModelMismatch") or 0) > 0,
          f"{snapshot['health']}")
    report = subprocess.run([BIN, "report", "--cluster", files["n1"]], cwd=ROOT, capture_output=True, timeout=60).stdout.decode()
    check("`embcache report` lists peer_model_mismatch per node", "peer_model_mismatch: n1=" in report, report[:300])
    page = urllib.request.urlopen(f"http://127.0.0.1:{ports['n1'][1]}/", timeout=30).read().decode()
    check("the dashboard's node table has the mismatch column", "peer model mismatches" in page and 'data-k="mismatch.n2"' in page)
    logs = {n: open(os.path.join(work, f"{n}.log")).read() for n in ["n1", "n2"]}
    logged = [logs[n].count("a peer does not serve this node's model") for n in ["n1", "n2"]]
    print(f"     mismatch log lines: {logged}; handshake warnings: {[logs[n].count('peer serves other checkpoints') for n in ['n1', 'n2']]}")
    check("the mismatch is logged once per peer and model, not per request", logged == [1, 1], f"{logged}")

    # A node of another cluster (its file names cluster "other") that lists n1 as a peer is refused.
    x3 = cluster_file("x3", "other", MINILM, ["n1", "x3"])
    start("x3", x3)
    check("x3 (cluster 'other') becomes ready (n1 refused counts as a view after the grace)", wait_ready("x3"))
    cx = redis.Redis(port=ports["x3"][0], protocol=2, socket_timeout=120)
    got = [cx.execute_command("EMBED", t) for t in texts[:40]]
    check("x3 answers its texts itself, right", all(v == refs["n1"][t] for t, v in zip(texts, got)))
    ix = info_cluster("x3")
    check("x3 made no forward to a peer of another cluster", ix["forwards"] == 0 and ix["peers_up"] == 0, f"{ix}")
    check("x3 counts the refused handshake", ix["peer_handshakes_refused"] > 0, f"{ix['peer_handshakes_refused']}")
    check("n1 refused x3's handshake and counts it", info_cluster("n1")["peer_handshakes_refused"] > 0)
    n1log = open(os.path.join(work, "n1.log")).read()
    check("n1 logs the refusal once", n1log.count("refused a peer's handshake") == 1, f"{n1log.count('refused a peer')}")
    raw = redis.Redis(port=ports["n1"][0], protocol=2)
    try:
        raw.execute_command("PEER.HELLO", "2", "other", "intruder", "ff")
        refused = False
    except redis.ResponseError as e:
        refused = str(e).startswith("PEERCLUSTER")
    check("PEER.HELLO of another cluster name gets PEERCLUSTER", refused)
    hello = [v.decode() for v in redis.Redis(port=ports["n1"][0], protocol=2).execute_command("PEER.HELLO", "2", "pm", "probe")]
    check("PEER.HELLO answers version, cluster name, node id and one fingerprint per model",
          hello[:3] == ["2", "pm", "n1"] and len(hello) == 5, f"{hello}")
    try:
        redis.Redis(port=ports["n1"][0], protocol=2).execute_command("PEER.MEMBED.FP", "0" * 32, "text")
        mismatch = False
    except redis.ResponseError as e:
        mismatch = str(e).startswith("PEERMODEL")
    check("PEER.MEMBED.FP of a fingerprint the node does not serve gets PEERMODEL, never a vector", mismatch)
finally:
    stop_all(procs, work, ids)
sys.exit(summary())
