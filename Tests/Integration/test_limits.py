#!/usr/bin/env python3
"""Bounded under floods: max clients (RESP -ERR, HTTP 503), the per-connection output cap and
backpressure (a client that never reads is dropped, the node does not grow), the request timeout
(-BUSY / 503, the connection stays usable). Loopback only; stops what it starts by PID; bounded."""
import http.client, json, os, socket, subprocess, sys, tempfile, time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, resp, stop, summary, wait_port, results
import redis

procs = []
log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)


def start(args):
    r, h = free_port(), free_port()
    p = subprocess.Popen([BIN, "serve", "--resp", f"127.0.0.1:{r}", "--http", f"127.0.0.1:{h}", "--redis", "none"] + args,
                         cwd=ROOT, stdout=log, stderr=log)
    procs.append(p)
    wait_port(r); wait_port(h)
    return p, r, h




def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0




def closed_by_peer(s, seconds):
    """Drains `s` until the node closes it (True) or `seconds` pass (False)."""
    s.settimeout(0.5)
    end = time.time() + seconds
    while time.time() < end:
        try:
            if not s.recv(1 << 20):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name) and not l.startswith("#"))


try:
    # ---- Max clients: RESP and HTTP together.
    node, rp, hp = start(["--max-clients", "4", "--node", "maxc"])
    held = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", rp), 5); s.sendall(b"PING\r\n"); s.recv(10); held.append(s)
    extra = socket.create_connection(("127.0.0.1", rp), 5); extra.settimeout(5)
    got = extra.recv(100)
    check("over --max-clients a RESP connection gets -ERR max number of clients reached", got == b"-ERR max number of clients reached\r\n", repr(got))
    check("... and is closed", closed_by_peer(extra, 5))
    c = http.client.HTTPConnection("127.0.0.1", hp, timeout=5)
    try:
        c.request("GET", "/healthz"); r = c.getresponse(); status, body = r.status, json.loads(r.read())
    except Exception as ex:
        status, body = repr(ex), {}
    check("over --max-clients an HTTP request gets 503 in OpenAI's shape", status == 503 and body.get("error", {}).get("code") == "max_clients",
          f"{status} {body}")
    for s in held[:2]:
        s.close()
    ok = False
    end = time.time() + 5
    while time.time() < end and not ok:
        s = socket.create_connection(("127.0.0.1", rp), 5); s.settimeout(5); s.sendall(b"PING\r\n")
        ok = s.recv(10) == b"+PONG\r\n"; s.close()
        time.sleep(0.05)
    check("closed connections free their slots", ok)
    info = redis.Redis(port=rp, protocol=2).info("clients")
    check("INFO clients: rejected_connections counted", info["rejected_connections"] >= 2 and info["maxclients"] == 4, str(info))
    for s in held[2:]:
        s.close()
    stop(node)

    # ---- Output cap and backpressure.
    node, rp, hp = start(["--max-output-bytes", "2MiB", "--idle-timeout", "2", "--node", "outcap"])
    r = redis.Redis(port=rp, protocol=2)
    texts = [f"output cap text {i}" for i in range(256)]
    r.execute_command("MEMBED", *texts)  # now all hits: each MEMBED reply is 256 x 1536 B = 384 KiB
    base_rss = rss_mb(node.pid)
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.connect(("127.0.0.1", rp))
    s.sendall(resp("MEMBED", *texts) * 40)  # 15 MiB of replies owed, none read
    end = time.time() + 10
    while time.time() < end and metric(hp, 'embcache_connections_dropped_total{reason="output"}') < 1:
        time.sleep(0.1)
    check("a client owing more than --max-output-bytes is dropped", metric(hp, 'embcache_connections_dropped_total{reason="output"}') >= 1)
    check("... its connection is closed", closed_by_peer(s, 5))
    s.close()
    check("other clients are served throughout", r.ping() and len(r.execute_command("EMBED", texts[1])) == 1536)
    stop(node)

    # A client that pipelines small requests and never reads, under the default 64 MiB cap: reading
    # stops (backpressure), the node does not grow, and its silence closes it after --idle-timeout.
    node, rp, hp = start(["--idle-timeout", "2", "--node", "backpressure"])
    r = redis.Redis(port=rp, protocol=2)
    r.execute_command("EMBED", texts[0])
    base_rss = rss_mb(node.pid)
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.connect(("127.0.0.1", rp))
    s.setblocking(False)
    burst = resp("EMBED", texts[0]) * 1000
    sent, dropped, grown = 0, False, 0.0
    t0 = time.time()
    while time.time() < t0 + 8 and not dropped:
        try:
            sent += s.send(burst)
        except BlockingIOError:
            grown = max(grown, rss_mb(node.pid) - base_rss)
            time.sleep(0.05)
        except OSError:
            dropped = True  # reset: the node closed it with our unread requests in its buffer
    check("a client that never reads stops being read (its sends block), the node does not grow",
          sent < 16 * 1024 * 1024 and grown < 40, f"sent {sent / 1048576:.1f} MiB, RSS +{grown:.1f} MiB")
    s.setblocking(True)
    dropped = dropped or closed_by_peer(s, 8)
    check("a client that never reads is dropped after --idle-timeout", dropped and time.time() - t0 >= 1.5, f"{time.time() - t0:.1f}s")
    s.close()
    check("other clients are served throughout", r.ping() and len(r.execute_command("EMBED", texts[1])) == 1536)
    h = socket.create_connection(("127.0.0.1", hp), 5)
    h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    h.settimeout(5)
    first = h.recv(4096)
    t0 = time.time()
    check("an idle HTTP keep-alive connection is closed after --idle-timeout",
          first.startswith(b"HTTP/1.1 200") and closed_by_peer(h, 6) and time.time() - t0 >= 1.5, f"{first[:20]!r} {time.time() - t0:.1f}s")
    h.close()
    stop(node)

    # ---- A request that never ends: past 32 MiB unfinished, a protocol error and the connection closed.
    node, rp, hp = start(["--node", "hugereq"])
    s = socket.create_connection(("127.0.0.1", rp), 10)
    arg = b"$60000\r\n" + b"z" * 60000 + b"\r\n"
    reply = b""
    try:
        s.sendall(b"*2049\r\n$6\r\nMEMBED\r\n")
        for _ in range(600):  # 36 MB of a 123 MB MEMBED
            s.sendall(arg)
    except OSError:
        pass
    s.settimeout(5)
    try:
        reply = s.recv(200)
    except OSError:
        pass
    check("an unfinished request past 32 MiB gets a protocol error", reply.startswith(b"-ERR Protocol error: request over"), repr(reply[:80]))
    check("... and is closed", closed_by_peer(s, 5))
    s.close()
    check("the node still answers", redis.Redis(port=rp, protocol=2).ping())
    stop(node)

    # ---- Request timeout: a request the encoder cannot finish in time gets -BUSY / 503; the connection stays usable.
    node, rp, hp = start(["--request-timeout", "0.2", "--node", "timeout"])
    r = redis.Redis(port=rp, protocol=2)
    long_texts = [" ".join(f"word{i}x{j}" for j in range(120)) for i in range(256)]
    t0 = time.time()
    try:
        r.execute_command("MEMBED", *long_texts[:128]); reply = ""
    except redis.ResponseError as e:
        reply = str(e)
    took = time.time() - t0
    check("a request over --request-timeout is answered BUSY, in time", reply.startswith("BUSY") and "timed out" in reply and took < 2,
          f"{reply!r} after {took:.2f}s")
    check("after a timeout the connection still answers", r.ping())
    c = http.client.HTTPConnection("127.0.0.1", hp, timeout=30)
    c.request("POST", "/v1/embeddings", body=json.dumps({"input": long_texts[128:]}), headers={"Content-Type": "application/json"})
    answer = c.getresponse(); body = json.loads(answer.read())
    check("an HTTP request over --request-timeout is 503 code=timeout", answer.status == 503 and body["error"]["code"] == "timeout", f"{answer.status} {body}")
    c.request("GET", "/healthz"); answer = c.getresponse(); answer.read()
    check("... and its keep-alive connection still answers", answer.status == 200)
    stop(node)
finally:
    for p in procs:
        stop(p)
    log.seek(0)
    if results["failed"]:
        print("---- node log ----\n" + log.read()[-3000:])
    os.unlink(log.name)
sys.exit(summary())
