#!/usr/bin/env python3
# Writes cased_ids.jsonl: the ids Hugging Face `tokenizers` gives the public reference texts and the hard
# cases when the normalizer is cased (BertNormalizer lowercase=False, strip_accents=False: what a cased
# BERT model's tokenizer.json says), over all-MiniLM-L6-v2's vocabulary, truncation 256. The vocabulary
# is lowercase, so capitalized words become pieces or [UNK]: exactly what must match. Run from the
# package root: python3 Tests/EmbTokenizerTests/Fixtures/make_cased_ids.py (needs `pip install tokenizers`).
import json
from tokenizers import Tokenizer
from tokenizers.normalizers import BertNormalizer

tok = Tokenizer.from_file("models/all-MiniLM-L6-v2/tokenizer.json")
tok.normalizer = BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
tok.no_padding()
tok.enable_truncation(256)
texts = [json.loads(l)["text"] for l in open("Tests/Fixtures/encoder/public.texts.jsonl", encoding="utf-8")]
texts += [json.loads(l)["text"] for l in open("Tests/EmbTokenizerTests/Fixtures/hard_cases.jsonl", encoding="utf-8")]
texts += ["Hello World", "hello world", "HELLO", "Crème Brûlée", "ﬁ ligature", "豈 compatibility ideograph", "e\u0301 combining", "İstanbul"]
with open("Tests/EmbTokenizerTests/Fixtures/cased_ids.jsonl", "w", encoding="utf-8") as out:
    for text, enc in zip(texts, tok.encode_batch(texts)):
        out.write(json.dumps({"text": text, "input_ids": enc.ids}, ensure_ascii=False) + "\n")
print(len(texts))
