#!/usr/bin/env python3
"""TLS on every door, against real clients: certificates made by Scripts/make-dev-certs (openssl);
one node whose cluster file has a `tls:` section (peers: mutual);
- RESP: redis-cli --tls --cacert, redis-py ssl=True with ssl_ca_certs (EMBED equals the CLI's vector);
- HTTPS: curl --cacert /readyz, the openai client with the CA bundle through httpx verify=;
- a plaintext client on each TLS port: told in its protocol, one log line (per door and address per
  minute), node still up;
- a client that does not trust the node's CA fails its handshake (the server logs it once);
- mutual TLS on the peer side: PEER.* refused without a client certificate (NOPEERCERT), served with a
  certificate of the cluster's CA (Python ssl and openssl s_client), the handshake refused with a
  certificate of another CA;
- peer links over mutual TLS: two nodes of the cluster's CA forward to each other (vectors right);
  a node of another CA is never a peer and both sides serve every text themselves, right;
- SIGHUP: a renewed certificate is served to new handshakes while a connection opened before keeps
  working; a broken certificate file is refused and the served one kept;
- client_auth: required: a certificate of the CA from every client, RESP and HTTPS;
- bad TLS settings refused at start with a message naming the key and the file;
- the L2 path Docs/operations.md gives for a Redis on another host: a TLS-only Redis (tls-port)
  reached through an stunnel client on loopback (hiredis has no TLS).
Loopback only; everything started here is stopped by PID; loops bounded in count and time."""
import json, os, shutil, signal, socket, ssl, subprocess, sys, tempfile, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, resp, stop_all, summary, wait_port, results
import httpx
import redis
from openai import OpenAI

procs = []
work = tempfile.mkdtemp(prefix="embtls-")
CERTS = os.path.join(work, "certs")
FOREIGN = os.path.join(work, "foreign")
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")


def sh(*args, timeout=60, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)


def cluster_file(name, resp_port, http_port, tls, redis_line=""):
    path = os.path.join(work, name + ".yaml")
    with open(path, "w") as f:
        f.write(f"cluster:\n  name: {name}\nmodel:\n  path: {MODEL}\n{tls}\n"
                f"nodes:\n  - id: n1\n    resp: 127.0.0.1:{resp_port}\n    http: 127.0.0.1:{http_port}\n{redis_line}")
    return path


def start_tls_redis_behind_stunnel():
    """A Redis that speaks only TLS (tls-port, port 0) and an stunnel client in front of it on
    loopback: the L2 path Docs/operations.md gives for a Redis on another host. Returns the port the
    node uses (stunnel's) and Redis's TLS port."""
    redis_tls, tunnel = free_port(), free_port()
    procs.append(subprocess.Popen(["redis-server", "--port", "0", "--tls-port", str(redis_tls), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--tls-cert-file", os.path.join(CERTS, "n1.pem"),
                                   "--tls-key-file", os.path.join(CERTS, "n1-key.pem"), "--tls-ca-cert-file", os.path.join(CERTS, "ca.pem"),
                                   "--tls-auth-clients", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    conf = os.path.join(work, "stunnel.conf")
    with open(conf, "w") as f:
        f.write(f"foreground = yes\npid =\n[redis]\nclient = yes\naccept = 127.0.0.1:{tunnel}\nconnect = 127.0.0.1:{redis_tls}\n"
                f"CAfile = {os.path.join(CERTS, 'ca.pem')}\nverifyChain = yes\ncheckIP = 127.0.0.1\n")
    procs.append(subprocess.Popen(["stunnel4", conf], stdout=open(os.path.join(work, "stunnel.log"), "w"), stderr=subprocess.STDOUT))
    wait_port(redis_tls)
    wait_port(tunnel)
    return tunnel, redis_tls


TLS = "tls:\n  cert: certs/{node}.pem\n  key: certs/{node}-key.pem\n  ca: certs/ca.pem\n  peers: mutual\n"


def log_lines(words):
    with open(os.path.join(work, "n1.log")) as f:
        return [l for l in f if words in l]


def wait_log(words, count, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        if len(log_lines(words)) >= count:
            return True
        time.sleep(0.05)
    return False


def tls_socket(port, cert=None, ca=None, timeout=10, source="127.0.0.1"):
    """A TLS connection to the node (checked with `ca`, default the cluster's), showing `cert` (a
    make-dev-certs name like "certs/peer") when given, from loopback address `source`."""
    context = ssl.create_default_context(cafile=ca or os.path.join(CERTS, "ca.pem"))
    if cert:
        context.load_cert_chain(os.path.join(work, cert + ".pem"), os.path.join(work, cert + "-key.pem"))
    s = socket.create_connection(("127.0.0.1", port), timeout, source_address=(source, 0))
    return context.wrap_socket(s, server_hostname="127.0.0.1")


def ask(s, *command, lines=1, timeout=10):
    """Sends one RESP command on `s` and reads until `lines` CRLFs or EOF."""
    s.sendall(resp(*command))
    data, end = b"", time.time() + timeout
    while data.count(b"\r\n") < lines and time.time() < end:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def served_certificate(port):
    with tls_socket(port) as s:
        return s.getpeercert(binary_form=True)


def file_certificate(name):
    return ssl.PEM_cert_to_DER_cert(open(os.path.join(CERTS, name)).read())


try:
    for d in (CERTS, FOREIGN):
        r = sh(os.path.join(ROOT, "Scripts", "make-dev-certs"), d, "n1")
        assert r.returncode == 0, r.stderr
    again = sh(os.path.join(ROOT, "Scripts", "make-dev-certs"), CERTS, "n1")
    check("make-dev-certs is idempotent (a second run issues nothing)", again.returncode == 0 and "issued" not in again.stderr, again.stderr)
    reference = np.array(json.loads(sh(BIN, "embed", "hello world", cwd=ROOT).stdout.splitlines()[0])["embedding"], np.float32)

    resp_port, http_port = free_port(), free_port()
    tunnel, redis_tls = start_tls_redis_behind_stunnel()
    path = cluster_file("tls", resp_port, http_port, TLS, f"    redis: 127.0.0.1:{tunnel}/0\n")
    log = open(os.path.join(work, "n1.log"), "w")
    node = subprocess.Popen([BIN, "serve", "--cluster", path, "--node", "n1"], cwd=ROOT, stdout=log, stderr=log)
    procs.append(node)
    check("the TLS node listens", wait_port(resp_port, 60) and wait_port(http_port, 60))
    ca = os.path.join(CERTS, "ca.pem")

    # ---- RESP over TLS: redis-cli and redis-py, unchanged but for the TLS flags.
    r = sh("redis-cli", "--tls", "--cacert", ca, "-p", str(resp_port), "PING")
    check("redis-cli --tls --cacert PING", r.stdout.strip() == "PONG", r.stdout + r.stderr)
    r = sh("redis-cli", "--tls", "--cacert", ca, "-p", str(resp_port), "EMBED.LOCATE", "hello world")
    check("redis-cli --tls --cacert EMBED.LOCATE", r.returncode == 0 and len(r.stdout.split()) == 3, r.stdout + r.stderr)
    client = redis.Redis(host="127.0.0.1", port=resp_port, ssl=True, ssl_ca_certs=ca, socket_timeout=30)
    vector = np.frombuffer(client.execute_command("EMBED", "hello world"), np.float32)
    check("redis-py ssl=True EMBED equals the CLI's vector", vector.shape == reference.shape and np.allclose(vector, reference, atol=1e-5))
    batch = client.execute_command("MEMBED", "hello world", "goodbye world")
    check("redis-py ssl=True MEMBED", len(batch) == 2 and np.allclose(np.frombuffer(batch[0], np.float32), reference, atol=1e-5))

    # ---- L2 over TLS: hiredis writes through the stunnel client on loopback into the TLS-only Redis.
    keys, end = [], time.time() + 10
    while not keys and time.time() < end:
        keys = sh("redis-cli", "--tls", "--cacert", ca, "-p", str(redis_tls), "--scan", "--pattern", "*").stdout.split()
        time.sleep(0.1)
    check("L2 through stunnel: the vectors land in the TLS-only Redis", len(keys) >= 2, f"{keys}")
    r = sh("redis-cli", "-p", str(redis_tls), "PING")
    check("(that Redis refuses plaintext)", "PONG" not in r.stdout, r.stdout)

    # ---- HTTPS: curl and the openai client with the CA bundle.
    r = sh("curl", "-sf", "--cacert", ca, f"https://127.0.0.1:{http_port}/readyz")
    check("curl --cacert https /readyz", r.returncode == 0, r.stderr)
    with httpx.Client(verify=ca, timeout=30) as http:
        ai = OpenAI(base_url=f"https://127.0.0.1:{http_port}/v1", api_key="unused", http_client=http)
        out = ai.embeddings.create(model="all-MiniLM-L6-v2", input=["hello world", "goodbye world"])
        check("openai client over HTTPS (httpx verify=CA)", len(out.data) == 2 and np.allclose(out.data[0].embedding, reference, atol=1e-5))

    # ---- Plaintext on a TLS port: told in its protocol, one log line each, the node stays up.
    words = "plaintext client on a TLS port refused"
    with socket.create_connection(("127.0.0.1", resp_port), 10) as s:
        got = ask(s, "PING")
        check("plaintext RESP gets -ERR this port speaks TLS", got.startswith(b"-ERR this port speaks TLS"), repr(got))
        check("then the connection is closed", s.recv(100) == b"")
    r = sh("redis-cli", "-p", str(resp_port), "PING")
    check("redis-cli without --tls prints the reason", "this port speaks TLS" in r.stdout + r.stderr, r.stdout + r.stderr)
    r = sh("curl", "-s", f"http://127.0.0.1:{http_port}/readyz", "-o", "/dev/null", "-w", "%{http_code}")
    check("plaintext HTTP gets 400", r.stdout == "400", r.stdout)
    # One line per door and client address per minute: the second RESP client (same address) is folded.
    check("one log line per door and address (2 for the 3 clients)", wait_log(words, 2) and (time.sleep(0.3) or len(log_lines(words)) == 2),
          "".join(log_lines(words)))
    with socket.create_connection(("127.0.0.1", resp_port), 10, source_address=("127.0.0.2", 0)) as s:
        ask(s, "PING")
    check("a plaintext client from another address gets its own line", wait_log(words, 3) and any("127.0.0.2" in l for l in log_lines(words)))
    check("the log line names the listener and the client", any("listener=resp" in l and "remote=" in l for l in log_lines(words)))
    check("and no other line about them (no 'TLS handshake refused')", not log_lines("TLS handshake refused"))
    check("the node is still up after them", client.execute_command("PING") in (b"PONG", True) and node.poll() is None)

    # ---- A client that does not trust this node's CA fails the handshake; the server logs it once.
    try:
        tls_socket(resp_port, ca=os.path.join(FOREIGN, "ca.pem")).close()
        distrust = False
    except ssl.SSLCertVerificationError:
        distrust = True
    check("a client trusting another CA refuses the node's certificate", distrust)
    check("the refused handshake is one log line", wait_log("TLS handshake refused", 1), open(os.path.join(work, "n1.log")).read()[-800:])

    # ---- Mutual TLS for peers: PEER.* needs a client certificate of the cluster's CA.
    with tls_socket(resp_port) as s:
        got = ask(s, "PEER.LOCATE", "hello world")
        check("PEER.LOCATE without a client certificate: NOPEERCERT", got.startswith(b"-NOPEERCERT"), repr(got))
        got = ask(s, "PEER.MEMBED", "hello world")
        check("PEER.MEMBED (the fast path) without a certificate: NOPEERCERT", got.startswith(b"-NOPEERCERT"), repr(got))
        check("ordinary commands still work there", ask(s, "PING") == b"+PONG\r\n")
    for cert in ("certs/peer", "certs/n1"):
        with tls_socket(resp_port, cert=cert) as s:
            got = ask(s, "PEER.LOCATE", "hello world")
            check(f"PEER.LOCATE with {cert}.pem (the cluster's CA) is served", got.startswith(b"$") and b"l1" in got, repr(got))
            got = ask(s, "PEER.MEMBED", "hello world", lines=3)
            check(f"PEER.MEMBED with {cert}.pem is served (vector and tiers)", got.startswith(b"*2\r\n$1536\r\n"), repr(got[:40]))
    refused_before = len(log_lines("TLS handshake refused"))
    try:
        with tls_socket(resp_port, cert="foreign/peer", source="127.0.0.3") as s:  # an address not yet logged
            got = ask(s, "PEER.LOCATE", "hello world")  # TLS 1.3: the server's verdict comes with the first read
        foreign = got == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        foreign = True
    check("a peer certificate of another CA is refused", foreign)
    check("and logged once", wait_log("TLS handshake refused", refused_before + 1))
    r = sh("openssl", "s_client", "-quiet", "-connect", f"127.0.0.1:{resp_port}", "-CAfile", ca, "-cert", os.path.join(CERTS, "peer.pem"),
           "-key", os.path.join(CERTS, "peer-key.pem"), input="PEER.LOCATE hello\r\nQUIT\r\n", timeout=30)
    check("openssl s_client with the cluster's peer certificate: PEER.LOCATE served", "$" in r.stdout and "+OK" in r.stdout, r.stdout + r.stderr[-300:])
    r = sh("openssl", "s_client", "-quiet", "-connect", f"127.0.0.1:{resp_port}", "-CAfile", ca, "-cert", os.path.join(FOREIGN, "peer.pem"),
           "-key", os.path.join(FOREIGN, "peer-key.pem"), input="PEER.LOCATE hello\r\nQUIT\r\n", timeout=30)
    check("openssl s_client with another CA's certificate: refused, nothing served", "+OK" not in r.stdout, r.stdout + r.stderr[-300:])

    # ---- SIGHUP: a renewed certificate for new handshakes; the connection opened before keeps working.
    old = served_certificate(resp_port)
    check("the node serves the certificate on disk", old == file_certificate("n1.pem"))
    live = tls_socket(resp_port)
    check("a connection opened before the reload works", ask(live, "PING") == b"+PONG\r\n")
    for f in ("n1.pem", "n1-key.pem"):
        os.remove(os.path.join(CERTS, f))
    r = sh(os.path.join(ROOT, "Scripts", "make-dev-certs"), CERTS, "n1")
    check("make-dev-certs renews a deleted node certificate from the same CA", r.returncode == 0 and file_certificate("n1.pem") != old, r.stderr)
    reloads = len(log_lines("TLS contexts reloaded"))
    node.send_signal(signal.SIGHUP)
    check("SIGHUP reloads the TLS contexts", wait_log("TLS contexts reloaded", reloads + 1))
    check("a new handshake gets the new certificate", served_certificate(resp_port) == file_certificate("n1.pem"))
    check("HTTPS gets it too", sh("curl", "-sf", "--cacert", ca, f"https://127.0.0.1:{http_port}/readyz").returncode == 0)
    got = ask(live, "EMBED", "hello world", lines=2)
    check("the connection opened before the reload still works (EMBED)", got.startswith(b"$1536\r\n"), repr(got[:20]))
    check("redis-py's pooled connection too", np.allclose(np.frombuffer(client.execute_command("EMBED", "hello world"), np.float32), reference, atol=1e-5))
    live.close()
    renewed = file_certificate("n1.pem")
    saved = open(os.path.join(CERTS, "n1.pem")).read()
    open(os.path.join(CERTS, "n1.pem"), "w").write("not a certificate\n")
    refusals = len(log_lines("cluster file refused"))
    node.send_signal(signal.SIGHUP)
    check("a broken certificate file is refused on SIGHUP", wait_log("cluster file refused", refusals + 1))
    check("the refusal names the key and the file", any("tls.cert" in l and "n1.pem" in l for l in log_lines("cluster file refused")))
    check("and the served certificate is kept", served_certificate(resp_port) == renewed and node.poll() is None)
    open(os.path.join(CERTS, "n1.pem"), "w").write(saved)

    # ---- client_auth: required: every client must show a certificate of the CA, on both doors.
    strict_resp, strict_http = free_port(), free_port()
    strict = cluster_file("strict", strict_resp, strict_http, TLS + "  client_auth: required\n")
    strict_log = open(os.path.join(work, "strict.log"), "w")
    procs.append(subprocess.Popen([BIN, "serve", "--cluster", strict, "--node", "n1"], cwd=ROOT, stdout=strict_log, stderr=strict_log))
    check("a client_auth: required node listens", wait_port(strict_resp, 60) and wait_port(strict_http, 60))
    r = sh("redis-cli", "--tls", "--cacert", ca, "-p", str(strict_resp), "PING")
    check("client_auth: required refuses redis-cli without a certificate", "PONG" not in r.stdout, r.stdout)
    r = sh("redis-cli", "--tls", "--cacert", ca, "--cert", os.path.join(CERTS, "peer.pem"), "--key", os.path.join(CERTS, "peer-key.pem"),
           "-p", str(strict_resp), "PING")
    check("and serves it with a certificate of the CA", r.stdout.strip() == "PONG", r.stdout + r.stderr)
    r = sh("curl", "-s", "--cacert", ca, f"https://127.0.0.1:{strict_http}/readyz", "-o", "/dev/null", "-w", "%{http_code}")
    check("HTTPS without a certificate is refused too", r.stdout != "200", r.stdout)
    r = sh("curl", "-sf", "--cacert", ca, "--cert", os.path.join(CERTS, "peer.pem"), "--key", os.path.join(CERTS, "peer-key.pem"),
           f"https://127.0.0.1:{strict_http}/readyz")
    check("and served with one", r.returncode == 0, r.stderr)

    # ---- INFO tls: the doors, the certificate's end date, what was refused and reloaded.
    info = client.info("tls")
    not_after = ssl.cert_time_to_seconds(ssl._ssl._test_decode_cert(os.path.join(CERTS, "n1.pem"))["notAfter"])
    check("INFO tls: doors and modes", info.get("tls_enabled") == 1 and info.get("tls_resp") == 1 and info.get("tls_peers") == "mutual", f"{info}")
    check("INFO tls: the served certificate's end date", info.get("tls_certificate_not_after") == int(not_after), f"{info} vs {not_after}")
    check("INFO tls: refusals and reloads counted", info.get("tls_plaintext_refused", 0) >= 4 and info.get("tls_handshakes_refused", 0) >= 2
          and info.get("tls_reloads") == 1, f"{info}")
    r = sh("curl", "-sf", "--cacert", ca, f"https://127.0.0.1:{http_port}/metrics")
    metrics = {line.split(" ")[0]: float(line.split(" ")[1]) for line in r.stdout.splitlines() if line.startswith("embcache_tls_")}
    check("/metrics: the certificate's end date and the same refusals and reloads as INFO tls",
          metrics.get("embcache_tls_enabled") == 1 and metrics.get("embcache_tls_certificate_expiry_timestamp_seconds") == int(not_after)
          and metrics.get('embcache_tls_refused_total{reason="plaintext"}') == info.get("tls_plaintext_refused")
          and metrics.get('embcache_tls_refused_total{reason="handshake"}') == info.get("tls_handshakes_refused")
          and metrics.get("embcache_tls_reloads_total") == 1, f"{metrics} {info}")

    # ---- Peer links over mutual TLS: two nodes of the cluster's CA forward to each other; a node
    # whose certificates come from another CA is never a peer (its handshakes fail both ways) and
    # each side serves every text itself, correctly.
    assert sh(os.path.join(ROOT, "Scripts", "make-dev-certs"), CERTS, "n2").returncode == 0
    assert sh(os.path.join(ROOT, "Scripts", "make-dev-certs"), FOREIGN, "n2").returncode == 0
    texts = [f"peer link over TLS, text {i}" for i in range(40)]
    texts_file = os.path.join(work, "peer-texts.jsonl")
    open(texts_file, "w").write("".join(json.dumps({"text": t}) + "\n" for t in texts))
    expected = [np.array(json.loads(l)["embedding"], np.float32) for l in sh(BIN, "embed", "--input", texts_file, cwd=ROOT, timeout=300).stdout.splitlines()]

    def two_nodes(name, tls_n2):
        """A 2-node cluster: n1 with the cluster's certificates, n2 with `tls_n2` (its own file)."""
        ports = {n: (free_port(), free_port()) for n in ("n1", "n2")}
        nodes = "".join(f"  - id: {n}\n    resp: 127.0.0.1:{r}\n    http: 127.0.0.1:{h}\n" for n, (r, h) in ports.items())
        started = {}
        for n, tls in (("n1", TLS), ("n2", tls_n2)):
            path = os.path.join(work, f"{name}-{n}.yaml")
            open(path, "w").write(f"cluster:\n  name: {name}\nmodel:\n  path: {MODEL}\n{tls}\nnodes:\n{nodes}")
            out = open(os.path.join(work, f"{name}-{n}.log"), "w")
            started[n] = subprocess.Popen([BIN, "serve", "--cluster", path, "--node", n], cwd=ROOT, stdout=out, stderr=out)
            procs.append(started[n])
        for n, (r, h) in ports.items():
            wait_port(h, 60)
            end = time.time() + 30
            while time.time() < end and sh("curl", "-sf", "--cacert", ca, f"https://127.0.0.1:{h}/readyz").returncode != 0:
                time.sleep(0.1)
        return ports, started

    def ask_all(port, cafile):
        c = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=cafile, socket_timeout=30)
        got = [np.frombuffer(c.execute_command("EMBED", t), np.float32) for t in texts]
        return c, sum(not np.allclose(g, e, atol=1e-5) for g, e in zip(got, expected))

    ports, started = two_nodes("tlspeers", TLS)
    c1, wrong = ask_all(ports["n1"][0], ca)
    info = c1.info("cluster")
    check("TLS peers: every vector right", wrong == 0, f"{wrong} wrong")
    check("TLS peers: the peer is up over mutual TLS and texts were forwarded to it",
          info.get("peers_up") == 1 and info.get("forwards", 0) > 0 and info.get("forward_failures") == 0, f"{info}")
    for p in started.values():
        p.kill(); p.wait(5)

    foreign_tls = TLS.replace("certs/", "foreign/")
    ports, started = two_nodes("tlsforeign", foreign_tls)
    c1, wrong = ask_all(ports["n1"][0], ca)
    c2, wrong2 = ask_all(ports["n2"][0], os.path.join(FOREIGN, "ca.pem"))
    info1, info2 = c1.info("cluster"), c2.info("cluster")
    check("a peer of another CA: every vector on both sides right, served locally", wrong == 0 and wrong2 == 0, f"{wrong} / {wrong2} wrong")
    check("a peer of another CA is never up, nothing forwarded to it",
          info1.get("peers_up") == 0 and info1.get("forwards", 0) == 0 and info2.get("peers_up") == 0 and info2.get("forwards", 0) == 0,
          f"{info1} / {info2}")
    check("both nodes stay up", all(p.poll() is None for p in started.values()))

    # ---- Bad settings refused at start, with the key and the file named.
    bad = [
        ("a missing certificate file", TLS.replace("certs/{node}.pem", "certs/missing.pem"), "tls.cert: cannot read"),
        ("a key of another certificate", TLS.replace("certs/{node}-key.pem", "certs/peer-key.pem"), "is not the key of tls.cert"),
        ("a CA that is not a certificate", TLS.replace("certs/ca.pem", "certs/ca-key.pem"), "tls.ca: file"),
        ("an unset environment variable", TLS.replace("  cert: certs/{node}.pem\n", "  cert_env: EMBTLS_UNSET_VAR\n"), "environment variable EMBTLS_UNSET_VAR"),
        ("an unknown peers mode", TLS.replace("peers: mutual", "peers: sometimes"), "tls.peers must be one of"),
    ]
    for name, tls, words in bad:
        p = cluster_file("bad", free_port(), free_port(), tls)
        start = time.time()
        r = sh(BIN, "serve", "--cluster", p, "--node", "n1", cwd=ROOT, timeout=60)
        check(f"refused at start: {name}", r.returncode != 0 and words in r.stderr and time.time() - start < 30, r.stderr[-400:])
finally:
    stop_all(procs, work, ["n1"])
    if not results["failed"]:
        shutil.rmtree(work, ignore_errors=True)
sys.exit(summary())
