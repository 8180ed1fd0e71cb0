"""Shared helpers of the integration tests: results, free loopback ports, waiting for a listener."""
import os, socket, struct, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("EMBCACHE_BIN", os.path.join(ROOT, ".build", "release", "embcache"))
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    """Prints one result line; the closing 'N passed, N failed' line comes from summary()."""
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""), flush=True)
    results["passed" if ok else "failed"] += 1


def summary():
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


_handed_out = set()


def free_port():
    """A free port on 127.0.0.1 (bind to port 0), never one this process was handed before: the kernel
    may give a just-closed port out again, and two nodes of one cluster file given the same address
    refuse to start (a soak in CI once lost every node that way)."""
    for _ in range(1000):
        s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
        if p not in _handed_out:
            _handed_out.add(p)
            return p
    raise RuntimeError("no free loopback port that was not handed out before")


def wait_port(port, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); return True
        except OSError:
            time.sleep(0.05)
    return False


def resp(*args):
    """One RESP command (an array of bulk strings), for raw sockets: pipelines, clients that never read."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def stop(p):
    """Stops a process this test started (by its PID) and reaps it."""
    if p.poll() is None:
        p.kill(); p.wait(5)


def stop_all(procs, work=None, ids=()):
    """Stops everything a test started, by PID; after a failure, prints the tail of each node's log."""
    for p in procs:
        stop(p)
    if results["failed"] and work:
        for n in ids:
            f = os.path.join(work, f"{n}.log")
            if os.path.exists(f):
                print(f"---- {n} log ----\n" + open(f).read()[-1500:])


def serve(procs, work, node_id, cluster_path):
    """Starts `embcache serve --cluster PATH --node ID` logging to WORK/ID.log; recorded in `procs` to stop by PID."""
    log = open(os.path.join(work, f"{node_id}.log"), "a")
    p = subprocess.Popen([BIN, "serve", "--cluster", cluster_path, "--node", node_id], cwd=ROOT, stdout=log, stderr=log)
    procs.append(p)
    return p


def pooled_copy(work, mode, source=None):
    """all-MiniLM-L6-v2's files, linked into WORK/mini-MODE, with `mode` pooling ("cls" or "max") instead
    of mean: another checkpoint of the same width, with a fingerprint of its own."""
    import json
    source = source or os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
    out = os.path.join(work, f"mini-{mode}")
    os.makedirs(os.path.join(out, "1_Pooling"))
    for name in os.listdir(source):
        if name != "1_Pooling":
            os.symlink(os.path.join(source, name), os.path.join(out, name))
    pooling = json.load(open(os.path.join(source, "1_Pooling", "config.json")))
    pooling.update(pooling_mode_mean_tokens=False, **{f"pooling_mode_{'cls_token' if mode == 'cls' else 'max_tokens'}": True})
    json.dump(pooling, open(os.path.join(out, "1_Pooling", "config.json"), "w"))
    return out


def floats(b):
    """A vector's float32 little-endian bytes (RESP's reply) as floats."""
    return struct.unpack(f"<{len(b) // 4}f", b)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)


def info_models(client):
    """INFO models as {"model0": {field: value}, ..., "models_weight_bytes": value}, all strings (read raw:
    redis-py would parse and retype INFO itself)."""
    port = client.connection_pool.connection_kwargs["port"]
    with socket.create_connection(("127.0.0.1", port), 30) as s:
        s.sendall(resp("INFO", "models"))
        data = b""
        while not data.endswith(b"\r\n\r\n\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    text = data.split(b"\r\n", 1)[1].decode()
    lines = [l for l in text.splitlines() if l.startswith("model") and ":" in l]
    out = {}
    for l in lines:
        key, value = l.split(":", 1)
        out[key] = dict(kv.split("=", 1) for kv in value.split(",")) if "=" in value else value
    return out
