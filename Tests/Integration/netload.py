"""Load and measurement for the network-fault tests: client threads inside the client namespace
send EMBEDs to the nodes, time every request, and compare every vector with a reference computed
once by `embcache embed`; ownership maps are read with EMBED.LOCATE from every node."""
import threading, time
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from netlab import InNamespace

# The longest a request may take whatever the network does: the node's --request-timeout (30 s,
# Docs/interface.md), plus a margin for the client. A request slower than this counts as hung.
REQUEST_TIMEOUT = 30.0
CLIENT_TIMEOUT = REQUEST_TIMEOUT + 5.0


def client(host, secret, port=7400, timeout=CLIENT_TIMEOUT):
    """One attempt per request (redis-py 6+ retries 3 times with backoff by default, which would hide
    what the node did inside the client's own waits)."""
    return redis.Redis(host=host, port=port, password=secret, protocol=2, socket_timeout=timeout, socket_connect_timeout=2.0,
                       retry=Retry(NoBackoff(), 0))


class Load:
    """Per node: latencies of answered and failed requests, wrong vectors."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok, self.failed, self.wrong = {}, {}, {}
        self.errors = {}
        self.asked = set()   # (node, text) pairs asked once already
        self.first = []      # latencies of each text's first ask at a node: its miss / forward

    def record(self, node, seconds, answer, expected, error=None, text=None):
        with self.lock:
            if text is not None and (node, text) not in self.asked:
                self.asked.add((node, text))
                self.first.append(seconds)
            if error is not None:
                self.failed.setdefault(node, []).append(seconds)
                self.errors.setdefault(node, set()).add(type(error).__name__ + ": " + str(error)[:80])
            else:
                self.ok.setdefault(node, []).append(seconds)
                if answer != expected:
                    self.wrong[node] = self.wrong.get(node, 0) + 1

    def counts(self, nodes=None):
        pick = lambda d: [x for n, v in d.items() if nodes is None or n in nodes for x in v]
        ok, failed = pick(self.ok), pick(self.failed)
        wrong = sum(v for n, v in self.wrong.items() if nodes is None or n in nodes)
        return len(ok) + len(failed), len(failed), wrong, ok + failed

    def percentile(self, q, nodes=None, first=False):
        lat = sorted(self.first if first else self.counts(nodes)[3])
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0.0


def run_load(ns, targets, texts, reference, secret, seconds, threads_per_node=2):
    """Sends EMBEDs of `texts` (cycled, each thread from its own offset) to every target address for
    `seconds`, from threads inside namespace `ns`; returns the Load."""
    load = Load()
    deadline = time.time() + seconds

    def worker(node, host, offset):
        with InNamespace(ns):
            c = client(host, secret)
            i = offset
            while time.time() < deadline:
                text = texts[i % len(texts)]
                i += 1
                start = time.perf_counter()
                try:
                    answer = c.execute_command("EMBED", text)
                    load.record(node, time.perf_counter() - start, answer, reference[text], text=text)
                except redis.RedisError as e:
                    load.record(node, time.perf_counter() - start, None, None, e, text=text)
                    time.sleep(0.05)  # a refused node would otherwise be hammered in a tight loop
            c.close()

    threads = [threading.Thread(target=worker, args=(n, h, k * 37), daemon=True)
               for n, h in targets.items() for k in range(threads_per_node)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + CLIENT_TIMEOUT + 5)
    return load


def owners(ns, host, secret, probes):
    """The owner `host` names for every probe (EMBED.LOCATE, pipelined); None if it cannot be asked."""
    with InNamespace(ns):
        c = client(host, secret, timeout=5.0)
        try:
            p = c.pipeline(transaction=False)
            for t in probes:
                p.execute_command("EMBED.LOCATE", t)
            return [x[1].decode() for x in p.execute()]
        except redis.RedisError:
            return None
        finally:
            c.close()


def time_to_ownership(ns, hosts, secret, probes, expected, bound):
    """Seconds until every node in `hosts` names the `expected` owner for every probe, polled every
    100 ms; None if that did not happen within `bound` seconds."""
    start = time.time()
    while time.time() - start < bound:
        if all(owners(ns, h, secret, probes) == expected for h in hosts):
            return time.time() - start
        time.sleep(0.1)
    return None


def info(ns, host, secret, section):
    with InNamespace(ns):
        c = client(host, secret, timeout=5.0)
        try:
            return c.info(section)
        finally:
            c.close()
