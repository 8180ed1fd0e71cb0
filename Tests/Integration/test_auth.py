#!/usr/bin/env python3
"""Auth on every door, against real clients and a real redis-server:
- L2 behind `requirepass` (URL password, db 1: AUTH before SELECT) and behind an ACL user, on both
  the hiredis threads (writes, reads) and the event-loop link (a no-L1 node's pipelined MGET);
- a node with a secret (from a file): RESP AUTH / HELLO 3 AUTH, NOAUTH on every command that needs
  it, the throttled brute force (from 127.0.0.2, while 127.0.0.1 is unaffected), HTTP bearer tokens
  with the openai client, /metrics closed, /healthz and /readyz open, the secret nowhere in output;
- a 2-node cluster whose secret comes from an environment variable (peers authenticate);
- the bind policy: no secret + 0.0.0.0 refuses to start; --insecure starts with a loud warning.
Loopback only; everything started here is stopped by PID; loops bounded in count and time."""
import http.client, json, os, signal, socket, subprocess, sys, tempfile, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, resp, stop, summary, wait_port, results
import redis
from openai import OpenAI, AuthenticationError
import httpx2

procs = []
work = tempfile.mkdtemp(prefix="embauth-")
SECRET = "s3cr3t-Auth-Token-9f2b"
REDIS_PASS = "r3dis-Pass-77c1"
ACL_PASS = "acl-Pass-5e0d"
logs = []


def start(args, name, env=None):
    log = open(os.path.join(work, name + ".log"), "w+")
    logs.append((name, log))
    p = subprocess.Popen([BIN, "serve"] + args, cwd=ROOT, stdout=log, stderr=log, env=env)
    procs.append(p)
    return p


def start_redis(port, *extra):
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p); wait_port(port); return p




def raw(port, payload, source="127.0.0.1", timeout=10, want=None):
    """Sends `payload` from `source` and reads until `want` replies' worth of lines or EOF/timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout, source_address=(source, 0))
    s.sendall(payload)
    data = b""
    end = time.time() + timeout
    while time.time() < end and (want is None or data.count(b"\r\n") < want):
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    return data




def http_get(port, path, token=None, source="127.0.0.1", method="GET", body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


try:
    embed_out = subprocess.run([BIN, "embed", "hello world"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    reference = np.array(json.loads(embed_out.splitlines()[0])["embedding"], np.float32)

    # ---- L2 behind requirepass: URL password, db 1 (AUTH must come before SELECT), no L1 so the
    # event-loop MGET link is used too.
    rp = free_port()
    start_redis(rp, "--requirepass", REDIS_PASS)
    admin = redis.Redis(port=rp, password=REDIS_PASS, db=1)
    n1r, n1h = free_port(), free_port()
    n1 = start(["--node", "pw", "--resp", f"127.0.0.1:{n1r}", "--http", f"127.0.0.1:{n1h}", "--redis", f"redis://:{REDIS_PASS}@127.0.0.1:{rp}/1",
                "--l1-max-bytes", "0", "--ttl", "1h"], "pw")
    check("a node starts against a Redis with requirepass", wait_port(n1r) and wait_port(n1h))
    c1 = redis.Redis(port=n1r)
    check("redis:// URL: L2 is up", c1.info("l2")["l2_up"] == 1, str(c1.info("l2")))
    check("redis:// URL: INFO shows no password", REDIS_PASS not in json.dumps(c1.info("all"), default=str))
    first = c1.execute_command("EMBED", "hello world")
    end = time.time() + 5
    while time.time() < end and admin.dbsize() < 1:
        time.sleep(0.05)
    check("requirepass: the write-behind thread authenticated and selected db 1", admin.dbsize() >= 1 and np.array_equal(np.frombuffer(first, "<f4"), reference))
    before = c1.info("tiers")["served_l2"]
    p = c1.pipeline(transaction=False)
    for _ in range(8):
        p.execute_command("EMBED", "hello world")
    res = p.execute()
    check("requirepass: the event-loop link authenticated (pipelined burst answered from L2)",
          all(np.array_equal(np.frombuffer(x, "<f4"), reference) for x in res) and c1.info("tiers")["served_l2"] - before >= 8, str(c1.info("tiers")))
    out = raw(n1r, resp("HELLO", "3", "AUTH", "default", "x") + resp("AUTH", "x"), want=2)
    check("a node with no secret answers AUTH and HELLO AUTH as Redis does (no password configured)",
          out.count(b"-ERR AUTH <password> called without any password configured") == 2, repr(out[:200]))
    stop(n1)

    # The same Redis with the password from a file, and with a wrong password (L2 down, node still serves).
    pwfile = os.path.join(work, "redis.pass"); open(pwfile, "w").write(REDIS_PASS + "\n")
    n2r, n2h = free_port(), free_port()
    n2 = start(["--node", "pwfile", "--resp", f"127.0.0.1:{n2r}", "--http", f"127.0.0.1:{n2h}", "--redis", f"127.0.0.1:{rp}/1",
                "--redis-password-file", pwfile], "pwfile")
    wait_port(n2r)
    check("--redis-password-file: L2 is up", redis.Redis(port=n2r).info("l2")["l2_up"] == 1)
    stop(n2)
    n3r, n3h = free_port(), free_port()
    n3 = start(["--node", "wrongpw", "--resp", f"127.0.0.1:{n3r}", "--http", f"127.0.0.1:{n3h}", "--redis", f"redis://:not-{REDIS_PASS}x@127.0.0.1:{rp}/1"], "wrongpw")
    wait_port(n3r)
    c3 = redis.Redis(port=n3r)
    check("a wrong Redis password: L2 stays down, requests are still answered",
          c3.info("l2")["l2_up"] == 0 and np.array_equal(np.frombuffer(c3.execute_command("EMBED", "hello world"), "<f4"), reference))
    time.sleep(0.3)
    stop(n3)
    wrong_log = open(os.path.join(work, "wrongpw.log")).read()
    check("a refused Redis AUTH is logged, without the password", "redis refused the connection setup" in wrong_log and REDIS_PASS not in wrong_log,
          wrong_log[-500:])
    bad = subprocess.run([BIN, "serve", "--redis", f"redis://:{REDIS_PASS}@127.0.0.1:99999/0", "--resp", f"127.0.0.1:{free_port()}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    check("a malformed --redis is refused without echoing the password", bad.returncode != 0 and REDIS_PASS not in bad.stderr + bad.stdout, bad.stderr[-300:])

    # ---- L2 behind an ACL user (the default user disabled).
    ap = free_port()
    start_redis(ap, "--user", "default", "off", "--user", "embc", "on", f">{ACL_PASS}", "~*", "&*", "+@all")
    n4r, n4h = free_port(), free_port()
    n4 = start(["--node", "acl", "--resp", f"127.0.0.1:{n4r}", "--http", f"127.0.0.1:{n4h}", "--redis", f"redis://embc:{ACL_PASS}@127.0.0.1:{ap}/0",
                "--l1-max-bytes", "0"], "acl")
    wait_port(n4r)
    c4 = redis.Redis(port=n4r)
    c4.execute_command("EMBED", "hello world")
    acl_admin = redis.Redis(port=ap, username="embc", password=ACL_PASS)
    end = time.time() + 5
    while time.time() < end and acl_admin.dbsize() < 1:
        time.sleep(0.05)
    p = c4.pipeline(transaction=False)
    for _ in range(4):
        p.execute_command("EMBED", "hello world")
    p.execute()
    check("ACL user: L2 up, written and read on both kinds of link",
          c4.info("l2")["l2_up"] == 1 and acl_admin.dbsize() >= 1 and c4.info("tiers")["served_l2"] >= 4, str(c4.info("tiers")))
    stop(n4)

    # ---- A node with a secret (from a file).
    secret_file = os.path.join(work, "secret"); open(secret_file, "w").write(SECRET + "\n")
    sr, sh = free_port(), free_port()
    sn = start(["--node", "locked", "--resp", f"127.0.0.1:{sr}", "--http", f"127.0.0.1:{sh}", "--redis", "none", "--secret-file", secret_file], "locked")
    check("a node with --secret-file starts", wait_port(sr) and wait_port(sh))
    # Every command but AUTH / HELLO / QUIT needs the secret; the fast path (pipelined EMBED) too.
    needs = [("EMBED", "x"), ("MEMBED", "x", "y"), ("INVALIDATE", "x"), ("CLUSTER", "RELOAD"), ("CLUSTER", "NODES"), ("PEER.MEMBED", "x"),
             ("PEER.LOCATE", "x"), ("PEER.INVALIDATE", "x"), ("EMBED.WARM", "x"), ("EMBED.LOCATE", "x"), ("INFO",), ("PING",), ("CLIENT", "SETNAME", "z")]
    payload = b"".join(resp(*c) for c in needs)
    out = raw(sr, payload, want=len(needs))
    lines = [l for l in out.split(b"\r\n") if l]
    check("without AUTH every command gets NOAUTH (EMBED, INVALIDATE, CLUSTER RELOAD, PEER.*, ...)",
          len(lines) == len(needs) and all(l.startswith(b"-NOAUTH") for l in lines), repr(out[:300]))
    out = raw(sr, resp("EMBED", "x") * 20, want=20)
    check("without AUTH a pipelined EMBED burst (the fast path) gets NOAUTH", out.count(b"-NOAUTH") == 20, repr(out[:100]))
    authed = redis.Redis(port=sr, password=SECRET)  # redis-py 8: HELLO 3 AUTH default <secret>
    v = authed.execute_command("EMBED", "hello world")
    check("HELLO 3 AUTH user pass (redis-py with a password) works", np.array_equal(np.frombuffer(v, "<f4"), reference))
    check("AUTH user pass (RESP2) works", redis.Redis(port=sr, protocol=2, username="anyone", password=SECRET).ping())
    check("after AUTH: INVALIDATE runs", authed.execute_command("INVALIDATE", "hello world") >= 0)
    try:
        authed.execute_command("CLUSTER", "RELOAD"); reload_err = ""
    except redis.ResponseError as e:
        reload_err = str(e)
    check("after AUTH: CLUSTER RELOAD is served (here: no cluster file)", "not started from a cluster file" in reload_err, reload_err)
    out = raw(sr, resp("HELLO", "3", "AUTH", "default", "wrong") + resp("EMBED", "x"), source="127.0.0.4", want=2)
    check("HELLO 3 AUTH with a wrong password is WRONGPASS and authenticates nothing",
          out.startswith(b"-WRONGPASS") and b"-NOAUTH" in out, repr(out[:200]))

    # Brute force from 127.0.0.2: 6 guesses on one connection take >= 0.1+0.2+0.4+0.8+1.6 s, then even
    # the right password waits; meanwhile 127.0.0.1 and other connections are served at once.
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", sr), 15, source_address=("127.0.0.2", 0))
    s.sendall(b"".join(resp("AUTH", f"guess{i}") for i in range(6)))
    time.sleep(0.3)
    t_ping = time.time()
    pong = raw(sr, resp("AUTH", SECRET) + resp("PING"), want=2)
    ping_seconds = time.time() - t_ping
    check("while 127.0.0.2 is throttled, 127.0.0.1 authenticates at once (the event loop is not blocked)",
          pong == b"+OK\r\n+PONG\r\n" and ping_seconds < 0.5, f"{pong!r} {ping_seconds:.2f}s")
    data = b""
    end = time.time() + 15
    while time.time() < end and data.count(b"\r\n") < 6:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    brute = time.time() - t0
    check("6 wrong AUTHs on one connection take >= 2.5 s (delays 0.1, 0.2, 0.4, 0.8, 1.6 s)",
          data.count(b"-WRONGPASS") == 6 and brute >= 2.5, f"{data.count(b'-WRONGPASS')} in {brute:.2f}s")
    t1 = time.time()
    s.sendall(resp("AUTH", SECRET))
    ok = s.recv(100)
    waited = time.time() - t1
    check("after them, even the right password from that address is judged only after the delay (the 1.6 s cap; no timing oracle)",
          ok == b"+OK\r\n" and 1.5 <= waited < 2.0, f"{ok!r} {waited:.2f}s")
    s.close()
    check("INFO clients counts the failed attempts", authed.info("clients")["auth_failures"] >= 7, str(authed.info("clients")))

    # HTTP: bearer token (the openai client's api_key); 401s in OpenAI's shape; probes open.
    body = json.dumps({"input": "hello world"}).encode()
    for name, token in [("no token", None), ("a wrong token", "wrong-key")]:
        status, data = http_get(sh, "/v1/embeddings", token, source="127.0.0.3", method="POST", body=body)
        err = json.loads(data).get("error", {})
        check(f"HTTP with {name} is 401 in OpenAI's shape", status == 401 and set(err) == {"message", "type", "param", "code"}
              and err["code"] == "invalid_api_key", f"{status} {data[:200]!r}")
    status, _ = http_get(sh, "/metrics", source="127.0.0.5")
    check("/metrics needs the token by default", status == 401, str(status))
    for path in ("/healthz", "/readyz"):
        check(f"{path} stays open", http_get(sh, path, source="127.0.0.5")[0] == 200)
    for path in ("/savings", "/savings/cluster", "/"):
        check(f"{path} needs the token by default, and is served with it",
              http_get(sh, path, source="127.0.0.5")[0] == 401 and http_get(sh, path, SECRET)[0] == 200)
    client = OpenAI(base_url=f"http://127.0.0.1:{sh}/v1", api_key=SECRET)
    e = client.embeddings.create(model="all-MiniLM-L6-v2", input="hello world", encoding_format="float")
    check("openai with api_key=secret works", np.array_equal(np.array(e.data[0].embedding, np.float32), reference))
    bad_client = OpenAI(base_url=f"http://127.0.0.1:{sh}/v1", api_key="not-the-secret", max_retries=0,
                        http_client=httpx2.Client(transport=httpx2.HTTPTransport(local_address="127.0.0.6")))
    try:
        bad_client.embeddings.create(model="all-MiniLM-L6-v2", input="x"); raised = None
    except AuthenticationError as ex:
        raised = ex
    except Exception as ex:
        raised = ex
    check("openai with a wrong api_key raises AuthenticationError (401)", isinstance(raised, AuthenticationError), repr(raised))
    status, metrics = http_get(sh, "/metrics", SECRET)
    check("/metrics with the token is served and counts auth failures", status == 200 and b"embcache_auth_failures_total" in metrics, str(status))
    # The secret is nowhere: INFO, metrics, CLUSTER NODES, error replies, logs.
    seen = [json.dumps(authed.info("all"), default=str).encode(), metrics, authed.execute_command("CLUSTER", "NODES"), data,
            raw(sr, resp("AUTH", SECRET + "x"), source="127.0.0.7", want=1)]
    check("the secret appears in no INFO, metrics, CLUSTER NODES or error reply", not any(SECRET.encode() in x for x in seen))
    stop(sn)

    # ---- A 2-node cluster, secret from an environment variable, metrics public.
    ports = {i: (free_port(), free_port()) for i in ["e1", "e2"]}
    lines = ["cluster:", "  name: envsecret", "  secret_env: EMBCACHE_TEST_SECRET", "  metrics_public: true",
             "model:", f"  path: {ROOT}/models/all-MiniLM-L6-v2", "nodes:"]
    for i, (r_, h_) in ports.items():
        lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{r_}", f"    http: 127.0.0.1:{h_}"]
    cpath = os.path.join(work, "cluster.yaml"); open(cpath, "w").write("\n".join(lines) + "\n")
    env = dict(os.environ, EMBCACHE_TEST_SECRET=SECRET)
    for i in ports:
        start(["--cluster", cpath, "--node", i], i, env=env)
    check("cluster with secret_env starts", all(wait_port(r_) for r_, _ in ports.values()))
    e1 = redis.Redis(port=ports["e1"][0], password=SECRET)
    end = time.time() + 10
    while time.time() < end and e1.execute_command("CLUSTER", "NODES").count(b" up ") < 2:
        time.sleep(0.1)
    texts = [f"cluster text {i}" for i in range(40)]
    remote = next((t for t in texts if e1.execute_command("EMBED.LOCATE", t)[1] == b"e2"), None)
    v = e1.execute_command("EMBED", remote)
    check("secret_env: peers authenticate, a remote key is forwarded", len(v) == 1536 and e1.info("tiers")["served_forwarded"] >= 1, str(e1.info("tiers")))
    wf = os.path.join(work, "warm.txt"); open(wf, "w").write("\n".join(f"warm text {i}" for i in range(20)) + "\n")
    warm = subprocess.run([BIN, "warm", "--cluster", cpath, wf], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    check("embcache warm authenticates with the cluster's secret", warm.returncode == 0 and "failed: 0" in warm.stdout, warm.stdout[-300:] + warm.stderr[-300:])
    check("metrics_public: /metrics and /savings open without a token",
          http_get(ports["e1"][1], "/metrics", source="127.0.0.8")[0] == 200 and http_get(ports["e1"][1], "/savings", source="127.0.0.8")[0] == 200)
    check("metrics_public: /v1 still needs the token", http_get(ports["e1"][1], "/v1/embeddings", source="127.0.0.8", method="POST", body=body)[0] == 401)
    nokey = subprocess.run([BIN, "serve", "--cluster", cpath, "--node", "e1"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env={k: v for k, v in os.environ.items() if k != "EMBCACHE_TEST_SECRET"})
    check("secret_env unset: the node refuses to start, naming the variable", nokey.returncode != 0 and "EMBCACHE_TEST_SECRET" in nokey.stderr,
          nokey.stderr[-300:])

    # ---- Bind policy: beyond loopback needs a secret or --insecure (no traffic is sent to 0.0.0.0).
    br = free_port()
    refused = subprocess.run([BIN, "serve", "--resp", f"0.0.0.0:{br}", "--http", f"127.0.0.1:{free_port()}", "--redis", "none"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    check("0.0.0.0 without a secret refuses to start", refused.returncode != 0 and "refusing to listen" in refused.stderr, refused.stderr[-300:])
    ins = start(["--resp", f"0.0.0.0:{br}", "--http", f"127.0.0.1:{free_port()}", "--redis", "none", "--insecure", "--node", "insecure"], "insecure")
    end = time.time() + 60
    ilog = os.path.join(work, "insecure.log")
    while time.time() < end and "listening" not in open(ilog).read() and ins.poll() is None:
        time.sleep(0.1)
    check("--insecure starts with a loud warning", ins.poll() is None and "INSECURE" in open(ilog).read())
    stop(ins)
    ok_secret = start(["--resp", f"0.0.0.0:{br}", "--http", f"127.0.0.1:{free_port()}", "--redis", "none", "--secret-file", secret_file,
                       "--node", "exposed"], "exposed")
    end = time.time() + 60
    elog = os.path.join(work, "exposed.log")
    while time.time() < end and "listening" not in open(elog).read() and ok_secret.poll() is None:
        time.sleep(0.1)
    check("0.0.0.0 with a secret starts", ok_secret.poll() is None)
    stop(ok_secret)
finally:
    for p in procs:
        stop(p)
    leaked = [name for name, log in logs if (log.flush(), log.seek(0), SECRET in log.read())[2]]
    check("the secret appears in no node log", not leaked, str(leaked))
    if results["failed"]:
        for name, log in logs:
            log.seek(0); print(f"---- {name} log ----\n" + log.read()[-1500:])
sys.exit(summary())
