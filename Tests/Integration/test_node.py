#!/usr/bin/env python3
"""A node against real clients nobody here wrote: redis-py (defaults: RESP3 via HELLO 3), the openai
package, redis-cli; with a real redis-server as L2 that is killed and restarted mid-run.
Starts everything on free loopback ports and stops it by PID. Bounded in count and time."""
import base64, json, os, signal, socket, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, summary, wait_port, results
procs = []



def start_redis(port):
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p); wait_port(port); return p


def kill(p):
    if p.poll() is None:
        p.kill(); p.wait(5)


import redis
from openai import OpenAI

redis_port, resp_port, http_port = free_port(), free_port(), free_port()
rs = start_redis(redis_port)
log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
node = subprocess.Popen([BIN, "serve", "--resp", f"127.0.0.1:{resp_port}", "--http", f"127.0.0.1:{http_port}",
                         "--redis", f"127.0.0.1:{redis_port}", "--ttl", "1h"], cwd=ROOT, stdout=log, stderr=log)
procs.append(node)
try:
    check("node starts and listens", wait_port(resp_port) and wait_port(http_port))
    embed_out = subprocess.run([BIN, "embed", "hello world", "the cache is warm", "ünïcödé text"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    reference = [np.array(json.loads(l)["embedding"], np.float32) for l in embed_out.splitlines()]

    r = redis.Redis(port=resp_port)  # redis-py 8 defaults: protocol 3, HELLO 3 on connect
    v = r.execute_command("EMBED", "hello world")
    a = np.frombuffer(v, "<f4")
    check("redis-py EMBED returns 1536 bytes", len(v) == 1536)
    check("redis-py EMBED equals the encoder's vector", np.array_equal(a, reference[0]))
    vs = r.execute_command("MEMBED", "hello world", "the cache is warm", "ünïcödé text")
    check("redis-py MEMBED answers in request order", all(np.array_equal(np.frombuffer(x, "<f4"), ref) for x, ref in zip(vs, reference)))
    l1_before = r.info("tiers")["served_l1"]
    vs = r.execute_command("MEMBED", "ünïcödé text", "hello world", "the cache is warm")
    check("a MEMBED of cached texts is answered from L1, in order",
          all(np.array_equal(np.frombuffer(x, "<f4"), ref) for x, ref in zip(vs, [reference[2], reference[0], reference[1]]))
          and r.info("tiers")["served_l1"] - l1_before == 3, str(r.info("tiers")))
    vs = r.execute_command("MEMBED", "hello world", "a text only this MEMBED has", "the cache is warm")
    check("a MEMBED with a miss among hits answers each in order",
          len(vs) == 3 and np.array_equal(np.frombuffer(vs[0], "<f4"), reference[0]) and len(vs[1]) == 1536
          and np.array_equal(np.frombuffer(vs[2], "<f4"), reference[1]))
    info = r.info("tiers")
    check("a repeated text is served from L1", info.get("served_l1", 0) >= 1, str(info))
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.execute_command("EMBED", ["hello world", "the cache is warm", "ünïcödé text"][i % 3])
    res = p.execute()
    check("a pipeline of 100 answers every command in order", len(res) == 100 and all(np.array_equal(np.frombuffer(x, "<f4"), reference[i % 3]) for i, x in enumerate(res)))
    check("texts the model cannot tell apart share one entry", r.execute_command("EMBED.LOCATE", "Hello  World")[0] == r.execute_command("EMBED.LOCATE", "hello world")[0])
    loc = r.execute_command("EMBED.LOCATE", "hello world")
    check("EMBED.LOCATE says key, owner and tier", len(loc) == 3 and len(loc[0]) == 32 and loc[2] == b"l1", str(loc))
    r2 = redis.Redis(port=resp_port, protocol=2)
    check("RESP2 clients work too", np.array_equal(np.frombuffer(r2.execute_command("EMBED", "hello world"), "<f4"), reference[0]))
    r.execute_command("CLIENT", "SETNAME", "rag-service")

    # Errors: each gets a clear reply and the connection stays usable.
    def err(*cmd):
        try:
            r.execute_command(*cmd); return None
        except redis.ResponseError as e:
            return str(e)
    check("unknown command is an error", (err("FLY", "away") or "").startswith("unknown command"))
    check("wrong arity is an error", "wrong number of arguments" in (err("EMBED") or ""))
    check("invalid UTF-8 is an error", "UTF-8" in (err("EMBED", b"\xff\xfe") or ""))
    check("invalid UTF-8 past the 256-token truncation is an error too", "UTF-8" in (err("EMBED", b"word " * 400 + b"\xff") or ""))
    check("an oversized text is TOOBIG", "TOOBIG" in (err("EMBED", "x" * (70 << 10)) or ""), err("EMBED", "x" * (70 << 10)))
    check("the connection survives the errors", np.array_equal(np.frombuffer(r.execute_command("EMBED", "hello world"), "<f4"), reference[0]))
    check("an empty text embeds ([CLS] [SEP])", len(r.execute_command("EMBED", "")) == 1536)
    s = socket.create_connection(("127.0.0.1", resp_port)); s.sendall(b"*1\r\n$abc\r\n"); s.settimeout(5)
    check("a malformed frame gets a protocol error", s.recv(200).startswith(b"-ERR Protocol error"))
    s.close()
    check("other clients are unaffected", r.ping())

    # redis-cli, a client nobody here wrote, through its own argument parsing.
    out = subprocess.run(["redis-cli", "-p", str(resp_port), "--no-raw", "EMBED", "hello world"], capture_output=True, timeout=10).stdout
    check("redis-cli EMBED answers", len(out) > 1536, out[:80])
    out = subprocess.run(["redis-cli", "-p", str(resp_port), "INFO", "l1"], capture_output=True, text=True, timeout=10).stdout
    check("redis-cli INFO l1", "l1_entries:" in out, out[:200])

    # OpenAI client: base64 (its default) and float.
    client = OpenAI(base_url=f"http://127.0.0.1:{http_port}/v1", api_key="unused")
    e = client.embeddings.create(model="all-MiniLM-L6-v2", input=["hello world", "the cache is warm"])
    check("openai (base64 default) returns the encoder's vectors", all(np.allclose(np.array(d.embedding, np.float32), ref, atol=0) for d, ref in zip(e.data, reference)))
    e = client.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2", input="hello world", encoding_format="float")
    check("openai float format", np.array_equal(np.array(e.data[0].embedding, np.float32), reference[0]))
    check("usage counts prompt tokens", e.usage.prompt_tokens == 4, str(e.usage))
    long_text = " ".join(["word"] * 400)  # truncated to 256 tokens ([CLS] + 254 + [SEP])
    first = client.embeddings.create(model="all-MiniLM-L6-v2", input=[long_text, "hello world"]).usage.prompt_tokens
    again = client.embeddings.create(model="all-MiniLM-L6-v2", input=[long_text, "hello world"]).usage.prompt_tokens
    check("usage counts tokens after truncation, computed or cached alike", first == again == 256 + 4, f"{first} {again}")
    # HTTP hits are answered on the event loop from L1: the same vectors, usage and order as computed
    # answers, over both reply formats; a request with one uncached text takes the full path.
    fresh = [f"an http text computed once {i}" for i in range(3)]
    tiers0 = r.info("tiers")
    computed = {f: client.embeddings.create(model="all-MiniLM-L6-v2", input=fresh, encoding_format=f) for f in ("float", "base64")}
    tiers1 = r.info("tiers")
    cached = {f: client.embeddings.create(model="all-MiniLM-L6-v2", input=fresh[::-1], encoding_format=f) for f in ("float", "base64")}
    tiers2 = r.info("tiers")
    check("HTTP: texts computed once (the float request), then hits (base64)", tiers1["served_computed"] - tiers0["served_computed"] == 3
          and tiers1["served_l1"] - tiers0["served_l1"] == 3, f"{tiers0} {tiers1}")
    check("HTTP hits are served from L1", tiers2["served_l1"] - tiers1["served_l1"] == 6 and tiers2["served_computed"] == tiers1["served_computed"], f"{tiers1} {tiers2}")
    def vectors(reply):  # asked for explicitly, base64 comes back as the string the node sent
        return [np.frombuffer(base64.b64decode(d.embedding), "<f4") if isinstance(d.embedding, str) else np.array(d.embedding, np.float32)
                for d in reply.data]
    for f in ("float", "base64"):
        a, b = vectors(computed[f]), vectors(cached[f])[::-1]
        check(f"HTTP hits ({f}): the same vectors, in request order, as the computed answer",
              all(np.array_equal(x, y) for x, y in zip(a, b)) and [d.index for d in cached[f].data] == [0, 1, 2])
        check(f"HTTP hits ({f}): the same usage", cached[f].usage.prompt_tokens == computed[f].usage.prompt_tokens > 0)
    raw = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/embeddings",
          data=json.dumps({"input": fresh[0], "encoding_format": "float"}).encode(), headers={"Content-Type": "application/json"}), timeout=10).read().decode()
    tokens = raw.split('"embedding":[', 1)[1].split("]", 1)[0].split(",")
    def digits(t):  # significant digits of a decimal literal
        return len(t.lstrip("-").split("e")[0].replace(".", "").strip("0"))
    shortest = [np.format_float_scientific(np.float32(t), unique=True) for t in tokens]
    check("HTTP hit floats: each reads back as the float32 and is as short as the shortest form",
          len(tokens) == 384 and np.array_equal(np.array(tokens, np.float32), np.array(computed["float"].data[0].embedding, np.float32))
          and all(digits(t) <= digits(m) for t, m in zip(tokens, shortest)), str([(t, m) for t, m in zip(tokens, shortest) if digits(t) > digits(m)][:3]))
    mixed = client.embeddings.create(model="all-MiniLM-L6-v2", input=[fresh[1], "an uncached text among hits", fresh[2]], encoding_format="float")
    check("HTTP: a miss among hits takes the full path, answers in order",
          np.array_equal(np.array(mixed.data[0].embedding, np.float32), np.array(computed["float"].data[1].embedding, np.float32))
          and np.array_equal(np.array(mixed.data[2].embedding, np.float32), np.array(computed["float"].data[2].embedding, np.float32)))
    try:
        client.embeddings.create(model="text-embedding-3-small", input="x"); check("unknown model is 404", False)
    except Exception as ex:
        check("unknown model is 404 model_not_found", getattr(ex, "status_code", None) == 404 and getattr(ex, "code", None) == "model_not_found", repr(ex))
    for path in ("/healthz", "/readyz"):
        check(f"GET {path}", urllib.request.urlopen(f"http://127.0.0.1:{http_port}{path}", timeout=5).status == 200)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5).read().decode()
    check("metrics: requests by command, results by tier, callers", 'command="embed"' in metrics and 'tier="l1"' in metrics and 'caller="rag-service"' in metrics)

    # HTTP errors, each in OpenAI's shape, and the node stays up.
    def post(body, raw=False):
        data = body if raw else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/embeddings", data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")
    for name, body, status in [("invalid JSON is 400", b"{nope", 400), ("missing input is 400", {"model": "all-MiniLM-L6-v2"}, 400),
                               ("input of numbers is 400", {"input": [1, 2]}, 400), ("an empty input list is 400", {"input": []}, 400),
                               ("2049 inputs are 413", {"input": ["x"] * 2049}, 413), ("a 70 KiB text is 413", {"input": "y" * (70 << 10)}, 413),
                               ("a bad encoding_format is 400", {"input": "x", "encoding_format": "int8"}, 400)]:
        code, err_body = post(body, raw=isinstance(body, bytes))
        check(f"HTTP: {name}", code == status and "message" in err_body.get("error", {}), f"{code} {err_body}")
    big = b'{"input": "' + b"z" * (33 << 20) + b'"}'
    check("HTTP: a body over 32 MiB is 413", post(big, raw=True)[0] == 413)
    code, ok_body = post({"input": "hello world", "user": "batch-job"})
    check("HTTP: the node still answers after the errors", code == 200 and ok_body["data"][0]["index"] == 0)

    # A client that vanishes mid-request does not hurt the node.
    s = socket.create_connection(("127.0.0.1", resp_port))
    s.sendall(b"*2\r\n$5\r\nEMBED\r\n$26\r\na text whose client leaves\r\n"); s.close()
    s = socket.create_connection(("127.0.0.1", resp_port))
    s.sendall(b"*2\r\n$5\r\nEMBED\r\n$10\r\nhalf a fra"); s.close()
    time.sleep(0.5)
    check("vanished clients: the node keeps serving", np.array_equal(np.frombuffer(r.execute_command("EMBED", "hello world"), "<f4"), reference[0]))

    # A second node with a tiny encoder queue and a short idle timeout: -BUSY instead of growing; idle close.
    small_resp, small_http = free_port(), free_port()
    small = subprocess.Popen([BIN, "serve", "--resp", f"127.0.0.1:{small_resp}", "--http", f"127.0.0.1:{small_http}", "--redis", "none",
                              "--encoder-queue", "2", "--idle-timeout", "1", "--node", "small"], cwd=ROOT, stdout=log, stderr=log)
    procs.append(small); wait_port(small_resp)
    rsmall = redis.Redis(port=small_resp, protocol=2)
    try:
        rsmall.execute_command("MEMBED", *[f"busy text {i}" for i in range(64)]); busy = ""
    except redis.ResponseError as e:
        busy = str(e)
    check("a full encoder queue answers BUSY", busy.startswith("BUSY"), busy)
    check("after BUSY the node still answers", len(rsmall.execute_command("EMBED", "after busy")) == 1536)
    code = None
    try:
        body = json.dumps({"input": [f"busy http {i}" for i in range(64)]}).encode()
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{small_http}/v1/embeddings", data=body), timeout=30)
    except urllib.error.HTTPError as e:
        code = e.code
    check("a full encoder queue is HTTP 503", code == 503, str(code))
    idle = socket.create_connection(("127.0.0.1", small_resp)); idle.settimeout(5)
    time.sleep(2.5)
    try:
        closed = idle.recv(10) == b""
    except OSError:
        closed = True
    check("an idle connection is closed after --idle-timeout", closed)
    talker = socket.create_connection(("127.0.0.1", small_resp)); talker.settimeout(5)
    alive = True
    for _ in range(7):  # 2.8 s of a request every 0.4 s, against a 1 s timeout (a raw socket: no silent reconnects)
        try:
            talker.sendall(b"PING\r\n")
            alive = alive and talker.recv(10) == b"+PONG\r\n"
        except OSError:
            alive = False
        time.sleep(0.4)
    talker.close()
    check("a connection that keeps talking is not idle", alive)
    kill(small)

    # L2: after an L1 flush (a node restart keeps Redis), the entry comes from Redis.
    time.sleep(0.3)
    kill(node)
    node = subprocess.Popen([BIN, "serve", "--resp", f"127.0.0.1:{resp_port}", "--http", f"127.0.0.1:{http_port}",
                             "--redis", f"127.0.0.1:{redis_port}"], cwd=ROOT, stdout=log, stderr=log)
    procs.append(node); wait_port(resp_port)
    r = redis.Redis(port=resp_port)
    check("after a restart the vector comes from L2", np.array_equal(np.frombuffer(r.execute_command("EMBED", "the cache is warm"), "<f4"), reference[1]) and r.info("tiers")["served_l2"] == 1, str(r.info("tiers")))

    # L2 on the event loop: a node without L1 answers known texts with one MGET per pipelined burst.
    l2_resp, l2_http = free_port(), free_port()
    l2node = subprocess.Popen([BIN, "serve", "--node", "l2only", "--resp", f"127.0.0.1:{l2_resp}", "--http", f"127.0.0.1:{l2_http}",
                               "--redis", f"127.0.0.1:{redis_port}", "--l1-max-bytes", "0", "--ttl", "1h"], cwd=ROOT, stdout=log, stderr=log)
    procs.append(l2node); wait_port(l2_resp)
    r0 = redis.Redis(port=l2_resp)
    r0.execute_command("EMBED", "the cache is warm")  # learns the text (tokenized once)
    served = r0.info("tiers")["served_l2"]
    pipe = r0.pipeline(transaction=False)
    for i in range(16):
        pipe.execute_command("EMBED", ["the cache is warm", "hello world", "ünïcödé text"][i % 3])
    res = pipe.execute()
    check("no L1: a pipelined burst of known texts is answered from L2 in order",
          all(np.array_equal(np.frombuffer(x, "<f4"), reference[[1, 0, 2][i % 3]]) for i, x in enumerate(res))
          and r0.info("tiers")["served_l2"] - served >= 6, str(r0.info("tiers")))
    stored = "emb:" + r0.execute_command("EMBED.LOCATE", "the cache is warm")[0].decode()
    raw = redis.Redis(port=redis_port)
    raw.set(stored, b"not a record")
    computed = r0.info("tiers")["served_computed"]
    check("an undecodable L2 value is a miss: recomputed, answered right",
          np.array_equal(np.frombuffer(r0.execute_command("EMBED", "the cache is warm"), "<f4"), reference[1])
          and r0.info("tiers")["served_computed"] == computed + 1, str(r0.info("tiers")))
    deadline = time.time() + 5
    while time.time() < deadline and (raw.get(stored) or b"")[:4] != b"EMBv":
        time.sleep(0.05)
    check("the undecodable L2 value is overwritten", (raw.get(stored) or b"")[:4] == b"EMBv")
    old = raw.get(stored)
    raw.set(stored, old[:8] + np.array([time.time() - 7200], "<f8").tobytes() + old[16:])  # created 2 h ago, TTL 1 h
    computed = r0.info("tiers")["served_computed"]
    check("an L2 value older than the TTL is recomputed",
          np.array_equal(np.frombuffer(r0.execute_command("EMBED", "the cache is warm"), "<f4"), reference[1])
          and r0.info("tiers")["served_computed"] == computed + 1, str(r0.info("tiers")))
    deadline = time.time() + 5  # the recomputed value lands (write-behind) before it is deleted
    while time.time() < deadline and np.frombuffer((raw.get(stored) or bytes(16))[8:16], "<f8")[0] < time.time() - 60:
        time.sleep(0.05)
    raw.delete(stored)
    mgets = lambda: raw.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)
    before = mgets()
    answer = r0.execute_command("EMBED", "the cache is warm")
    check("an L2 miss on the event-loop path asks Redis once, then computes",
          np.array_equal(np.frombuffer(answer, "<f4"), reference[1]) and mgets() - before == 1, f"{mgets() - before} MGETs")

    # 1,000 concurrent identical misses: one computation.
    before = r.info("encoder")["texts"]
    def one(_):
        return redis.Redis(port=resp_port, protocol=2).execute_command("EMBED", "a brand new text nobody asked for yet")
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(one, range(1000)))
    check("1,000 concurrent identical misses: all answered alike", len(set(answers)) == 1 and len(answers) == 1000)
    check("1,000 concurrent identical misses: exactly one encoder computation", r.info("encoder")["texts"] - before == 1, str(r.info("encoder")))

    # Redis killed mid-run: every request still answered correctly; restarted: L2 used again.
    texts = [f"text number {i} for the outage test" for i in range(60)]
    expected = {t: r.execute_command("EMBED", t) for t in texts[:30]}
    kill(rs)
    bad = 0
    for t in texts:
        v = r.execute_command("EMBED", t)
        if len(v) != 1536 or (t in expected and v != expected[t]):
            bad += 1
    check("with Redis dead every request is answered correctly", bad == 0)
    # The no-L1 node's event-loop MGET fails on the dead link: its known texts are computed instead.
    pipe = r0.pipeline(transaction=False)
    for i in range(8):
        pipe.execute_command("EMBED", ["the cache is warm", "hello world"][i % 2])
    res = pipe.execute()
    check("with Redis dead a no-L1 node still answers its known texts",
          all(np.array_equal(np.frombuffer(x, "<f4"), reference[[1, 0][i % 2]]) for i, x in enumerate(res)))
    kill(l2node)
    check("INFO shows L2 down", r.info("l2")["l2_up"] == 0)
    rs = start_redis(redis_port)
    end = time.time() + 10
    while time.time() < end and r.info("l2")["l2_up"] != 1:
        time.sleep(0.1)
    check("Redis restarted: the node uses it again", r.info("l2")["l2_up"] == 1)
    r.execute_command("EMBED", "written after the restart")
    time.sleep(0.5)
    check("new entries reach the restarted Redis", redis.Redis(port=redis_port).dbsize() >= 1)

    check("INVALIDATE removes from L1 and L2", r.execute_command("INVALIDATE", "written after the restart") == 1
          and r.execute_command("EMBED.LOCATE", "written after the restart")[2] == b"miss")

    # Graceful shutdown on SIGTERM.
    node.send_signal(signal.SIGTERM)
    try:
        node.wait(15); check("SIGTERM stops the node cleanly", node.returncode == 0, str(node.returncode))
    except subprocess.TimeoutExpired:
        check("SIGTERM stops the node cleanly", False, "still running after 15 s")
finally:
    for p in procs:
        kill(p)
    log.seek(0)
    if results["failed"]:
        print("---- node log ----\n" + log.read()[-3000:])
    os.unlink(log.name)
sys.exit(summary())
