#!/usr/bin/env python3
"""Issue 9, the accounting: a 3-node cluster (+ one Redis) on loopback and a scripted mix whose every
figure is known in advance. alpha (RESP, node 1) embeds 60 texts; beta (RESP, node 2) 60, half of
them alpha's; a nightly batch job (RESP MEMBED, node 3) embeds all 90 twice; gamma (HTTP `user`,
node 1) 10 of alpha's. Checked: exact requests, texts, tokens and tiers per caller (the tiers follow
from each text's owner), duplicates, the overlap between callers (exact: the sample holds every key
here), saved seconds = duplicate tokens x the node's seconds per token, encoder time charged =
the encoder's time, the report (JSON and table), INFO, /metrics, and a SIGHUP reload that keeps
every count and applies new prices. Everything started here is stopped by PID; loops are bounded."""
import json, os, signal, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, stop_all, summary, wait_port, results
import redis

procs = []
work = tempfile.mkdtemp()
redis_port = free_port()
ids = ["n1", "n2", "n3"]
ports = {i: (free_port(), free_port()) for i in ids}


def write_cluster(price_tokens, price_cpu):
    lines = ["cluster:", "  name: savings", "  secret: null", "model:", f"  path: {ROOT}/models/all-MiniLM-L6-v2",
             "cache:", "  l1_max_bytes: 64MiB", "  ttl: 1h", "savings:", f"  price_per_1m_tokens: {price_tokens}",
             f"  price_per_cpu_hour: {price_cpu}", "  currency: USD", f"  audit_log: {work}/audit-{{node}}.jsonl", "nodes:"]
    for i in ids:
        lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{ports[i][0]}", f"    http: 127.0.0.1:{ports[i][1]}", f"    redis: 127.0.0.1:{redis_port}/0"]
    path = os.path.join(work, "cluster.yaml")
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def client(node_id, name=None):
    c = redis.Redis(port=ports[node_id][0], protocol=2, socket_timeout=60)
    if name: c.client_setname(name)
    return c


def report(path):
    out = subprocess.run([BIN, "report", "--cluster", path, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


rs = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
procs.append(rs); wait_port(redis_port)
path = write_cluster(0.10, 0.50)
nodes = {}
for i in ids:
    log = open(os.path.join(work, f"{i}.log"), "a")
    nodes[i] = subprocess.Popen([BIN, "serve", "--cluster", path, "--node", i], cwd=ROOT, stdout=log, stderr=log)
    procs.append(nodes[i]); wait_port(ports[i][0])
try:
    time.sleep(1.0)  # first health round
    A = [f"alpha document {i}: how the quarterly report describes revenue in region {i % 7}" for i in range(60)]
    B = A[:30] + [f"beta note {i} on onboarding, with steps {i} and {i + 1}" for i in range(30)]
    ALL = A + B[30:]
    jl = os.path.join(work, "all.jsonl")
    open(jl, "w").write("".join(json.dumps({"text": t}) + "\n" for t in ALL))
    tok = subprocess.run([BIN, "tokenize", "--input", jl], cwd=ROOT, capture_output=True, text=True, timeout=120).stdout.splitlines()
    tokens = {t: len(json.loads(l)["input_ids"]) for t, l in zip(ALL, tok)}
    # EMBED.LOCATE changes nothing and charges nobody: it gives each text's owner.
    locator = client("n1")
    owner = {t: locator.execute_command("EMBED.LOCATE", t)[1].decode() for t in ALL}
    check("the texts spread over the three nodes", {owner[t] for t in ALL} == set(ids))
    own = lambda node, ts: [t for t in ts if owner[t] == node]
    tok_of = lambda ts: sum(tokens[t] for t in ts)

    # The mix.
    alpha = client("n1", "alpha")
    for t in A: alpha.execute_command("EMBED", t)
    beta = client("n2", "beta")
    for t in B: beta.execute_command("EMBED", t)
    batch = client("n3", "nightly-batch")
    for _ in range(2): batch.execute_command("MEMBED", *ALL)
    body = json.dumps({"input": A[:10], "user": "gamma"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{ports['n1'][1]}/v1/embeddings", data=body, headers={"Content-Type": "application/json"})
    http_tokens = json.load(urllib.request.urlopen(req, timeout=60))["usage"]["prompt_tokens"]
    check("HTTP usage counts the tokens of the texts", http_tokens == tok_of(A[:10]), f"{http_tokens} vs {tok_of(A[:10])}")

    r = report(path)
    callers = r["windows"]["total"]["callers"]
    check("the report has the four callers, not the peers' pseudo-caller", sorted(callers) == ["alpha", "beta", "gamma", "nightly-batch"], str(sorted(callers)))

    def expect(name, requests, texts_list, tiers, duplicates):
        f = callers.get(name, {})
        got = {k: v for k, v in f.get("byTier", {}).items() if v}
        want = {k: v for k, v in tiers.items() if v}
        ok = f.get("requests") == requests and f.get("texts") == len(texts_list) and f.get("tokens") == tok_of(texts_list) \
            and got == want and f.get("duplicates") == duplicates
        check(f"{name}: exact requests, texts, tokens, tiers and duplicates", ok,
              f"got requests {f.get('requests')} texts {f.get('texts')} tokens {f.get('tokens')} tiers {got} dup {f.get('duplicates')}; "
              f"want {requests} {len(texts_list)} {tok_of(texts_list)} {want} {duplicates}")

    # alpha computed everything it asked: its own keys on n1, the others on their owners.
    expect("alpha", 60, A, {"computed": len(own("n1", A)), "forwarded": 60 - len(own("n1", A))}, 0)
    # beta: the 30 shared texts are duplicates wherever they live; the 30 new ones were computed.
    expect("beta", 60, B, {"l1": len(own("n2", B[:30])), "computed": len(own("n2", B[30:])), "forwarded": 60 - len(own("n2", B))}, 30)
    # The batch job: round 1 asks the owners (all cached), round 2 hits n3's L1 and its hot cache.
    n3_own = len(own("n3", ALL))
    f = callers.get("nightly-batch", {}).get("byTier", {})
    expect_hot = f.get("hot", 0)
    expect("nightly-batch", 2, ALL + ALL, {"l1": 2 * n3_own, "forwarded": 180 - 2 * n3_own - expect_hot, "hot": expect_hot}, 180)
    check("the batch job's second round came from the hot cache (or its owners, if 30 s passed)", f.get("hot", 0) + f.get("forwarded", 0) == 2 * (90 - n3_own))
    g = callers.get("gamma", {}).get("byTier", {})
    expect("gamma", 1, A[:10], {"l1": len(own("n1", A[:10])), "hot": g.get("hot", 0), "forwarded": 10 - len(own("n1", A[:10])) - g.get("hot", 0)}, 10)
    total = r["windows"]["total"]["total"]
    share = total["duplicates"] / total["texts"]
    check("cluster duplicate share = 220 of 310 texts", total["duplicates"] == 220 and total["texts"] == 310, f"{total['duplicates']} of {total['texts']}")

    # Overlap: exact here (the sample holds every key).
    o = r["overlap"]
    pairs = {(p["a"], p["b"]): p["keys"] for p in o["pairs"]}
    want_pairs = {("alpha", "beta"): 30, ("alpha", "gamma"): 10, ("alpha", "nightly-batch"): 60, ("beta", "gamma"): 10,
                  ("beta", "nightly-batch"): 60, ("gamma", "nightly-batch"): 10}
    check("overlap: 90 distinct texts, all 90 asked by two or more callers (exact, level 0)",
          o["level"] == 0 and o["distinctKeys"] == 90 and o["multiCallerKeys"] == 90, json.dumps({k: o[k] for k in ("level", "distinctKeys", "multiCallerKeys")}))
    check("overlap: every caller pair's shared texts", pairs == want_pairs, str(pairs))
    check("overlap over the last hour and minute: the same 90 (all asked within them)",
          r["overlapWindows"]["1h"]["multiCallerKeys"] == 90 and r["overlapWindows"]["1m"]["multiCallerKeys"] == 90
          and r["overlapWindows"]["24h"]["multiCallerKeys"] == 90, str({w: o["multiCallerKeys"] for w, o in r["overlapWindows"].items()}))

    # Savings against the encoder's own measurements.
    infos = {i: client(i).info("all") for i in ids}
    snaps = {i: json.loads(client(i).execute_command("SAVINGS")) for i in ids}
    spt3 = snaps["n3"]["encoder"]["secondsPerToken"]
    saved_batch = callers["nightly-batch"]["savedSeconds"]
    want_saved = callers["nightly-batch"]["duplicateTokens"] * spt3
    check("batch job: saved seconds = duplicate tokens x node 3's seconds per token (nothing computed meanwhile)",
          abs(saved_batch - want_saved) <= 1e-6 * max(1, want_saved), f"{saved_batch} vs {want_saved}")
    for i in ids:
        charged = sum(c["windows"]["total"]["encoderSeconds"] for c in snaps[i]["callers"])
        measured = snaps[i]["encoder"]["seconds"]
        check(f"{i}: encoder seconds charged to callers (peers included) = the encoder's seconds", abs(charged - measured) <= 1e-6 + 1e-9 * measured,
              f"{charged} vs {measured}")
    spent = sum(s["encoder"]["seconds"] for s in snaps.values())
    ratio = saved_batch / (2 * spent)
    check("the batch job saved about twice what computing its 90 texts cost (0.5x-2x, per-node means differ)", 0.5 <= ratio <= 2.0, f"ratio {ratio:.3f}")
    api = callers["nightly-batch"]["savedMoneyAPI"]
    check("money saved at the file's API price", abs(api - callers["nightly-batch"]["duplicateTokens"] / 1e6 * 0.10) < 1e-12, str(api))
    check("report shows the prices used", r["prices"]["perMillionTokens"] == 0.10 and r["prices"]["perCPUHour"] == 0.50)
    check("windows: 24h and 1h equal since start (the test is shorter than a minute's bucket edge can matter)",
          r["windows"]["24h"]["total"]["texts"] == 310 and r["windows"]["1h"]["total"]["texts"] == 310)

    # INFO and /metrics show the same figures as the report.
    alpha_line = infos["n1"].get("caller_alpha", {})
    check("INFO callers on node 1 has alpha's line", alpha_line.get("texts") == 60 and alpha_line.get("duplicates") == 0, str(alpha_line))
    check("INFO savings has the prices and windows", infos["n2"].get("price_per_1m_tokens") == 0.1 and "saved_seconds_1h" in infos["n2"])
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports['n2'][1]}/metrics", timeout=10).read().decode()
    line = [l for l in metrics.splitlines() if l.startswith('embcache_savings_duplicate_texts_total{caller="beta"')]
    check("/metrics: beta's duplicates as a counter", line and float(line[0].split()[-1]) == 30, str(line))
    table = subprocess.run([BIN, "report", "--cluster", path], cwd=ROOT, capture_output=True, text=True, timeout=60)
    check("report prints a table", table.returncode == 0 and "nightly-batch" in table.stdout and "TOTAL" in table.stdout, table.stderr[-300:])
    print(table.stdout, flush=True)

    # The audit log: one line per text answered (peers' lines on the owners), never the text.
    time.sleep(0.6)  # the writer thread writes every 200 ms
    lines = []
    for i in ids:
        f = os.path.join(work, f"audit-{i}.jsonl")
        lines += [json.loads(l) for l in open(f)] if os.path.exists(f) else []
    mine = [l for l in lines if l["caller"] != "(peers)"]
    check("audit log: one line per text asked (310), with caller, key, tier, latency, tokens", len(mine) == 310
          and all(set(l) == {"time", "caller", "key", "tier", "latency_us", "tokens"} and len(l["key"]) == 32 for l in mine), f"{len(mine)} lines")
    by_caller = {c: sum(1 for l in mine if l["caller"] == c) for c in ["alpha", "beta", "nightly-batch", "gamma"]}
    check("audit log: lines per caller match the report", by_caller == {"alpha": 60, "beta": 60, "nightly-batch": 180, "gamma": 10}, str(by_caller))
    raw = "".join(open(os.path.join(work, f"audit-{i}.jsonl")).read() for i in ids)
    check("audit log: never the text", "alpha document" not in raw and "beta note" not in raw)

    # SIGHUP: new prices apply, every count stays.
    path = write_cluster(0.20, 1.00)
    for i in ids: nodes[i].send_signal(signal.SIGHUP)
    time.sleep(1.0)
    r2 = report(path)
    t2 = r2["windows"]["total"]["total"]
    check("after SIGHUP: every count kept", t2["texts"] == 310 and t2["duplicates"] == 220 and r2["overlap"]["multiCallerKeys"] == 90)
    check("after SIGHUP: the new prices apply", r2["prices"]["perMillionTokens"] == 0.20
          and abs(r2["windows"]["total"]["callers"]["beta"]["savedMoneyAPI"] - 2 * callers["beta"]["savedMoneyAPI"]) < 1e-12)
    print(f"DEMO two callers sharing half their texts + a batch job: duplicate share {share:.1%} ({total['duplicates']} of {total['texts']} texts), "
          f"saved {total['savedSeconds']:.3f} encoder s, ${total['savedMoneyAPI']:.6f} at $0.10/1M tokens, ${total['savedMoneyCPU']:.6f} at $0.50/CPU-h; "
          f"beta alone {callers['beta']['duplicates']}/{callers['beta']['texts']} duplicate", flush=True)
finally:
    stop_all(procs, work, ids)
sys.exit(summary())
