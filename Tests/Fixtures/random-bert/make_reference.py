#!/usr/bin/env python3
"""Writes the reference of a random-weight BERT fixture (made by Scripts/make-random-bert): for each
text of texts.jsonl, the token ids of Hugging Face's tokenizer for that folder and the fp32 vector of
sentence-transformers (the folder's own pooling, normalization and max_seq_length), one
{"text", "input_ids", "embedding_base64"} per line (base64 of float32 little-endian, exact).

  make_reference.py MODEL_DIR texts.jsonl > MODEL_DIR/reference.jsonl

It is the independent implementation the Swift encoder is checked against, so it must be the real
libraries: run it in a venv with sentence-transformers (torch: never from Scripts/test), e.g.
  python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
The weights are loaded as float32 whatever their stored dtype (F16 fixtures are upcast, as we do).
"""
import base64, json, sys

import torch
from sentence_transformers import SentenceTransformer


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_dir, texts_path = sys.argv[1], sys.argv[2]
    texts = [json.loads(line)["text"] for line in open(texts_path, encoding="utf-8")]
    model = SentenceTransformer(model_dir, device="cpu", model_kwargs={"dtype": torch.float32})
    tokenizer = model.tokenizer
    vectors = model.encode(texts, batch_size=8, convert_to_numpy=True)
    for text, v in zip(texts, vectors):
        ids = tokenizer(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        vector = base64.b64encode(v.astype("<f4").tobytes()).decode()
        print(json.dumps({"text": text, "input_ids": ids, "embedding_base64": vector}, ensure_ascii=False))


if __name__ == "__main__":
    main()
