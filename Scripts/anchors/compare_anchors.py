#!/usr/bin/env python3
"""Are two (or more) ONNX anchors equally fast? One process, one session each (2 threads, no spinning,
so an idle session's threads never steal the other's cores), the same batches fed to each in
rotating order, per-batch wall time; prints each anchor's median relative to the first. Interleaving
at batch grain makes a noisy machine's load fall on all of them alike.

  compare_anchors.py A.onnx B.onnx [...] [--model models/all-MiniLM-L6-v2] [--reps 3]
"""
import json, os, sys, time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    args = sys.argv[1:]
    model = args[args.index("--model") + 1] if "--model" in args else os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
    reps = int(args[args.index("--reps") + 1]) if "--reps" in args else 3
    paths = [a for a in args if a.endswith(".onnx")]
    if len(paths) < 2:
        sys.exit(__doc__)
    tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    sessions = []
    for p in paths:
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions.append(ort.InferenceSession(p, so, providers=["CPUExecutionProvider"]))

    def feed(texts):
        enc = tok.encode_batch(texts)
        ids = np.zeros((len(enc), max(len(e.ids) for e in enc)), np.int64)
        mask = np.zeros_like(ids)
        for i, e in enumerate(enc):
            ids[i, :len(e.ids)], mask[i, :len(e.ids)] = e.ids, 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}

    for workload in ("short", "long"):
        texts = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "Scripts", "workloads", f"{workload}.texts.jsonl"), encoding="utf-8")]
        for bs in (1, 32):
            batches = [feed(texts[i:i + bs]) for i in range(0, max(len(texts) - bs + 1, 1), bs)][:40]
            times = [[] for _ in sessions]
            for s in sessions:
                s.run(None, batches[0])
            for _ in range(reps):
                for j, b in enumerate(batches):
                    for k in [(j + i) % len(sessions) for i in range(len(sessions))]:
                        t0 = time.perf_counter()
                        sessions[k].run(None, b)
                        times[k].append(time.perf_counter() - t0)
            base = np.median(times[0])
            cells = "  ".join(f"{os.path.basename(os.path.dirname(p)) or p}: {np.median(t) * 1e3:.2f} ms ({np.median(t) / base:.3f}x)"
                              for p, t in zip(paths, times))
            print(f"{workload} batch={bs}  {cells}", flush=True)


if __name__ == "__main__":
    main()
