#!/usr/bin/env python3
"""Regenerates reference.public.jsonl from public.texts.jsonl: for each text, the token ids of
Hugging Face's tokenizer (tokenizer.json, truncated at the folder's max_seq_length: 256 for
all-MiniLM-L6-v2, 384 for all-mpnet-base-v2) and the fp32 embedding of sentence-transformers (the
folder's pooling, L2 normalized), one {"text", "input_ids", "embedding_base64"} per line. The vector
is stored exactly, as base64 of its float32 little-endian (OpenAI's base64 form):
exact, and under half the size of decimal text (the repository keeps files under 2 MiB).

  make_reference.py MODEL_DIR public.texts.jsonl > reference.public.jsonl
  make_reference.py models/all-mpnet-base-v2 public.texts.jsonl > reference.mpnet.public.jsonl

Needs torch and sentence-transformers (~3 GB with PyPI's CUDA wheels), so run it in a venv of its
own, never from Scripts/test:  python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
"""
import base64, json, sys

from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_dir, texts_path = sys.argv[1], sys.argv[2]
    texts = [json.loads(line)["text"] for line in open(texts_path, encoding="utf-8")]
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.no_padding()
    limit = json.load(open(f"{model_dir}/sentence_bert_config.json"))["max_seq_length"]
    tok.enable_truncation(limit)
    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = limit
    vectors = model.encode(texts, batch_size=32, convert_to_numpy=True)
    for text, enc, v in zip(texts, tok.encode_batch(texts), vectors):
        vector = base64.b64encode(v.astype("<f4").tobytes()).decode()
        print(json.dumps({"text": text, "input_ids": enc.ids, "embedding_base64": vector}, ensure_ascii=False))


if __name__ == "__main__":
    main()
