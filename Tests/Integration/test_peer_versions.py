#!/usr/bin/env python3
"""Issue 17 §2, peer protocol versions: a node of this release beside a node of the release before
the handshake (EMBCACHE_OLD_BIN: an `embcache` built from a commit before issue 17's peer link, e.g.
`git worktree add /tmp/old <commit> && cd /tmp/old && swift build -c release`; skipped without it).
The old node answers PEER.HELLO with "unknown command", so the new one speaks version 1 to it: the old
PEER.MEMBED, and only after reading the old node's fingerprints from its INFO models. Checks: with the
same checkpoint, forwards go both ways and every answer is right; with another checkpoint on the old
node, the new node never forwards those keys to it (peer_model_mismatch) and every answer it gives
is its own model's. Everything started here is stopped by PID; loops are bounded."""
import json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, pooled_copy, serve, stop, stop_all, summary, wait_port
import numpy as np
import redis

OLD = os.environ.get("EMBCACHE_OLD_BIN")
if not OLD or not os.access(OLD, os.X_OK):
    print("SKIP test_peer_versions.py: set EMBCACHE_OLD_BIN to an embcache built before the peer handshake")
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)

procs = []
work = tempfile.mkdtemp()
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
ports = {i: (free_port(), free_port()) for i in ["new", "old"]}


def cluster_file(node, model):
    lines = ["cluster:", "  name: versions", "  secret: null", "models:", "  - name: mini", f"    path: {model}",
             "cache:", "  l1_max_bytes: 64MiB", "  ttl: 1h", "nodes:"]
    for i in ["new", "old"]:
        lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{ports[i][0]}", f"    http: 127.0.0.1:{ports[i][1]}"]
    path = os.path.join(work, f"{node}.yaml")
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def start_old(model):
    log = open(os.path.join(work, "old.log"), "a")
    p = subprocess.Popen([OLD, "serve", "--cluster", cluster_file("old", model), "--node", "old"], cwd=ROOT, stdout=log, stderr=log)
    procs.append(p)
    wait_port(ports["old"][0], 60)
    return p


def references(folder, texts):
    out = subprocess.run([BIN, "embed", "--model", folder, *texts], cwd=ROOT, capture_output=True, timeout=300).stdout.decode().splitlines()
    return {t: np.array(json.loads(l)["embedding"], np.float32).tobytes() for t, l in zip(texts, out)}


def info(node):
    return redis.Redis(port=ports[node][0], protocol=2, socket_timeout=60).info("cluster")


def wait_peer_up(node, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        if info(node)["peers_up"] == 1:
            return True
        time.sleep(0.1)
    return False


try:
    texts = [f"version text {k}: an upgrade one node at a time" for k in range(80)]
    mine = references(MINILM, texts)
    serve(procs, work, "new", cluster_file("new", MINILM))
    old = start_old(MINILM)
    check("the new node listens", wait_port(ports["new"][0], 60))
    check("the new node sees the old one up (no handshake: version 1)", wait_peer_up("new"))
    time.sleep(1.0)  # the old node's first health rounds
    for node in ["new", "old"]:
        c = redis.Redis(port=ports[node][0], protocol=2, socket_timeout=120)
        got = [c.execute_command("EMBED", t) for t in texts] + c.execute_command("MEMBED", *texts)
        check(f"same checkpoint: every answer at the {node} node is right", got == [mine[t] for t in texts] * 2)
    i = info("new")
    check("the new node forwards to the old one (version 1, fingerprints from its INFO)", i["forwards"] > 0 and i["peer_model_mismatch"] == 0,
          f"forwards {i['forwards']}, mismatch {i['peer_model_mismatch']}")
    check("the old node forwards to the new one (old commands still answered)",
          redis.Redis(port=ports["old"][0], protocol=2).info("cluster")["forwards"] > 0)

    # The old node restarts on another checkpoint of the same name: the new node must see it in INFO.
    stop(old)
    start_old(pooled_copy(work, "cls"))
    check("the new node sees the old one up again", wait_peer_up("new"))
    before = info("new")["forwards"]
    c = redis.Redis(port=ports["new"][0], protocol=2, socket_timeout=120)
    fresh = [f"after the rollout {k}: another checkpoint on the old node" for k in range(80)]
    ref = references(MINILM, fresh)
    got = [c.execute_command("EMBED", t) for t in fresh] + c.execute_command("MEMBED", *fresh)
    check("another checkpoint on the old node: every answer of the new node is its own model's", got == [ref[t] for t in fresh] * 2)
    i = info("new")
    print(f"     new node: forwards {i['forwards'] - before} during the mixed phase, peer_model_mismatch {i['peer_model_mismatch']}", flush=True)
    check("the new node forwarded none of those keys to the old node, and counted them", i["forwards"] == before and i["peer_model_mismatch"] > 0)
finally:
    stop_all(procs, work, ["new", "old"])
sys.exit(summary())
