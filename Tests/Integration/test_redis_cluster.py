#!/usr/bin/env python3
"""The L2 on a real Redis Cluster (3 masters + 3 replicas on loopback, redis_cluster.py): hits from
L2 across all shards, a master killed with SIGKILL under load (its replica promoted; zero failed
requests, zero wrong vectors), a slot range resharded under load and one slot migrated by hand (MOVED
and ASK followed, counted in INFO), INVALIDATE, and a node restarted after all this serving its old
keys from L2. Node A reads the cluster file; node B is started with --redis cluster://... and
--l1-max-bytes 0, so every request of B is an L2 lookup. Everything started here is stopped by PID;
loops are bounded in count and time. Prints the failover and resharding counts."""
import json, os, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, results, stop, stop_all, summary, wait_port
from redis_cluster import RedisCluster, cli
import numpy as np
import redis

procs = []
work = tempfile.mkdtemp()
ports = {n: (free_port(), free_port()) for n in ["a", "b", "c", "d", "e"]}
cluster = RedisCluster(masters=3, replicas=1, node_timeout_ms=1500)
secured = RedisCluster(masters=3, replicas=0, password="cl-secret")
counts = {"failovers": 0, "slots_resharded": 0, "slots_migrated_by_hand": 0}


def start_node(node_id, args):
    log = open(os.path.join(work, f"{node_id}.log"), "a")
    p = subprocess.Popen([BIN, "serve", *args], cwd=ROOT, stdout=log, stderr=log)
    procs.append(p)
    wait_port(ports[node_id][0])
    return p


def start_a(path):
    return start_node("a", ["--cluster", path, "--node", "a"])


def client(node_id):
    return redis.Redis(port=ports[node_id][0], protocol=2, socket_timeout=60)


def info(node_id, section):
    return client(node_id).info(section)


def embed_all(node_id, batch, size=40):
    """EMBED of every text, pipelined `size` at a time (the event-loop hit path)."""
    out = []
    c = client(node_id)
    for i in range(0, len(batch), size):
        p = c.pipeline(transaction=False)
        for t in batch[i:i + size]: p.execute_command("EMBED", t)
        out += p.execute()
    return out


class Load:
    """Pipelines of EMBED to one node from `threads` threads until stopped (bounded: `max_rounds`
    each); counts answered, failed and wrong answers."""
    def __init__(self, node_id, texts, reference, threads=2, max_rounds=3000):
        self.done = self.errors = self.wrong = 0
        self.lock, self.halt = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(node_id, texts, reference, k, max_rounds)) for k in range(threads)]
        for t in self.threads: t.start()

    def run(self, node_id, texts, reference, k, max_rounds):
        c = client(node_id)
        for r in range(max_rounds):
            if self.halt.is_set(): return
            batch = [texts[(r * 40 + j * 7 + k * 13) % len(texts)] for j in range(40)]
            try:
                p = c.pipeline(transaction=False)
                for t in batch: p.execute_command("EMBED", t)
                answers = p.execute()
            except Exception:
                with self.lock: self.errors += len(batch)
                continue
            with self.lock:
                self.done += len(batch)
                self.wrong += sum(a != reference[t] for a, t in zip(answers, batch))

    def stop(self):
        self.halt.set()
        for t in self.threads: t.join(300)
        return self


try:
    cluster.start()
    roles = [n["role"] for n in cluster.nodes()]
    check("a Redis Cluster of 3 masters + 3 replicas starts on loopback", roles.count("master") == 3 and roles.count("replica") == 3, str(roles))
    seeds = ",".join(f"127.0.0.1:{p}" for p in cluster.ports[:2])
    lines = ["cluster:", "  name: rcluster", "  secret: null", "model:", f"  path: {ROOT}/models/all-MiniLM-L6-v2",
             "cache:", "  l1_max_bytes: 64MiB", "  ttl: 1h", "nodes:",
             "  - id: a", f"    resp: 127.0.0.1:{ports['a'][0]}", f"    http: 127.0.0.1:{ports['a'][1]}", f"    redis: cluster://{seeds}"]
    path = os.path.join(work, "cluster.yaml")
    open(path, "w").write("\n".join(lines) + "\n")
    node_a = start_a(path)
    node_b = start_node("b", ["--node", "b", "--resp", f"127.0.0.1:{ports['b'][0]}", "--http", f"127.0.0.1:{ports['b'][1]}",
                              "--redis", f"cluster://{seeds}", "--l1-max-bytes", "0", "--ttl", "1h"])
    time.sleep(1.0)
    l2 = info("a", "l2")
    check("a node with redis: cluster://… in its cluster file reads the slot map", l2.get("l2_mode") == "cluster" and l2.get("l2_up") == 1
          and l2.get("l2_slots_covered") == 16384 and l2.get("l2_shards") == 3, str(l2))

    texts = [f"redis cluster text {i}: embeddings cached across shards" for i in range(240)]
    ref_out = subprocess.run([BIN, "embed", *texts], cwd=ROOT, capture_output=True, timeout=300).stdout.decode().splitlines()
    reference = {t: np.array(json.loads(l)["embedding"], np.float32).tobytes() for t, l in zip(texts, ref_out)}
    answers = embed_all("a", texts)
    check("node A computes every text right", all(a == reference[t] for a, t in zip(answers, texts)))
    end = time.time() + 15
    while time.time() < end and sum(cluster.keys_per_master().values()) < len(texts):
        time.sleep(0.1)
    keys = cluster.keys_per_master()
    check("write-behind: every key lands in the cluster, on all three masters", sum(keys.values()) == len(texts) and len(keys) == 3
          and all(n > 0 for n in keys.values()), str(keys))
    ttl = [int(cli(p, "TTL", cli(p, "RANDOMKEY"))) for p in keys]
    check("keys carry the TTL (1h)", all(3000 < t <= 3600 for t in ttl), str(ttl))

    # (a) Node B (no L1) serves every text from L2, on the event-loop path (EMBED) and through the
    # hiredis threads (MEMBED).
    before = info("b", "tiers")
    answers = embed_all("b", texts)
    after = info("b", "tiers")
    check("(a) EMBED: node B serves all 240 texts from L2 across the three shards, right",
          all(a == reference[t] for a, t in zip(answers, texts)) and after["served_l2"] - before["served_l2"] == len(texts)
          and after["served_computed"] == before["served_computed"], f"{before} -> {after}")
    answers = client("b").execute_command("MEMBED", *texts[:100])
    again = info("b", "tiers")
    check("(a) MEMBED: the hiredis threads' pipelined GETs serve them from L2, right",
          all(a == reference[t] for a, t in zip(answers, texts)) and again["served_l2"] - after["served_l2"] == 100, f"{after} -> {again}")
    check("EMBED.LOCATE sees the key in the cluster", client("b").execute_command("EMBED.LOCATE", texts[0])[2] == b"l2")

    # (b) A master killed under load: its replica is promoted; every request is answered, right.
    victim = max(keys, key=keys.get)
    victim_id = cluster.node_id(victim)
    replica = next(n["port"] for n in cluster.nodes() if n["master_id"] == victim_id)
    computed_before = info("b", "tiers")["served_computed"]
    load = Load("b", texts, reference)
    time.sleep(1.0)
    killed_at = time.time()
    cluster.kill(victim)
    end = time.time() + 30
    while time.time() < end and replica not in cluster.master_ports():
        time.sleep(0.1)
    promoted = replica in cluster.master_ports()
    failover_s = time.time() - killed_at
    if promoted: counts["failovers"] += 1
    cluster.wait_ok(20)
    time.sleep(2.0)
    load.stop()
    print(f"failover: master :{victim} killed, replica :{replica} promoted after {failover_s:.1f} s; "
          f"{load.done} requests answered during the run ({info('b', 'tiers')['served_computed'] - computed_before} "
          f"computed by the encoder while their shard was down), {load.errors} failed, {load.wrong} wrong", flush=True)
    check("(b) the killed master's replica is promoted", promoted, str(cluster.nodes()))
    check("(b) master killed under load: every request answered", load.done > 0 and load.errors == 0, f"done {load.done} errors {load.errors}")
    check("(b) master killed under load: zero wrong vectors", load.wrong == 0, f"{load.wrong} wrong")
    l2 = info("b", "l2")
    shard_errors = sum(int(v["errors"]) for k, v in l2.items() if k.startswith("l2_shard") and k != "l2_shards" and v["addr"].endswith(f":{victim}"))
    check("(b) INFO counts the dead shard's errors", shard_errors > 0, str(l2))
    end = time.time() + 15
    while time.time() < end:
        before = info("b", "tiers")["served_l2"]
        answers = embed_all("b", texts)
        if info("b", "tiers")["served_l2"] - before == len(texts): break
        time.sleep(0.5)
    check("(b) after the failover, node B serves every text from L2 again (the promoted replica had the keys)",
          info("b", "tiers")["served_l2"] - before == len(texts) and all(a == reference[t] for a, t in zip(answers, texts)))
    cluster.restart(victim)
    check("the killed master comes back as a replica", cluster.wait_ok(30) and victim not in cluster.master_ports())

    # (c) A slot range resharded under load: MOVED followed, zero failed requests.
    masters = cluster.master_ports()
    slots = {n["port"]: n["slots"] for n in cluster.nodes()}
    source = max(masters, key=lambda p: slots[p])
    target = next(p for p in masters if p != source)
    moved_before = info("b", "l2")["l2_redirects_moved"]
    load = Load("b", texts, reference)
    time.sleep(0.5)
    out = cluster.reshard(source, target, 1500)
    if out.returncode == 0: counts["slots_resharded"] += 1500
    time.sleep(1.5)
    load.stop()
    l2 = info("b", "l2")
    print(f"resharding: 1500 slots :{source} -> :{target} (rc {out.returncode}); {load.done} requests answered, "
          f"{load.errors} failed, {load.wrong} wrong; MOVED seen {l2['l2_redirects_moved'] - moved_before}", flush=True)
    check("(c) redis-cli --cluster reshard moves 1500 slots", out.returncode == 0, out.stdout[-400:] + out.stderr[-400:])
    check("(c) resharded under load: every request answered, right", load.done > 0 and load.errors == 0 and load.wrong == 0,
          f"done {load.done} errors {load.errors} wrong {load.wrong}")
    check("(c) MOVED replies were followed and counted", l2["l2_redirects_moved"] > moved_before, str(l2))

    # One slot migrated by hand, to hold it in the migrating state: ASK (ASKING + retry), then MOVED.
    masters = cluster.master_ports()
    text = texts[3]
    key = "emb:" + client("b").execute_command("EMBED.LOCATE", text)[0].decode()
    slot = int(cli(masters[0], "CLUSTER", "KEYSLOT", key))
    owner = next(p for p in masters if cli(p, "EXISTS", key) == "1")
    other = next(p for p in masters if p != owner)
    owner_id, other_id = cluster.node_id(owner), cluster.node_id(other)
    cli(other, "CLUSTER", "SETSLOT", slot, "IMPORTING", owner_id)
    cli(owner, "CLUSTER", "SETSLOT", slot, "MIGRATING", other_id)
    migrated = cli(owner, "MIGRATE", "127.0.0.1", other, key, 0, 5000)
    ask_before, l2_before = info("b", "l2")["l2_redirects_ask"], info("b", "tiers")["served_l2"]
    answer = client("b").execute_command("EMBED", text)
    check("(c) a key of a migrating slot is served from L2 after ASK", migrated == "OK" and answer == reference[text]
          and info("b", "l2")["l2_redirects_ask"] > ask_before and info("b", "tiers")["served_l2"] == l2_before + 1,
          f"MIGRATE {migrated}; {info('b', 'l2')}")
    for p in cluster.live_ports():
        cli(p, "CLUSTER", "SETSLOT", slot, "NODE", other_id)
    counts["slots_migrated_by_hand"] += 1
    moved_before, l2_before = info("b", "l2")["l2_redirects_moved"], info("b", "tiers")["served_l2"]
    answer = client("b").execute_command("EMBED", text)
    check("(c) once the slot is the target's, MOVED is followed and the key served from L2", answer == reference[text]
          and info("b", "l2")["l2_redirects_moved"] > moved_before and info("b", "tiers")["served_l2"] == l2_before + 1, str(info("b", "l2")))

    import urllib.request
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports['b'][1]}/metrics", timeout=10).read().decode()
    check("/metrics shows the redirects, the slot map's age and per-shard errors",
          'embcache_l2_redirects_total{kind="moved"}' in metrics and 'embcache_l2_redirects_total{kind="ask"}' in metrics
          and "embcache_l2_slot_map_age_seconds" in metrics and 'embcache_l2_shard_errors_total{shard="127.0.0.1:' in metrics, metrics[-800:])

    # INVALIDATE in cluster mode: one DEL per key, routed by slot.
    gone = texts[5]
    before = sum(cluster.keys_per_master().values())
    client("b").execute_command("INVALIDATE", gone)
    check("INVALIDATE deletes the key from its shard", sum(cluster.keys_per_master().values()) == before - 1
          and client("b").execute_command("EMBED.LOCATE", gone)[2] == b"miss")

    # (d) Node A restarted after all this serves its old keys from L2 (the hiredis threads: MEMBED).
    stop(node_a)
    node_a = start_a(path)
    time.sleep(1.0)
    rest = [t for t in texts if t != gone]
    answers = []
    for i in range(0, len(rest), 40):
        answers += client("a").execute_command("MEMBED", *rest[i:i + 40])
    tiers = info("a", "tiers")
    check("(d) node A restarted serves every old key from L2, right", all(a == reference[t] for a, t in zip(answers, rest))
          and tiers["served_l2"] == len(rest) and tiers["served_computed"] == 0, str(tiers))

    # A cluster:// address that is no cluster: a clear error, the node serves from the encoder.
    plain = free_port()
    procs.append(subprocess.Popen(["redis-server", "--port", str(plain), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(plain)
    start_node("c", ["--node", "c", "--resp", f"127.0.0.1:{ports['c'][0]}", "--http", f"127.0.0.1:{ports['c'][1]}", "--redis", f"cluster://127.0.0.1:{plain}"])
    time.sleep(1.0)
    answer = client("c").execute_command("EMBED", texts[0])
    log = open(os.path.join(work, "c.log")).read()
    check("cluster:// to a Redis without cluster mode: L2 down, a clear error, requests answered by the encoder",
          answer == reference[texts[0]] and info("c", "l2")["l2_up"] == 0 and "cluster support disabled" in log, log[-600:])

    # A cluster that requires a password: cluster://:PASSWORD@ logs in to every master it is sent to.
    secured.start()
    seed = f"127.0.0.1:{secured.ports[0]}"
    start_node("d", ["--node", "d", "--resp", f"127.0.0.1:{ports['d'][0]}", "--http", f"127.0.0.1:{ports['d'][1]}",
                     "--redis", f"cluster://:cl-secret@{seed}", "--l1-max-bytes", "0"])
    start_node("e", ["--node", "e", "--resp", f"127.0.0.1:{ports['e'][0]}", "--http", f"127.0.0.1:{ports['e'][1]}",
                     "--redis", f"cluster://:wrong-secret@{seed}"])
    time.sleep(1.0)
    first = embed_all("d", texts[:60])
    end = time.time() + 10
    while time.time() < end and sum(secured.keys_per_master().values()) < 60:
        time.sleep(0.1)
    keys = secured.keys_per_master()
    before = info("d", "tiers")["served_l2"]
    second = embed_all("d", texts[:60])
    check("cluster://:PASSWORD@: every master takes the login; keys land on all three and are served from L2",
          first == second == [reference[t] for t in texts[:60]] and len(keys) == 3 and all(n > 0 for n in keys.values())
          and info("d", "tiers")["served_l2"] - before == 60, f"{keys} {info('d', 'tiers')}")
    answer = client("e").execute_command("EMBED", texts[0])
    log = open(os.path.join(work, "e.log")).read()
    check("a wrong cluster password: L2 down, the refusal logged without the password, requests answered",
          answer == reference[texts[0]] and info("e", "l2")["l2_up"] == 0 and "WRONGPASS" in log and "wrong-secret" not in log, log[-600:])
    l2 = info("b", "l2")
    print(f"counts: failovers {counts['failovers']}, slots resharded {counts['slots_resharded']}, "
          f"slots migrated by hand {counts['slots_migrated_by_hand']}; node B saw MOVED {l2['l2_redirects_moved']}, "
          f"ASK {l2['l2_redirects_ask']}, slot map refreshes {l2['l2_slot_map_refreshes']}", flush=True)
finally:
    stop_all(procs, work, ["a", "b", "c", "d", "e"])
    cluster.stop()
    secured.stop()
sys.exit(summary())
