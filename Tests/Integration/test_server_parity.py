#!/usr/bin/env python3
"""Issue 18, one hit path for both doors: the same mix of cache hits asked over RESP (redis-py) and
over HTTP (the openai client) gives the same per-caller savings figures, for a model that is NOT the
default (HTTP once valued saved compute at the default model's seconds per token). One node, a
2-model cluster file (all-MiniLM-L6-v2 the default, random-768x12 the other, as test_models.py),
one Redis on loopback. A warm-up caller computes every text first, so nothing is computed while the
two callers run and each lane's seconds per token stays put. Also: /readyz and the SAVINGS snapshot
name the default lane's model, and an unknown model is refused in the same words on both doors.
Everything started here is stopped by PID; loops are bounded."""
import json, os, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, stop_all, summary, wait_port
import redis
from openai import OpenAI

procs = []
work = tempfile.mkdtemp()
redis_port, resp_port, http_port = free_port(), free_port(), free_port()
BIG = "random-768x12"
cluster = os.path.join(work, "cluster.yaml")
open(cluster, "w").write("\n".join([
    "cluster:", "  name: parity", "models:",
    "  - name: all-MiniLM-L6-v2", f"    path: {ROOT}/models/all-MiniLM-L6-v2",
    f"  - name: {BIG}", f"    path: {ROOT}/models/{BIG}",
    "cache:", "  l1_max_bytes: 64MiB", "  ttl: 1h", "nodes:",
    "  - id: n1", f"    resp: 127.0.0.1:{resp_port}", f"    http: 127.0.0.1:{http_port}", f"    redis: 127.0.0.1:{redis_port}/0"]) + "\n")

rs = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
procs.append(rs); wait_port(redis_port)
log = open(os.path.join(work, "n1.log"), "a")
procs.append(subprocess.Popen([BIN, "serve", "--cluster", cluster, "--node", "n1"], cwd=ROOT, stdout=log, stderr=log))
try:
    check("the node starts with two models", wait_port(resp_port, 120))
    TEXTS = [f"parity text {i}: the invoice for order {i * 7} ships to warehouse {i % 5}" for i in range(20)]
    openai = OpenAI(base_url=f"http://127.0.0.1:{http_port}/v1", api_key="none", max_retries=0, timeout=60)

    def run_mix(model):
        """Warm every text on `model`, then the same hits over both doors; the two callers' accounts."""
        warm = redis.Redis(port=resp_port, protocol=2, socket_timeout=120)
        warm.client_setname("warmer")
        warm.execute_command("CLIENT", "SETMODEL", model)
        warm.execute_command("MEMBED", *TEXTS)
        tag = model.replace("-", "")[:8]
        r = redis.Redis(port=resp_port, protocol=2, socket_timeout=60)
        r.client_setname(f"resp{tag}")
        r.execute_command("CLIENT", "SETMODEL", model)
        for t in TEXTS[:10]: r.execute_command("EMBED", t)
        r.execute_command("MEMBED", *TEXTS[10:])
        for t in TEXTS[:10]: openai.embeddings.create(model=model, input=t, user=f"http{tag}")
        openai.embeddings.create(model=model, input=TEXTS[10:], user=f"http{tag}")
        snap = json.loads(r.execute_command("SAVINGS"))
        accounts = {c["name"]: c["windows"]["total"] for c in snap["callers"]}
        suffix = "" if model == "all-MiniLM-L6-v2" else "@" + model
        return snap, accounts.get(f"resp{tag}{suffix}"), accounts.get(f"http{tag}{suffix}")

    snap, over_resp, over_http = run_mix(BIG)
    check("both callers have an account for the non-default model", over_resp is not None and over_http is not None, str(snap["callers"])[:400])
    over_resp, over_http = over_resp or {}, over_http or {}
    check("RESP: 11 requests, 20 texts, every one an L1 hit", over_resp.get("requests") == 11 and over_resp.get("texts", {}).get("l1") == 20
          and sum(over_resp.get("texts", {}).values()) == 20, json.dumps(over_resp)[:400])
    for field in ("requests", "texts", "tokens", "encoderSeconds", "ownerComputedTexts", "ownerComputedTokens"):
        check(f"{BIG}: RESP and HTTP give the same {field}", over_resp.get(field) == over_http.get(field), f"{over_resp.get(field)} vs {over_http.get(field)}")
    saved_resp, saved_http = over_resp.get("savedSeconds", 0), over_http.get("savedSeconds", -1)
    check(f"{BIG}: RESP and HTTP value the saved compute the same (the lane's seconds per token)",
          saved_resp > 0 and abs(saved_resp - saved_http) <= 1e-9 * saved_resp, f"{saved_resp} vs {saved_http}")
    default_spt = snap["encoder"]["secondsPerToken"]
    at_default = over_http.get("tokens", {}).get("l1", 0) * default_spt
    check(f"{BIG}'s saved seconds are not valued at the default model's price (the drift this fixes)",
          abs(saved_http - at_default) > 0.05 * at_default, f"{saved_http} vs {at_default} at the default's {default_spt}")

    # The default model, as a control: the same equality.
    _, d_resp, d_http = run_mix("all-MiniLM-L6-v2")
    d_resp, d_http = d_resp or {}, d_http or {}
    check("default model: RESP and HTTP give the same requests, tokens, tiers and saved seconds",
          all(d_resp.get(f) == d_http.get(f) for f in ("requests", "texts", "tokens")) and d_resp.get("requests") == 11
          and abs(d_resp.get("savedSeconds", 0) - d_http.get("savedSeconds", -1)) <= 1e-9 * max(d_resp.get("savedSeconds", 0), 1e-12),
          f"{json.dumps(d_resp)[:300]} vs {json.dumps(d_http)[:300]}")

    # The model is named from the lane, not from code.
    ready = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=10))
    check("/readyz names the default lane's model", ready == {"status": "ready", "model": "all-MiniLM-L6-v2"}, str(ready))
    check("the SAVINGS snapshot names the default lane's model", snap.get("model") == "all-MiniLM-L6-v2", str(snap.get("model")))

    # One unknown-model text on both doors.
    try:
        redis.Redis(port=resp_port, protocol=2).execute_command("CLIENT", "SETMODEL", "nope")
        resp_err = ""
    except redis.ResponseError as e:
        resp_err = str(e)
    req = urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/embeddings", data=json.dumps({"input": "x", "model": "nope"}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=10)
        http_err = {}
    except urllib.error.HTTPError as e:
        http_err = json.load(e)["error"]
    check("an unknown model is refused in the same words over RESP and HTTP",
          resp_err.startswith("unknown model 'nope'") and http_err.get("message") == resp_err and http_err.get("code") == "model_not_found",
          f"{resp_err!r} vs {http_err}")
finally:
    stop_all(procs, work, ["n1"])
sys.exit(summary())
