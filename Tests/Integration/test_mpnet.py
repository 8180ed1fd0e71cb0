#!/usr/bin/env python3
"""Issue 20: all-mpnet-base-v2 (MPNet, real weights; Scripts/fetch-model all-mpnet-base-v2) served like
any model: one node (+ one Redis) on loopback serving it beside all-MiniLM-L6-v2, both listed under
`models:` in the cluster file. Checked against the sentence-transformers reference
(Tests/Fixtures/encoder/reference.mpnet.public.jsonl): `embcache tokenize` gives Hugging Face's ids for
all 420 public texts; vectors through RESP (EMBED ... MODEL, CLIENT SETMODEL, MEMBED) and HTTP (the
openai client's `model`) reach the int8 bar; RESP and HTTP agree bit for bit; INFO models and
`embcache report` name it. Everything started here is stopped by PID; loops are bounded."""
import base64, json, os, struct, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, cosine, floats, free_port, info_models, stop_all, summary, wait_port
import redis
from openai import OpenAI

MPNET = "all-mpnet-base-v2"
ENCODER = os.path.join(ROOT, "Tests", "Fixtures", "encoder")
rows = [json.loads(l) for l in open(os.path.join(ENCODER, "reference.mpnet.public.jsonl"), encoding="utf-8")]
refs = {r["text"]: struct.unpack("<768f", base64.b64decode(r["embedding_base64"])) for r in rows}
# 48 texts for the wire checks: every 9th, plus the 6 longest (384 tokens, truncated).
sample = list(dict.fromkeys([rows[i]["text"] for i in range(0, len(rows), 9)]
                            + [r["text"] for r in sorted(rows, key=lambda r: -len(r["input_ids"]))[:6]]))

procs = []
work = tempfile.mkdtemp()
redis_port, resp_port, http_port = free_port(), free_port(), free_port()
cluster = os.path.join(work, "cluster.yaml")
open(cluster, "w").write("\n".join([
    "cluster:", "  name: mpnet", "models:",
    "  - name: all-MiniLM-L6-v2", f"    path: {ROOT}/models/all-MiniLM-L6-v2",
    f"  - name: {MPNET}", f"    path: {ROOT}/models/{MPNET}", f"    aliases: [sentence-transformers/{MPNET}]",
    "cache:", "  l1_max_bytes: 64MiB", "  ttl: 1h", "nodes:",
    "  - id: n1", f"    resp: 127.0.0.1:{resp_port}", f"    http: 127.0.0.1:{http_port}", f"    redis: 127.0.0.1:{redis_port}/0",
]) + "\n")


def min_mean(got):
    c = [cosine(got[t], refs[t]) for t in got]
    return min(c), sum(c) / len(c)


try:
    # Token ids of all 420 texts, as a node derives its keys.
    out = subprocess.run([BIN, "tokenize", "--model", f"models/{MPNET}", "--input", os.path.join(ENCODER, "public.texts.jsonl")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    ids = [json.loads(l)["input_ids"] for l in out.stdout.splitlines()]
    exact = sum(a == r["input_ids"] for a, r in zip(ids, rows))
    check("embcache tokenize gives Hugging Face's ids for every public text", out.returncode == 0 and exact == len(rows),
          f"{exact}/{len(rows)} {out.stderr[-200:]}")

    rs = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(rs); wait_port(redis_port)
    log = open(os.path.join(work, "n1.log"), "a")
    procs.append(subprocess.Popen([BIN, "serve", "--cluster", cluster, "--node", "n1"], cwd=ROOT, stdout=log, stderr=log))
    check("a node starts serving all-mpnet-base-v2 beside all-MiniLM-L6-v2", wait_port(resp_port, 180))
    time.sleep(1.0)

    r = redis.Redis(port=resp_port, protocol=2, socket_timeout=180, client_name="mpnetsvc")
    v = {t: floats(r.execute_command("EMBED", t, "MODEL", MPNET)) for t in sample}
    lo, mean = min_mean(v)
    check("RESP EMBED ... MODEL all-mpnet-base-v2 answers 768 floats", all(len(x) == 768 for x in v.values()))
    check("... matching the reference (int8 min cosine >= 0.995, mean >= 0.999)", lo >= 0.995 and mean >= 0.999, f"min {lo:.5f} mean {mean:.5f}")
    r.execute_command("CLIENT", "SETMODEL", MPNET)
    batch = [floats(x) for x in r.execute_command("MEMBED", *sample[:8])]
    check("CLIENT SETMODEL then MEMBED serves the same vectors", batch == [v[t] for t in sample[:8]])
    default = redis.Redis(port=resp_port, protocol=2, socket_timeout=60)
    check("the default model still answers 384 floats", len(floats(default.execute_command("EMBED", sample[0]))) == 384)

    oa = OpenAI(base_url=f"http://127.0.0.1:{http_port}/v1", api_key="unused", timeout=180)
    got = oa.embeddings.create(model=f"sentence-transformers/{MPNET}", input=sample)
    hv = {t: tuple(d.embedding) for t, d in zip(sample, got.data)}
    lo, mean = min_mean(hv)
    check("HTTP (openai client, the model's alias) matches the reference", lo >= 0.995 and mean >= 0.999, f"min {lo:.5f} mean {mean:.5f}")
    check("... bit for bit what RESP served", all(hv[t] == v[t] for t in sample))
    check("... and the reply names the model as asked (the alias)", got.model == f"sentence-transformers/{MPNET}", got.model)

    m = info_models(r)
    names = {m[k]["name"]: m[k] for k in m if k.startswith("model") and isinstance(m[k], dict)}
    check("INFO models lists it with its shape", MPNET in names and names[MPNET]["dimension"] == "768"
          and names[MPNET]["pooling"] == "mean+normalize", str(names.get(MPNET))[:300])
    check("INFO counts its int8 weights (80-140 MB)", 80e6 < int(names[MPNET]["weight_bytes"]) < 140e6, names[MPNET]["weight_bytes"])
    rep = subprocess.run([BIN, "report", "--cluster", cluster, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    check("embcache report has the caller's account under the model (mpnetsvc@all-mpnet-base-v2)",
          rep.returncode == 0 and f"mpnetsvc@{MPNET}" in rep.stdout, (rep.stdout + rep.stderr)[-300:])
finally:
    stop_all(procs, work, ["n1"])
sys.exit(summary())
