#!/usr/bin/env python3
"""Issue 9, the dashboard in a real browser: a 3-node cluster (+ one Redis) on loopback under load
from three callers (two RAG services sharing half their texts, a batch job re-embedding everything),
headless Chromium (Debian's `chromium`) loads GET / of node 2 while the load runs and saves a
screenshot; then, with the load stopped, the figures the page shows (its data-k/data-v attributes)
are checked against `embcache report --json`. The screenshot goes to $EMBCACHE_TEST_OUTPUT (default
.build/test-output/dashboard.png). Everything started here is stopped by PID; loops are bounded."""
import html.parser, json, os, shutil, subprocess, sys, tempfile, threading, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, stop_all, summary, wait_port, results
import redis

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUT = os.environ.get("EMBCACHE_TEST_OUTPUT", os.path.join(ROOT, ".build", "test-output"))
os.makedirs(OUT, exist_ok=True)
procs = []
work = tempfile.mkdtemp()
redis_port = free_port()
ids = ["n1", "n2", "n3"]
ports = {i: (free_port(), free_port()) for i in ids}


def chromium(*args, timeout=60):
    # A profile of its own (removed with `work`), no sandbox (root in CI), no GPU.
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={work}/chromium", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class Figures(html.parser.HTMLParser):
    """The page's figures: every element with data-k and data-v."""
    def __init__(self):
        super().__init__(); self.values = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-k" in a and "data-v" in a: self.values[a["data-k"]] = float(a["data-v"])


if not CHROMIUM:
    print("SKIP chromium is not installed (Scripts/install-deps installs it)")
    sys.exit(0)

lines = ["cluster:", "  name: dashboard", "  secret: null", "model:", f"  path: {ROOT}/models/all-MiniLM-L6-v2",
         "cache:", "  l1_max_bytes: 64MiB", "  ttl: 1h", "savings:", "  price_per_1m_tokens: 0.02", "  price_per_cpu_hour: 0.04", "nodes:"]
for i in ids:
    lines += [f"  - id: {i}", f"    resp: 127.0.0.1:{ports[i][0]}", f"    http: 127.0.0.1:{ports[i][1]}", f"    redis: 127.0.0.1:{redis_port}/0"]
path = os.path.join(work, "cluster.yaml")
open(path, "w").write("\n".join(lines) + "\n")
rs = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
procs.append(rs); wait_port(redis_port)
for i in ids:
    log = open(os.path.join(work, f"{i}.log"), "a")
    procs.append(subprocess.Popen([BIN, "serve", "--cluster", path, "--node", i], cwd=ROOT, stdout=log, stderr=log)); wait_port(ports[i][0])
try:
    time.sleep(1.0)
    shared = [f"policy {i}: employees may work remotely up to {i % 5 + 1} days a week" for i in range(120)]
    search = shared + [f"search query {i}: best practices for vector databases, part {i}" for i in range(120)]
    support = shared + [f"support ticket {i}: the export button does nothing on page {i}" for i in range(120)]
    stop = threading.Event()
    errors = []

    def caller(name, node, texts, batch, rounds):
        c = redis.Redis(port=ports[node][0], protocol=2, socket_timeout=60); c.client_setname(name)
        for r in range(rounds):  # bounded; the test stops it earlier
            if stop.is_set(): return
            chunk = [texts[(r * batch + k) % len(texts)] for k in range(batch)]
            try:
                p = c.pipeline(transaction=False)
                for t in chunk: p.execute_command("EMBED", t)
                p.execute()
            except Exception as e:
                errors.append(repr(e)); return
            time.sleep(0.05)

    def batch_job():
        c = redis.Redis(port=ports["n3"][0], protocol=2, socket_timeout=60); c.client_setname("nightly-reindex")
        for _ in range(20):
            if stop.is_set(): return
            c.execute_command("MEMBED", *(search + support[120:]))
            time.sleep(0.5)

    threads = [threading.Thread(target=caller, args=("search-api", "n1", search, 16, 2000)),
               threading.Thread(target=caller, args=("support-bot", "n2", support, 8, 2000)),
               threading.Thread(target=batch_job)]
    for t in threads: t.start()
    time.sleep(8)  # let the load run a while before looking
    shot = os.path.join(OUT, "dashboard.png")
    out = chromium("--window-size=1280,1000", f"--screenshot={shot}", f"http://127.0.0.1:{ports['n2'][1]}/")
    check("chromium renders / of a node under load to a screenshot", os.path.exists(shot) and os.path.getsize(shot) > 10_000, out.stderr[-400:])
    stop.set()
    for t in threads: t.join(120)
    check("the load ran without errors", not errors, "; ".join(errors[:3]))
    time.sleep(0.5)

    # With the load stopped, the page and the report must show the same figures.
    dom = chromium("--dump-dom", f"http://127.0.0.1:{ports['n1'][1]}/").stdout
    page = Figures(); page.feed(dom)
    report = json.loads(subprocess.run([BIN, "report", "--cluster", path, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout)
    total = report["windows"]["total"]["total"]
    check("the page was loaded by the browser and has its figures", "total.duplicate_share" in page.values, dom[:300])
    close = lambda a, b: abs(a - b) <= 1e-9 * max(1.0, abs(b))
    check("duplicate share matches the report", close(page.values.get("total.duplicate_share", -1), total["duplicates"] / total["texts"]))
    check("saved seconds and money match the report", close(page.values.get("total.saved_seconds", -1), total["savedSeconds"])
          and close(page.values.get("total.saved_api", -1), total["savedMoneyAPI"]) and close(page.values.get("total.saved_cpu", -1), total["savedMoneyCPU"]))
    ok = True
    for name, f in report["windows"]["total"]["callers"].items():
        for k, v in (("texts", f["texts"]), ("requests", f["requests"]), ("duplicates", f["duplicates"]), ("saved_api", f["savedMoneyAPI"])):
            ok = ok and close(page.values.get(f"caller.{name}.{k}", -1), v)
    check("every caller's texts, requests, duplicates and money match the report", ok and len(report["windows"]["total"]["callers"]) == 3,
          str({k: v for k, v in page.values.items() if k.startswith("caller.")}))
    pairs = {f"pair.{p['a']}.{p['b']}": p["keys"] for p in report["overlap"]["pairs"]}
    check("caller overlap matches the report (search-api & support-bot share 120 texts)",
          all(close(page.values.get(k, -1), v) for k, v in pairs.items()) and pairs.get("pair.search-api.support-bot") == 120, str(pairs))
    check("the hit ratio is shown", 0 < page.values.get("total.hit_share", 0) <= 1)
    check("the last hour's overlap matches the report", close(page.values.get("overlap.multi_caller_keys_1h", -1), report["overlapWindows"]["1h"]["multiCallerKeys"]))
    print(f"screenshot: {shot}", flush=True)
finally:
    stop_all(procs, work, ids)
    shutil.rmtree(work, ignore_errors=True)
sys.exit(summary())
