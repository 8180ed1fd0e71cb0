#!/usr/bin/env python3
"""A real network's faults (issue 17 §4): three nodes, Redis, a client and a fault proxy, each in a
network namespace this test creates, joined by veths to a bridge; faults are nftables rules inside
the namespaces (cuts = TCP resets, half-open = silent drops) and a TCP proxy the test owns (delay
per reply, reset mid-reply) that n1's traffic to n2 always goes through (nft DNAT in n1).

Per scenario: load through the nodes during the fault; 0 wrong vectors; failures only where no path
to an answer exists; no request longer than the node's --request-timeout; p50/p99; then the fault
heals and we measure how long until every node names the all-up owner for every probe again.
NETFAULTS_SECONDS (default 6) sets each fault's length; NETFAULTS_TABLE=FILE writes the table there
(Scripts/net-faults). Needs root (ip netns); skips with the reason otherwise. Everything started
here is stopped by PID and every namespace deleted, also on failure (try/finally, atexit, SIGTERM)."""
import json, os, secrets, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab

ok, why = netlab.can_create_namespaces()
if not ok:
    print(f"SKIP test_network_faults.py: {why}")
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)

from harness import BIN, ROOT, check, summary, results
from netlab import Lab, run_in
from faultproxy import FaultProxy
import netload
from netload import run_load, owners, time_to_ownership, REQUEST_TIMEOUT

SECONDS = float(os.environ.get("NETFAULTS_SECONDS", "6"))
OWNERSHIP_BOUND = 5.0  # seconds from heal to full ownership (health PINGs every 500 ms)
# A silent peer is declared down after 3 missed PINGs 500 ms apart (Docs/operations.md), and a forward
# waits at most 1 s + 10 ms a text (Docs/reliability.md): a request should not wait much past that.
HALF_OPEN_BOUND = 2.5
SECRET = secrets.token_hex(16)  # non-loopback binds need a secret (BindPolicy, Docs/operations.md)
work = tempfile.mkdtemp()
lab = Lab()
rows = []
print(f"     node logs in {work}", flush=True)


def cluster_file(name, ids):
    """Each node reads its own copy, so one can be reloaded with a new membership before the others."""
    lines = ["cluster:", "  name: netfaults", f"  secret: {SECRET}", "model:", f"  path: {ROOT}/models/all-MiniLM-L6-v2",
             "cache:", "  l1_max_bytes: 64MiB", "  ttl: 1h", "nodes:"]
    for i in ids:
        a = lab.addr(i)
        lines += [f"  - id: {i}", f"    resp: {a}:7400", f"    http: {a}:7500", f"    redis: {lab.addr('rd')}:6379/0"]
    path = os.path.join(work, f"{name}.yaml")
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def start_node(i, ids):
    p = lab.start(i, [BIN, "serve", "--cluster", cluster_file(i, ids), "--node", i], os.path.join(work, f"{i}.log"))
    check(f"{i} listens on {lab.addr(i)}:7400 inside its namespace", lab.wait_port("cl", lab.addr(i), 7400))
    return p


def forwards(roles):
    """Forwards made so far by each node of `roles` that the client can ask (INFO cluster)."""
    made = {}
    for r in roles:
        try:
            made[r] = netload.info(lab.ns("cl"), lab.addr(r), SECRET, "cluster")["forwards"]
        except Exception:
            pass  # a node its clients cannot reach right now
    return made


def faulted(setup, targets_=None):
    """Runs the load under the fault `setup` made; returns (load, forwards made during it)."""
    before = forwards(ids)
    setup()
    result = load(targets_ or targets)
    after = forwards(ids)
    return result, sum(after[r] - before[r] for r in after.keys() & before.keys())


def measure(name, run, nodes_failing=(), heal=None, expected=None, hosts=None):
    """Checks a scenario's load and adds its row; `heal` ends the fault, then ownership is timed."""
    load, fwd = run
    serving = [n for n in load.ok.keys() | load.failed.keys() if n not in nodes_failing]
    total, failed, wrong, lat = load.counts()
    _, failed_ok, _, _ = load.counts(serving)
    check(f"{name}: 0 wrong vectors", wrong == 0, f"{wrong} wrong")
    check(f"{name}: no request failed where a path to an answer exists", failed_ok == 0,
          f"{failed_ok} failed: {sorted(load.errors.get(n, set()) for n in serving)}")
    check(f"{name}: every request ended within --request-timeout ({REQUEST_TIMEOUT:.0f} s)", max(lat, default=0) <= REQUEST_TIMEOUT,
          f"slowest {max(lat, default=0):.1f} s")
    check(f"{name}: load ran ({total} requests)", total > 0)
    back = None
    if heal:
        heal()
        back = time_to_ownership(lab.ns("cl"), [lab.addr(h) for h in hosts or ids], SECRET, probes, expected or baseline, OWNERSHIP_BOUND)
        check(f"{name}: full ownership back within {OWNERSHIP_BOUND:.0f} s of the heal", back is not None)
    worst = max((load.percentile(0.99, [n]), n) for n in load.ok.keys() | load.failed.keys())
    rows.append((name, total, fwd, failed, wrong, load.percentile(0.5) * 1000, load.percentile(0.99) * 1000, worst[0] * 1000, worst[1],
                 len(load.first), load.percentile(0.99, first=True) * 1000, max(lat, default=0) * 1000, back))
    for n in sorted(load.ok.keys() | load.failed.keys()):
        t, f, w, l = load.counts([n])
        print(f"       at {n}: {t} requests, {f} failed, {w} wrong, p99 {load.percentile(0.99, [n]) * 1000:.1f} ms, max {max(l) * 1000:.0f} ms"
              + (f", errors {sorted(load.errors[n])[:3]}" if n in load.errors else ""), flush=True)
    print(f"     {name}: {total} requests, {failed} failed, {wrong} wrong, p50 {rows[-1][5]:.1f} ms, p99 {rows[-1][6]:.1f} ms, "
          f"first asks p99 {rows[-1][10]:.1f} ms, max {rows[-1][11]:.0f} ms, ownership back {'-' if back is None else f'{back:.2f} s'}", flush=True)


def cut(role, peers, verdict):
    """Filters `role`'s traffic with `peers` both ways: `reject with tcp reset` (a cut: every segment
    either way is answered by an RST) or `drop` (silence). RSTs pass a cut: those `reject` sends
    cross the chains themselves (the one it makes for a local socket comes back in from the peer's
    address), and dropping them would turn the cut into silence."""
    let_rst = "tcp flags & rst == 0 " if verdict.startswith("reject") else ""
    for p in peers:
        lab.nft(role, f"add rule inet lab out ip daddr {lab.addr(p)} {let_rst}{verdict}")
        lab.nft(role, f"add rule inet lab in ip saddr {lab.addr(p)} {let_rst}{verdict}")


proxy = None
try:
    for role in ["rd", "n1", "n2", "n3", "n4", "cl", "px"]:
        lab.add_host(role)
    lab.start("rd", ["redis-server", "--bind", lab.addr("rd"), "--port", "6379", "--save", "", "--appendonly", "no",
                     "--protected-mode", "no"], os.path.join(work, "redis.log"))
    check("redis listens inside its namespace", lab.wait_port("cl", lab.addr("rd"), 6379))
    # n1's connections to n2 always pass the fault proxy (pass-through until a scenario sets a fault).
    proxy = FaultProxy((lab.addr("px"), 7400), (lab.addr("n2"), 7400))
    run_in(lab.ns("px"), proxy.serve)
    lab.nft("n1", f"add rule ip labnat out ip daddr {lab.addr('n2')} tcp dport 7400 dnat to {lab.addr('px')}:7400")
    ids = ["n1", "n2", "n3"]
    nodes = {i: start_node(i, ids) for i in ids}
    targets = {i: lab.addr(i) for i in ids}
    time.sleep(1.5)  # first health rounds

    # Each scenario asks its own 160 texts, so its first asks are misses and forwards (the hot cache
    # keeps a forwarded answer 30 s) and the rest hits: both paths cross the fault.
    pool = [f"network fault text {k}: retrieval augmented generation over a flaky network" for k in range(1440)]
    out = subprocess.run([BIN, "embed", *pool], cwd=ROOT, capture_output=True, timeout=300).stdout.decode().splitlines()
    import numpy as np
    reference = {t: np.array(json.loads(l)["embedding"], np.float32).tobytes() for t, l in zip(pool, out)}
    check("reference vectors computed once by `embcache embed`", len(reference) == len(pool))
    probes = [f"ownership probe {k}" for k in range(200)]
    baseline = owners(lab.ns("cl"), lab.addr("n1"), SECRET, probes)
    check("every node names the same owners with all up", all(owners(lab.ns("cl"), lab.addr(i), SECRET, probes) == baseline for i in ids))
    check("probes spread over the three nodes", set(baseline or []) == set(ids))
    slices = iter(pool[k:k + 160] for k in range(0, len(pool), 160))
    load = lambda tg=targets: run_load(lab.ns("cl"), tg, next(slices), reference, SECRET, SECONDS)

    measure("no fault (through the proxy)", faulted(lambda: None), heal=lambda: None)

    measure("n1 cut from its peers (resets), clients reach all", faulted(lambda: cut("n1", ["n2", "px", "n3"], "reject with tcp reset")),
            heal=lambda: lab.heal("n1"))

    measure("clients cut from n1, peers reach it", faulted(lambda: cut("n1", ["cl"], "reject with tcp reset")), nodes_failing=("n1",),
            heal=lambda: lab.heal("n1"))

    measure("n1 cut from Redis (silent drop)", faulted(lambda: cut("n1", ["rd"], "drop")), heal=lambda: lab.heal("n1"))

    half_open = faulted(lambda: cut("n1", ["n2", "px"], "drop"))
    slowest = max(half_open[0].counts()[3], default=0)
    # A forward waits at most ClusterRouter.forwardTimeout (1 s + 10 ms a text), then the asker serves it.
    check(f"half-open: no request waits past the health check's verdict + 1 s ({HALF_OPEN_BOUND} s)", slowest <= HALF_OPEN_BOUND,
          f"slowest request {slowest:.1f} s")
    measure("n1 <-> n2 half-open (silent drop, no RST)", half_open, heal=lambda: lab.heal("n1"))

    measure("n2 slow for n1 (30 ms per reply)", faulted(lambda: setattr(proxy, "delay_ms", 30)), heal=lambda: setattr(proxy, "delay_ms", 0))

    measure("n1 -> n2 reset mid-reply (PING passes)", faulted(lambda: setattr(proxy, "reset_over", 64)),
            heal=lambda: setattr(proxy, "reset_over", None))
    check("the proxy did reset replies mid-way", proxy.resets > 0, f"{proxy.resets} resets")

    # Membership disagreement: n1 (and the new n4) know four nodes; n2 and n3 still know three.
    wide = ids + ["n4"]
    nodes["n4"] = start_node("n4", wide)
    cluster_file("n1", wide)
    nodes["n1"].send_signal(signal.SIGHUP)
    time.sleep(1.5)
    view_new = owners(lab.ns("cl"), lab.addr("n1"), SECRET, probes)
    view_old = owners(lab.ns("cl"), lab.addr("n2"), SECRET, probes)
    crossing = sum(o == "n1" and w == "n4" for o, w in zip(view_old, view_new or []))
    check("n1 reloaded four nodes, n2 still three: keys n2 sends to n1 that n1 thinks n4 owns", crossing > 0, f"{crossing}")
    before = forwards(["n1"])["n1"]
    disagree = faulted(lambda: None, {"n2": lab.addr("n2"), "n3": lab.addr("n3")})
    after = forwards(["n1"])["n1"]
    check("a forwarded request is never forwarded again (n1 made 0 forwards for n2's and n3's load)", after == before, f"{after - before} forwards")

    def reload_rest():
        for i in ["n2", "n3"]:
            cluster_file(i, wide)
            nodes[i].send_signal(signal.SIGHUP)
    view_all = view_new
    measure("n1 reloaded a 4th node, n2/n3 not yet", disagree, heal=reload_rest, expected=view_all, hosts=wide)
finally:
    if proxy:
        proxy.stop()
    if results["failed"]:
        for i in ["n1", "n2", "n3", "n4"]:
            f = os.path.join(work, f"{i}.log")
            if os.path.exists(f):
                print(f"---- {i} log ----\n" + open(f).read()[-1500:])
    lab.close()

table = ["| scenario | requests | forwards | failed | wrong | p50 ms | p99 ms | worst node's p99 ms | first asks | their p99 ms | max ms "
         "| full ownership after heal |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
for name, total, fwd, failed, wrong, p50, p99, worst, node, firsts, first99, mx, back in rows:
    table.append(f"| {name} | {total} | {fwd} | {failed} | {wrong} | {p50:.1f} | {p99:.1f} | {worst:.1f} ({node}) | {firsts} | {first99:.1f} | {mx:.0f} | "
                 f"{'-' if back is None else f'{back:.2f} s'} |")
print("\n".join(table))
if os.environ.get("NETFAULTS_TABLE"):
    open(os.environ["NETFAULTS_TABLE"], "w").write("\n".join(table) + "\n")
sys.exit(summary())
