#!/usr/bin/env python3
"""Issue 10, several models per node: a 2-node cluster (+ one Redis) on loopback serving three models
at once: all-MiniLM-L6-v2 (the default, real weights), random-768x12 (bge-base's shape, random
weights, with e5-style query/passage prefixes) and tiny-mean-raw (mean pooling without normalization).
Each is checked against its own sentence-transformers reference through RESP (CLIENT SETMODEL,
SELECT n as redis-py's db=n, EMBED ... MODEL, MEMBED, forwarded to the other node) and HTTP (the
openai client's `model`, `input_type`), with unknown names refused listing the served ones, INFO and
/metrics per model, models never sharing entries, the L2 after a restart, and `embcache warm --model`.
Everything started here is stopped by PID; loops are bounded."""
import base64, json, os, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.error, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, cosine, floats, free_port, info_models, resp, stop, stop_all, summary, wait_port
import redis
from openai import NotFoundError, OpenAI

procs = []
work = tempfile.mkdtemp()
redis_port = free_port()
ids = ["n1", "n2"]
ports = {i: (free_port(), free_port()) for i in ids}
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
BIG = "random-768x12"


def references(path, limit=None):
    rows = [json.loads(l) for l in open(path, encoding="utf-8")][:limit]
    return {r["text"]: struct.unpack(f"<{len(base64.b64decode(r['embedding_base64'])) // 4}f", base64.b64decode(r["embedding_base64"])) for r in rows}


def min_cosine(got, refs):
    return min(cosine(got[t], refs[t]) for t in refs)


def start(node_id):
    log = open(os.path.join(work, f"{node_id}.log"), "a")
    p = subprocess.Popen([BIN, "serve", "--cluster", cluster, "--node", node_id], cwd=ROOT, stdout=log, stderr=log)
    procs.append(p)
    return p


minilm_refs = references(os.path.join(FIXTURES, "encoder", "reference.public.jsonl"), 24)
big_refs = references(os.path.join(FIXTURES, "random-bert", BIG, "reference.jsonl"))
tiny_refs = references(os.path.join(FIXTURES, "random-bert", "tiny-mean-raw", "reference.jsonl"))
plain_big = {t: v for t, v in big_refs.items() if not t.startswith(("query: ", "passage: "))}

cluster = os.path.join(work, "cluster.yaml")
lines = ["cluster:", "  name: models", "models:",
         "  - name: all-MiniLM-L6-v2", f"    path: {ROOT}/models/all-MiniLM-L6-v2", "    aliases: [sentence-transformers/all-MiniLM-L6-v2]",
         f"  - name: {BIG}", f"    path: {ROOT}/models/{BIG}", '    query_prefix: "query: "', '    passage_prefix: "passage: "', "    ttl: 2h",
         "  - name: tiny-mean-raw", f"    path: {FIXTURES}/random-bert/tiny-mean-raw", "    l1_max_bytes: 8MiB",
         "cache:", "  l1_max_bytes: 96MiB", "  ttl: 1h", "nodes:"]
for i in ids:
    lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{ports[i][0]}", f"    http: 127.0.0.1:{ports[i][1]}", f"    redis: 127.0.0.1:{redis_port}/0"]
open(cluster, "w").write("\n".join(lines) + "\n")

rs = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
procs.append(rs); wait_port(redis_port)
nodes = {i: start(i) for i in ids}
try:
    for i in ids:
        check(f"node {i} starts with three models", wait_port(ports[i][0], 120))
    time.sleep(1.0)  # first health round
    n1 = redis.Redis(port=ports["n1"][0], protocol=2, socket_timeout=120)

    # The default model, as before: no selection needed.
    got = {t: floats(n1.execute_command("EMBED", t)) for t in minilm_refs}
    check("the default model answers as before (384 floats)", all(len(v) == 384 for v in got.values()))
    check("the default model matches its reference (int8 min cosine >= 0.995)", min_cosine(got, minilm_refs) >= 0.995, f"{min_cosine(got, minilm_refs):.5f}")

    # CLIENT SETMODEL on a connection to each node: keys owned by the other node are forwarded as PEER.MEMBED.IN.
    by_node = {}
    for i in ids:
        c = redis.Redis(port=ports[i][0], protocol=2, socket_timeout=120)
        check(f"CLIENT SETMODEL {BIG} on {i}", c.execute_command("CLIENT", "SETMODEL", BIG) in (b"OK", True))
        check("CLIENT GETMODEL names it", c.execute_command("CLIENT", "GETMODEL") == BIG.encode())
        by_node[i] = {t: n1_v for t, n1_v in ((t, floats(c.execute_command("EMBED", t))) for t in big_refs)}
    v = by_node["n1"]
    check("the 768-wide model answers 768 floats", all(len(x) == 768 for x in v.values()))
    check("the 768-wide model matches its reference through RESP (int8 min cosine >= 0.995)", min_cosine(v, big_refs) >= 0.995,
          f"{min_cosine(v, big_refs):.5f}")
    check("both nodes give the same vectors (one owner per key)", by_node["n1"] == by_node["n2"])
    info = {i: info_models(redis.Redis(port=ports[i][0], protocol=2)) for i in ids}
    forwarded = sum(int(info[i]["model1"]["served_forwarded"]) for i in ids)
    computed = sum(int(info[i]["model1"]["served_computed"]) for i in ids)
    distinct = len(set(v.values()))  # "Hello World" and "hello   world" are one key for an uncased model
    check("each distinct text was computed once in the cluster, and forwards happened", forwarded > 0 and computed == distinct,
          f"forwarded {forwarded}, computed {computed}")

    # SELECT n, the way every Redis client pool selects a database on each connection (redis-py's db=1).
    pooled = redis.Redis(port=ports["n2"][0], protocol=2, db=1, socket_timeout=120)
    texts = list(plain_big)[:8]
    membed = pooled.execute_command("MEMBED", *texts)
    check("SELECT 1 (redis-py db=1) serves the second model, MEMBED in order", [floats(x) for x in membed] == [v[t] for t in texts])
    one_shot = n1.execute_command("EMBED", texts[0], "MODEL", BIG)
    check("EMBED text MODEL name serves that model for one request", floats(one_shot) == v[texts[0]])
    check("... and the connection's model is unchanged", len(n1.execute_command("EMBED", texts[0])) == 384 * 4)

    # Prefixes: NAME:query puts "query: " before the text; the reference embedded "query: ..." itself.
    q = redis.Redis(port=ports["n1"][0], protocol=2, socket_timeout=120)
    q.execute_command("CLIENT", "SETMODEL", f"{BIG}:query")
    asked = "how much protein should a female eat"
    as_query = floats(q.execute_command("EMBED", asked))
    check("NAME:query embeds 'query: ' + text (= the reference of the prefixed text)", as_query == v["query: " + asked])
    check("... which differs from the plain text's vector", as_query != floats(n1.execute_command("EMBED", asked, "MODEL", BIG)))

    # Models never share entries: invalidating a text in one model leaves the other's.
    shared = texts[1]
    inv = redis.Redis(port=ports["n1"][0], protocol=2, socket_timeout=60)
    inv.execute_command("CLIENT", "SETMODEL", BIG)
    check("INVALIDATE under the second model removes its entry (L1 and L2)", inv.execute_command("INVALIDATE", shared) >= 1)
    n1.execute_command("EMBED", shared)
    check("... the default model's entry for the same text is untouched", n1.execute_command("EMBED.LOCATE", shared)[2] == b"l1")
    check("... and the second model's is gone", inv.execute_command("EMBED.LOCATE", shared)[2] == b"miss")

    # Savings per model: a caller's texts of another model are its own account, caller@model.
    named = redis.Redis(port=ports["n1"][0], protocol=2, socket_timeout=60, client_name="ragsvc")
    named.execute_command("CLIENT", "SETMODEL", BIG)
    named.execute_command("EMBED", texts[2])
    named.execute_command("CLIENT", "SETMODEL", "all-MiniLM-L6-v2")
    named.execute_command("EMBED", texts[2])
    with socket.create_connection(("127.0.0.1", ports["n1"][0]), 30) as s:
        s.sendall(resp("INFO", "callers")); time.sleep(0.5); callers = s.recv(1 << 20).decode(errors="replace")
    check("INFO callers has the caller's figures per model (ragsvc and ragsvc@random-768x12)",
          f"caller_ragsvc@{BIG}:requests=1," in callers and "caller_ragsvc:requests=1," in callers, callers[:400])

    # Mistakes.
    try:
        n1.execute_command("CLIENT", "SETMODEL", "text-embedding-3-small"); err = ""
    except redis.ResponseError as e:
        err = str(e)
    check("an unknown model is refused, listing the served names", "unknown model" in err and BIG + ":query" in err and "tiny-mean-raw" in err, err)
    try:
        redis.Redis(port=ports["n1"][0], protocol=2, db=7).ping(); err = ""
    except redis.ResponseError as e:
        err = str(e)
    check("SELECT beyond the list is refused, listing the models", "out of range" in err and f"1={BIG}" in err, err)
    try:
        n1.execute_command("EMBED", "x", "MODEL", "nope"); err = ""
    except redis.ResponseError as e:
        err = str(e)
    check("EMBED ... MODEL unknown is refused", "unknown model" in err, err)

    try:
        n1.execute_command("PEER.MEMBED.IN", "not-served-here", "x"); err = ""
    except redis.ResponseError as e:
        err = str(e)
    check("a peer forward for a model this node does not serve is refused, saying why", "peers must serve the same models" in err, err)

    # A model list with a folder the encoder cannot serve: the node refuses to start, naming it and why.
    bad_dir = os.path.join(work, "not-bert")
    shutil.copytree(os.path.join(FIXTURES, "random-bert", "tiny-cls"), bad_dir)
    cfg = json.load(open(os.path.join(bad_dir, "config.json"))); cfg["hidden_act"] = "gelu_new"
    json.dump(cfg, open(os.path.join(bad_dir, "config.json"), "w"))
    bad_cluster = os.path.join(work, "bad.yaml")
    open(bad_cluster, "w").write(open(cluster).read().replace(f"{FIXTURES}/random-bert/tiny-mean-raw", bad_dir))
    out = subprocess.run([BIN, "serve", "--cluster", bad_cluster, "--node", "n1"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    check("a node whose list holds an unsupported model refuses to start, naming the model and the reason",
          out.returncode != 0 and "tiny-mean-raw" in out.stderr and 'hidden_act "gelu_new"' in out.stderr, out.stderr[-300:])

    # HTTP: the openai client, as RAG services call it.
    oa = OpenAI(base_url=f"http://127.0.0.1:{ports['n2'][1]}/v1", api_key="unused", timeout=120)
    got = oa.embeddings.create(model=BIG, input=list(big_refs))
    hv = {t: tuple(d.embedding) for t, d in zip(big_refs, got.data)}
    check("HTTP model=random-768x12 matches its reference (min cosine >= 0.995)", min_cosine(hv, big_refs) >= 0.995, f"{min_cosine(hv, big_refs):.5f}")
    check("... bit for bit what RESP served", all(abs(a - b) == 0 for t in big_refs for a, b in zip(hv[t], v[t])))
    check("... and the reply names the model", got.model == BIG)
    b64 = oa.embeddings.create(model=BIG, input=[texts[0]], encoding_format="base64")
    check("base64 encoding carries 768 floats", len(base64.b64decode(b64.data[0].embedding)) == 768 * 4)
    default = oa.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2", input=[texts[0]])
    check("the default model's alias still serves 384-wide vectors", len(default.data[0].embedding) == 384)
    typed = oa.embeddings.create(model=BIG, input=[asked], extra_body={"input_type": "query"})
    check("input_type=query applies the query prefix", tuple(typed.data[0].embedding) == as_query)
    tiny = oa.embeddings.create(model="tiny-mean-raw", input=list(tiny_refs))
    tv = {t: tuple(d.embedding) for t, d in zip(tiny_refs, tiny.data)}
    norms = [sum(x * x for x in e) ** 0.5 for e in tv.values()]
    check("a model without Normalize serves its raw mean (norms far from 1, as the reference)", min(norms) > 2, f"{min(norms):.3f}")
    check("tiny-mean-raw matches its reference (min cosine >= 0.995)", min_cosine(tv, tiny_refs) >= 0.995, f"{min_cosine(tv, tiny_refs):.5f}")
    try:
        oa.embeddings.create(model="text-embedding-3-small", input=["x"]); err = ""
    except NotFoundError as e:
        err = f"{e.code} {e.message}"
    check("HTTP: an unknown model is a 404 model_not_found listing the served names", err.startswith("model_not_found") and BIG + ":query" in err, err[:200])
    req = urllib.request.Request(f"http://127.0.0.1:{ports['n1'][1]}/v1/embeddings", method="POST",
                                 data=json.dumps({"input": "x", "model": BIG, "input_type": "question"}).encode(), headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=30); status = 200
    except urllib.error.HTTPError as e:
        status = e.code
    check("HTTP: a bad input_type is a 400", status == 400, str(status))

    # INFO and /metrics per model.
    m = info_models(n1)
    check("INFO models lists the three models with their shapes",
          [m[f"model{i}"]["name"] for i in range(3)] == ["all-MiniLM-L6-v2", BIG, "tiny-mean-raw"]
          and [m[f"model{i}"]["dimension"] for i in range(3)] == ["384", "768", "96"] and m["model1"]["pooling"] == "cls+normalize", str(m)[:300])
    weights = [int(m[f"model{i}"]["weight_bytes"]) for i in range(3)]
    check("INFO counts each model's int8 weights (768x12: 90-130 MB; MiniLM: 15-30 MB)", 90e6 < weights[1] < 130e6 and 15e6 < weights[0] < 30e6, str(weights))
    check("INFO sums them", int(m["models_weight_bytes"]) == sum(weights))
    check("per-model TTL and L1 budget", m["model1"]["ttl_seconds"] == "7200" and m["model2"]["l1_max_bytes"] == str(8 << 20)
          and m["model0"]["l1_max_bytes"] == str((96 << 20) // 3), str({k: (m[k]["ttl_seconds"], m[k]["l1_max_bytes"]) for k in ("model0", "model1", "model2")}))
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports['n1'][1]}/metrics", timeout=30).read().decode()
    check("/metrics has per-model gauges", f'embcache_model_weight_bytes{{model="{BIG}"}}' in metrics
          and f'embcache_model_served_total{{model="{BIG}",tier="computed"}}' in metrics)

    # The L2 holds each model's vectors: a restarted node serves the second model's texts from Redis.
    stop(nodes["n2"]); procs.remove(nodes["n2"])
    nodes["n2"] = start("n2")
    check("n2 restarts", wait_port(ports["n2"][0], 120))
    time.sleep(1.5)
    c2 = redis.Redis(port=ports["n2"][0], protocol=2, socket_timeout=120)
    c2.execute_command("CLIENT", "SETMODEL", BIG)
    again = {t: floats(c2.execute_command("EMBED", t)) for t in plain_big}
    served = info_models(c2)["model1"]
    check("after a restart the second model's texts come back from L2 (or the other node), not the encoder",
          int(served["served_computed"]) == 0 and int(served["served_l2"]) > 0, str(served))
    check("... the same vectors", all(again[t] == v[t] for t in plain_big))

    # embcache warm --model: warms the named model (its key derivation, its lane).
    warm_texts = [f"warm text {i} for the second model" for i in range(20)]
    txt = os.path.join(work, "warm.txt")
    open(txt, "w").write("\n".join(warm_texts) + "\n")
    out = subprocess.run([os.path.join(ROOT, "Scripts", "warm-cache"), cluster, "--model", BIG, txt], cwd=ROOT, capture_output=True, text=True, timeout=300)
    check("Scripts/warm-cache FILE --model random-768x12 computes the new texts", out.returncode == 0 and "computed 20" in (out.stdout + out.stderr).replace(":", ""),
          (out.stdout + out.stderr)[-300:])
    tiers = {c2.execute_command("EMBED.LOCATE", t)[2] for t in warm_texts}
    check("... into that model's caches", tiers <= {b"l1", b"l2"}, str(tiers))
    default_tiers = {n1.execute_command("EMBED.LOCATE", t)[2] for t in warm_texts}
    check("... and not into the default model's", default_tiers == {b"miss"}, str(default_tiers))
    bad = subprocess.run([BIN, "warm", "--cluster", cluster, "--model", "nope", txt], cwd=ROOT, capture_output=True, text=True, timeout=60)
    check("warm --model with an unknown name fails listing the models", bad.returncode != 0 and BIG in bad.stderr, bad.stderr[-200:])
finally:
    stop_all(procs, work, ids)
sys.exit(summary())
