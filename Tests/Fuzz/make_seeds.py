#!/usr/bin/env python3
"""Writes the fuzz corpora's seeds (Tests/Fuzz/corpus/<target>/seed-*) from what the tests use: RESP
requests of every shape the RESP tests send, the cluster files, a small valid safetensors file and its
truncations, a valid L2 record and near misses, and the tokenizer's hard cases. Run it again after
changing a format; inputs libFuzzer finds that crashed go in beside them as crash-* files."""
import json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, f"seed-{name}"), "wb").write(data if isinstance(data, bytes) else data.encode())


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


for i, frame in enumerate([resp("EMBED", "hello world"), resp("embed", ""), resp("MEMBED", "a", "b", "c"), resp("PING"),
                           resp("HELLO", "3", "AUTH", "default", "secret"), resp("EMBED", b"\xff\xfe"), b"PING\r\n", b"EMBED hello\r\n",
                           b"*2\r\n$5\r\nEMBED\r\n$-1\r\n", b"*2\r\n$5\r\nEMBED\r\n$99999999999\r\n", b"*-5\r\n", b"*3\r\n$5\r\nEMBED\r\n$1\r\nx\r\n",
                           resp("EMBED", "x" * 300) + resp("EMBED", "y"), b'EMBED "unbalanced\r\n', resp("CLUSTER", "RELOAD"), resp("INFO", "l1"),
                           resp("CLIENT", "SETMODEL", "e5-base-v2:query"), resp("SELECT", "1"), resp("EMBED", "x", "MODEL", "m"),
                           resp("PEER.MEMBED.IN", "m", "x")]):
    put("resp", f"{i:02d}", frame)

for i, body in enumerate([{"input": "hello world"}, {"input": ["a", "b"], "model": "all-MiniLM-L6-v2", "encoding_format": "base64"},
                          {"input": [[1, 2], [3]]}, {"input": [1, 2, 3]}, {"input": []}, {"input": "x", "encoding_format": "int8"},
                          {"input": "x", "user": "batch-job"}, {"input": [True, 1.5]}, {"input": "\ud83d\ude80 caf\u00e9"},
                          {"input": ["q"], "model": "e5-base-v2", "input_type": "query"}, {"input": "x", "model": 7, "input_type": "question"},
                          {"input": ["a", "b"], "dimensions": 128}, {"input": "x", "dimensions": 1.5}, {"input": "x", "dimensions": None}]):
    put("http", f"{i:02d}", json.dumps(body))
put("http", "not-json", b"{nope")

for name in sorted(os.listdir(os.path.join(ROOT, "Cluster"))):
    if name.endswith(".yaml"):
        put("cluster", name, open(os.path.join(ROOT, "Cluster", name), "rb").read())
put("cluster", "weights.yaml", "cluster:\n  name: w\n  vnodes: 8\nnodes:\n  - id: a\n    resp: 127.0.0.1:1\n    http: 127.0.0.1:2\n    weight: 2.5\n"
    "    redis: 127.0.0.1:6379/3\n")
put("cluster", "models.yaml", "cluster:\n  name: models\nmodels:\n  - name: all-MiniLM-L6-v2\n    path: models/all-MiniLM-L6-v2\n"
    "    aliases: [sentence-transformers/all-MiniLM-L6-v2]\n  - name: e5-base-v2\n    path: models/e5-base-v2\n"
    "    query_prefix: \"query: \"\n    passage_prefix: \"passage: \"\n    ttl: 12h\n    l1_max_bytes: 64MiB\n"
    "cache:\n  l1_max_bytes: 96MiB\nnodes:\n  - id: n1\n    resp: 127.0.0.1:7401\n    http: 127.0.0.1:8401\n")

header = json.dumps({"__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                     "b": {"dtype": "I64", "shape": [1], "data_offsets": [16, 24]}}).encode()
header += b" " * (-len(header) % 8)
tensors = struct.pack("<Q", len(header)) + header + struct.pack("<4f", 1, 2, 3, 4) + struct.pack("<q", 7)
put("safetensors", "valid", tensors)
put("safetensors", "truncated", tensors[:-5])
put("safetensors", "huge-length", struct.pack("<Q", 1 << 62) + header)

def record(dim, created=1.7e9, delta=0.01):
    return b"EMBv" + bytes([1, 0, dim & 255, dim >> 8]) + struct.pack("<df", created, delta) + struct.pack(f"<{dim}f", *([0.5] * dim))
put("l2record", "dim1", record(1))
put("l2record", "dim384", record(384))
put("l2record", "bad-magic", b"EMBx" + record(1)[4:])
put("l2record", "nan-delta", record(1, delta=float("nan")))

for i, line in enumerate(open(os.path.join(ROOT, "Tests", "EmbTokenizerTests", "Fixtures", "hard_cases.jsonl"), encoding="utf-8")):
    if i % 4 == 0:
        put("tokenizer", f"hard-{i:03d}", json.loads(line)["text"].encode())
put("tokenizer", "invalid-utf8", b"caf\xc3 \xff\xfe")
put("tokenizer", "long", ("word " * 400).encode())
