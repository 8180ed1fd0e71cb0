#!/usr/bin/env python3
"""The encoder's speed and accuracy anchor: ONNX Runtime running all-MiniLM-L6-v2 with dynamic int8
quantization (QInt8 weights, per-channel; the strongest CPU runtime we measured), 2 threads.

Needs: pip install onnxruntime tokenizers numpy
  ort_anchor.py speed    MODEL_DIR TEXTS.jsonl [--batch 1,32] [--secs 6]
  ort_anchor.py embed    MODEL_DIR TEXTS.jsonl > OUT.jsonl          # {"input_ids", "embedding"} per line
  ort_anchor.py compare  REFERENCE.jsonl CANDIDATE.jsonl            # token ids exact? cosine min/p1/mean
                                                                    # (vectors as numbers or embedding_base64)
MODEL_DIR is the unpacked model folder (tokenizer.json inside, or vocab.txt for the random-weight
folders of Scripts/make-random-bert). The ONNX file defaults to
models/ort-anchor/model.int8.onnx, which Scripts/build-ort-anchor makes; set ORT_MODEL to use another.
Origin: the team's anchor tool (tools/ort_anchor.py of our reference kit), copied here so a clone
reproduces every figure on its own; only the default ONNX path changed.
TEXTS.jsonl has one {"text": ...} per line. Speed prints texts/s and tokens/s (non-padding word-pieces),
the median of 3 interleaved repetitions, so run it in the same command as the benchmark it anchors.
"""
import base64, json, os, sys, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ONNX = os.environ.get("ORT_MODEL", os.path.join(ROOT, "models", "ort-anchor", "model.int8.onnx"))


def tokenizer(model_dir):
    """tokenizer.json when the folder has one, else a WordPiece tokenizer over its vocab.txt (the
    random-weight folders Scripts/make-random-bert writes), truncated at the folder's max_seq_length."""
    from tokenizers import BertWordPieceTokenizer, Tokenizer
    path = os.path.join(model_dir, "tokenizer.json")
    if os.path.exists(path):
        tok = Tokenizer.from_file(path)
    else:
        settings = {}
        if os.path.exists(os.path.join(model_dir, "tokenizer_config.json")):
            settings = json.load(open(os.path.join(model_dir, "tokenizer_config.json")))
        tok = BertWordPieceTokenizer(os.path.join(model_dir, "vocab.txt"), lowercase=settings.get("do_lower_case", True))
    limit = 256
    if os.path.exists(os.path.join(model_dir, "sentence_bert_config.json")):
        limit = json.load(open(os.path.join(model_dir, "sentence_bert_config.json"))).get("max_seq_length", limit)
    tok.no_padding()
    tok.enable_truncation(limit)
    return tok


def load(model_dir):
    import onnxruntime as ort
    tok = tokenizer(model_dir)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    return tok, ort.InferenceSession(ONNX, so, providers=["CPUExecutionProvider"])


def embed(tok, sess, texts):
    enc = tok.encode_batch(texts)
    n = max(len(e.ids) for e in enc)
    ids = np.zeros((len(enc), n), np.int64)
    mask = np.zeros((len(enc), n), np.int64)
    for i, e in enumerate(enc):
        ids[i, :len(e.ids)] = e.ids
        mask[i, :len(e.ids)] = 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    wanted = {i.name for i in sess.get_inputs()}  # an MPNet graph has no token_type_ids
    h = sess.run(None, {k: a for k, a in feed.items() if k in wanted})[0]
    m = mask[..., None].astype(np.float32)
    v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return [e.ids for e in enc], v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12), int(mask.sum())


def texts_of(path):
    return [json.loads(l)["text"] for l in open(path, encoding="utf-8")]


def speed(model_dir, path, batches, secs):
    tok, sess = load(model_dir)
    texts = texts_of(path)
    for bs in batches:
        groups = [texts[i:i + bs] for i in range(0, max(len(texts) - bs + 1, 1), bs)]
        embed(tok, sess, groups[0])
        runs = []
        for _ in range(3):
            n = t = k = 0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < secs / 3:
                g = groups[n % len(groups)]
                k += embed(tok, sess, g)[2]
                t += len(g)
                n += 1
            dt = time.perf_counter() - t0
            runs.append((t / dt, k / dt))
        runs.sort()
        print(f"onnxruntime-int8 batch={bs} texts/s={runs[1][0]:.1f} tokens/s={runs[1][1]:.0f}")


def dump(model_dir, path):
    tok, sess = load(model_dir)
    texts = texts_of(path)
    for i in range(0, len(texts), 32):
        ids, v, _ = embed(tok, sess, texts[i:i + 32])
        for a, b in zip(ids, v):
            print(json.dumps({"input_ids": a, "embedding": [float("%.7g" % x) for x in b]}))


def vector(row):
    """A line's vector: `embedding` (numbers) or `embedding_base64` (float32 little-endian, as the
    reference file in Tests/Fixtures/encoder stores it)."""
    if "embedding_base64" in row:
        return np.frombuffer(base64.b64decode(row["embedding_base64"]), "<f4")
    return np.array(row["embedding"], np.float32)


def compare(ref_path, cand_path):
    ref = [json.loads(l) for l in open(ref_path, encoding="utf-8")]
    cand = [json.loads(l) for l in open(cand_path, encoding="utf-8")]
    if len(ref) != len(cand):
        print(f"FAIL: {len(cand)} lines, expected {len(ref)}")
        return 1
    same_ids = sum(r["input_ids"] == c.get("input_ids") for r, c in zip(ref, cand))
    R = np.array([vector(r) for r in ref], np.float32)
    C = np.array([vector(c) for c in cand], np.float32)
    cos = (R * C).sum(1) / (np.linalg.norm(R, axis=1) * np.linalg.norm(C, axis=1))
    norms = np.linalg.norm(C, axis=1)
    print(f"token ids exact {same_ids}/{len(ref)}; cosine min={cos.min():.5f} p1={np.percentile(cos, 1):.5f} "
          f"mean={cos.mean():.6f}; norms [{norms.min():.5f}, {norms.max():.5f}]")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "speed":
        b = [int(x) for x in a[a.index("--batch") + 1].split(",")] if "--batch" in a else [1, 32]
        s = float(a[a.index("--secs") + 1]) if "--secs" in a else 6.0
        speed(a[0], a[1], b, s)
    elif cmd == "embed":
        dump(a[0], a[1])
    elif cmd == "compare":
        sys.exit(compare(a[0], a[1]))
    else:
        sys.exit(__doc__)
