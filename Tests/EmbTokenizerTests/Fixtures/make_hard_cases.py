#!/usr/bin/env python3
# Writes hard_cases.jsonl: texts that stress the tokenizer, with the ids Hugging Face `tokenizers` gives
# them (truncation 256, as the model's sentence_bert_config.json). Run from the package root:
#   python3 Tests/EmbTokenizerTests/Fixtures/make_hard_cases.py
import json, random
from tokenizers import Tokenizer

tok = Tokenizer.from_file("models/all-MiniLM-L6-v2/tokenizer.json")
tok.no_padding()
tok.enable_truncation(256)

cases = [
    "", " ", "\t\n\r", "[CLS]", "[SEP] [PAD] [UNK] [MASK]", "a[CLS]b", "[cls] lower is not special", "[CLS", "[[SEP]]",
    "Hello  World", "hello world", "HELLO\u00a0WORLD", "Ünïcödé àçcéntš", "Crème brûlée", "naïve café résumé",
    "İstanbul", "straße STRASSE", "ǅemal", "ﬁne ﬂow", "Ⅻ ⅻ", "①②③", "ｆｕｌｌ－ｗｉｄｔｈ！？", "「括弧」『二重』",
    "中文字符测试", "日本語のテキストです", "한국어 텍스트 처리", "ภาษาไทยไม่มีช่องว่าง", "العربية نص", "עברית",
    "Ελληνικά ΚΕΦΑΛΑΙΑ σς", "Русский ТЕКСТ", "हिन्दी पाठ", "zero\u200bwidth\u200cjoin\u200dchars", "soft\u00adhyphen",
    "bom\ufeffhere", "replacement\ufffdchar", "nul\u0000byte", "bell\u0007and\u001bescape", "vt\u000bff\u000cfs\u001c",
    "line\u2028sep\u2029para", "ideographic\u3000space", "ogham\u1680space", "thin\u2009space", "del\u007fchar",
    "emoji 😀 👍🏽 👨‍👩‍👧 🏳️‍🌈 🥰 🫠", "symbols ¬ ° ™ © ® § ¶ † ‡ • … ‰ ′ ″", "math ∑ ∫ √ ∞ ≠ ≤ ≥ ± × ÷",
    "currency $ € £ ¥ ₹ ₿ ¢", "arrows ← → ↑ ↓ ⇒", "quotes “smart” ‘single’ «guillemets» „low“", "dashes – — ‐ ‒ ―",
    "combining e\u0301 a\u0308 o\u0302\u0323", "stacked z\u0351\u0352\u0353\u0354", "hangul jamo \u1100\u1161\u11a8",
    "private \ue000\uf8ff use", "plane15 \U000f0000", "unassigned \U0002fffe", "cjk ext b \U00020000\U0002a6d6",
    "compat \uf900\ufa0e\ufa10", "tab\tseparated\tvalues", "CRLF\r\nline", "x" * 100, "y" * 101, "é" * 101,
    "ab" * 60, "supercalifragilisticexpialidocious", "antidisestablishmentarianism", "123,456.789 1e-10 0x1F",
    "snake_case camelCase kebab-case", "email@example.com http://x.y/z?q=1&r=2#frag", "C++ C# F# .NET",
    "<html><body>tags</body></html>", "{\"json\": [1, 2, 3]}", "$$ \\\\ backslash \\n", "don't won't it's",
    "ALLCAPS SENTENCE WITH WORDS", "MiXeD CaSe WoRdS", "Dr. Mr. Mrs. e.g. i.e. etc.", "…ellipsis…", "¿Qué? ¡Sí!",
    "Ω ohm Å angstrom K kelvin", "ﷺ ligature", "ǆ Ǆ ǅ", "ŉ apostrophe n", "ΐ ΰ", "ﬃ ﬄ ﬅ ﬆ", "㍻ ㌀ ㎏",
    "turkish ı i", "Ⓐⓑ circled", "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄", "superscript ² ³ ¹ ⁴", "fractions ½ ¼ ¾", "dotless ȷ",
]
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "sigma", "omega",
         "tokenization", "embedding", "cache", "cluster", "vector", "(", ")", ",", ".", "!", "?", "é", "中"]
rng = random.Random(7)
for n in (120, 253, 254, 255, 256, 300, 600):
    cases.append(" ".join(rng.choice(words) for _ in range(n)))
cases.append("[CLS] " * 300)
cases.append("a" * 5000)
cases.append(("word " * 260) + "[SEP]")
for _ in range(50):  # random mixtures of the above pieces
    cases.append("".join(rng.choice(cases[:90]) + rng.choice(["", " ", "-", "\n"]) for _ in range(rng.randint(2, 6))))

with open("Tests/EmbTokenizerTests/Fixtures/hard_cases.jsonl", "w", encoding="utf-8") as f:
    for text in cases:
        f.write(json.dumps({"text": text, "input_ids": tok.encode(text).ids}) + "\n")
print(len(cases), "cases")
