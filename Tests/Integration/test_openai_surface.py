#!/usr/bin/env python3
"""Issue 20 §2, the OpenAI calls tools make first, against a live node with real clients:
GET /v1/models and /v1/models/{id} (the `openai` package's models.list() / retrieve(), curl), and
`dimensions` (the `openai` package, LangChain's OpenAIEmbeddings(dimensions=...), curl, and RESP's
EMBED ... DIMENSIONS n / MEMBED DIMENSIONS n ... through redis-py and redis-cli).

The node serves all-MiniLM-L6-v2 marked `matryoshka_dims: [256, 128]` and the random-weight fixture
tiny-mean-raw (96 wide, not normalized) unmarked. MiniLM was not trained with Matryoshka loss: the mark
here tests the mechanism (the first n floats of the node's own full vector, renormalized), not the
quality of a 128-wide MiniLM. An unmarked model, or a width not listed, must get a 400 naming
`dimensions` and the widths it can serve, never a silently full-width vector.
Starts a Redis and a node on free loopback ports, stops them by PID; loops are bounded."""
import base64, json, os, subprocess, sys, tempfile, urllib.error, urllib.request
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, stop_all, summary, wait_port

procs = []
work = tempfile.mkdtemp()
try:
    import redis
    import openai
    from langchain_openai import OpenAIEmbeddings

    redis_port, resp_port, http_port = free_port(), free_port(), free_port()
    cluster = os.path.join(work, "cluster.yaml")
    open(cluster, "w").write("\n".join([
        "cluster:", "  name: surface", "models:",
        "  - name: all-MiniLM-L6-v2", f"    path: {ROOT}/models/all-MiniLM-L6-v2",
        "    aliases: [sentence-transformers/all-MiniLM-L6-v2]", "    matryoshka_dims: [256, 128]",
        "  - name: tiny-mean-raw", f"    path: {ROOT}/Tests/Fixtures/random-bert/tiny-mean-raw",
        "nodes:", "  - id: n1", f"    resp: 127.0.0.1:{resp_port}", f"    http: 127.0.0.1:{http_port}",
        f"    redis: 127.0.0.1:{redis_port}/0", ""]))
    procs.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(redis_port)
    log = open(os.path.join(work, "n1.log"), "w")
    procs.append(subprocess.Popen([BIN, "serve", "--cluster", cluster, "--node", "n1"], cwd=ROOT, stdout=log, stderr=log))
    check("node starts and listens", wait_port(resp_port, 60) and wait_port(http_port, 60))
    base = f"http://127.0.0.1:{http_port}"
    client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=30)
    r = redis.Redis(port=resp_port)

    # --- /v1/models ---
    listed = client.models.list()
    ids = [m.id for m in listed.data]
    check("models.list() names every served name and alias, the default first",
          ids == ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "tiny-mean-raw"], str(ids))
    check("each listed model is OpenAI's object", all(m.object == "model" and m.owned_by == "embcache" and m.created > 1_600_000_000
                                                         for m in listed.data))
    one = client.models.retrieve("sentence-transformers/all-MiniLM-L6-v2")
    check("models.retrieve() of an alias (an id with a slash)", one.id == "sentence-transformers/all-MiniLM-L6-v2" and one.object == "model")
    try:
        client.models.retrieve("text-embedding-3-small")
        check("an unknown model id is a 404", False, "answered")
    except openai.NotFoundError as e:
        body = e.response.json()["error"]
        check("an unknown model id is a 404 in OpenAI's shape, naming the served models",
              body["code"] == "model_not_found" and body["param"] == "model" and "all-MiniLM-L6-v2" in body["message"], str(body))
    curl = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", base + "/v1/models"], capture_output=True, text=True, timeout=30)
    body, code = curl.stdout.rsplit("\n", 1)
    check("curl GET /v1/models", code == "200" and json.loads(body)["object"] == "list", curl.stdout[:200])
    curl = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", base + "/v1/models"],
                          capture_output=True, text=True, timeout=30)
    check("POST /v1/models is a 405", curl.stdout == "405", curl.stdout)

    # --- dimensions ---
    texts = ["What is a vector cache?", "Embeddings are computed once and served many times.", "ünïcödé and emoji 🚀", ""]
    full = {t: np.frombuffer(r.execute_command("EMBED", t), "<f4") for t in texts}

    def cut(v, n):
        head = v[:n].astype(np.float64)
        return (head / np.linalg.norm(head)).astype(np.float32)

    def close(got, want):
        return len(got) == len(want) and np.allclose(np.asarray(got, np.float32), want, atol=2e-6)

    for n in (128, 256):
        got = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts, dimensions=n)
        check(f"openai dimensions={n}: the first {n} floats of the full vector, renormalized",
              all(close(d.embedding, cut(full[t], n)) for d, t in zip(got.data, texts)))
        check(f"openai dimensions={n}: unit length", all(abs(np.linalg.norm(d.embedding) - 1) < 1e-5 for d in got.data))
    b64 = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts[0], dimensions=128, encoding_format="base64")
    # Asked for explicitly, the openai package hands base64 back undecoded.
    check("dimensions with base64", close(np.frombuffer(base64.b64decode(b64.data[0].embedding), "<f4"), cut(full[texts[0]], 128)))
    same = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts[:2], dimensions=384)
    check("dimensions equal to the model's width is the full vector",
          all(np.array_equal(np.asarray(d.embedding, np.float32), full[t]) for d, t in zip(same.data, texts)))
    # The cache keeps the full vector: a cut request after a full one is a hit, and the full vector is unchanged after.
    again = client.embeddings.create(input=texts, model="all-MiniLM-L6-v2")
    check("full vectors unchanged after cut requests", all(np.array_equal(np.asarray(d.embedding, np.float32), full[t]) for d, t in zip(again.data, texts)))

    for model, n, why in [("all-MiniLM-L6-v2", 100, "384, 256, 128"), ("all-MiniLM-L6-v2", 512, "384, 256, 128"),
                          ("tiny-mean-raw", 64, "dimensions 96")]:
        try:
            client.embeddings.create(model=model, input="x", dimensions=n)
            check(f"{model} dimensions={n} is refused", False, "answered")
        except openai.BadRequestError as e:
            err = e.response.json()["error"]
            check(f"{model} dimensions={n}: a 400 naming `dimensions` and the widths it serves",
                  err["param"] == "dimensions" and why in err["message"], str(err))
    for bad in ("0", "-1", "1.5", '"128"'):
        req = urllib.request.Request(base + "/v1/embeddings", data=('{"input": "x", "dimensions": %s}' % bad).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=30)
            check(f"dimensions {bad} refused", False, "answered")
        except urllib.error.HTTPError as e:
            err = json.loads(e.read())["error"]
            check(f"dimensions {bad}: 400 with param dimensions", e.code == 400 and err["param"] == "dimensions", str(err))

    lc = OpenAIEmbeddings(model="all-MiniLM-L6-v2", base_url=base + "/v1", api_key="unused", dimensions=128,
                          check_embedding_ctx_length=False, max_retries=0)
    got = lc.embed_documents(texts[:3])
    check("LangChain OpenAIEmbeddings(dimensions=128)", all(close(v, cut(full[t], 128)) for v, t in zip(got, texts)))
    check("LangChain embed_query with dimensions", close(lc.embed_query(texts[0]), cut(full[texts[0]], 128)))

    curl = subprocess.run(["curl", "-s", base + "/v1/embeddings", "-d", json.dumps({"input": texts[1], "dimensions": 256})],
                          capture_output=True, text=True, timeout=30)
    check("curl with dimensions", close(json.loads(curl.stdout)["data"][0]["embedding"], cut(full[texts[1]], 256)), curl.stdout[:200])

    # --- RESP ---
    one = np.frombuffer(r.execute_command("EMBED", texts[0], "DIMENSIONS", 128), "<f4")
    check("EMBED text DIMENSIONS 128", close(one, cut(full[texts[0]], 128)))
    one = np.frombuffer(r.execute_command("EMBED", texts[1], "MODEL", "sentence-transformers/all-MiniLM-L6-v2", "DIMENSIONS", 256), "<f4")
    check("EMBED text MODEL name DIMENSIONS 256", close(one, cut(full[texts[1]], 256)))
    many = r.execute_command("MEMBED", "DIMENSIONS", 128, *texts)
    check("MEMBED DIMENSIONS 128 text...", len(many) == len(texts) and all(close(np.frombuffer(v, "<f4"), cut(full[t], 128)) for v, t in zip(many, texts)))
    plain = r.execute_command("MEMBED", "DIMENSIONS", "of a room", "x")
    check("MEMBED whose first text is DIMENSIONS (no width after it) embeds its texts", len(plain) == 3)
    for args, why in [(("EMBED", "x", "DIMENSIONS", 100), "384, 256, 128"), (("EMBED", "x", "DIMENSIONS", "wide"), "cannot give 0"),
                      (("EMBED", "x", "MODEL", "tiny-mean-raw", "DIMENSIONS", 64), "not marked as Matryoshka")]:
        try:
            r.execute_command(*args)
            check(f"{args} refused", False, "answered")
        except redis.ResponseError as e:
            check(f"{' '.join(map(str, args))}: an error naming the widths", why in str(e), str(e))
    cli = subprocess.run(["redis-cli", "-p", str(resp_port), "--raw", "EMBED", texts[0], "DIMENSIONS", "128"], capture_output=True, timeout=30)
    check("redis-cli EMBED ... DIMENSIONS 128 answers the 128 floats (512 bytes)",
          cli.returncode == 0 and len(cli.stdout) == 513 and close(np.frombuffer(cli.stdout[:512], "<f4"), cut(full[texts[0]], 128)), repr(cli.stdout[:80]))
    check("node still up", r.ping())
except Exception as e:
    import traceback; traceback.print_exc()
    check("no exception", False, repr(e))
finally:
    stop_all(procs, work, ["n1"])
sys.exit(summary())
