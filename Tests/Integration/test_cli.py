#!/usr/bin/env python3
"""CLI round trip: `embcache tokenize` and `embcache embed` over the public reference file, checked with
the same comparison the ONNX Runtime anchor uses (Scripts/anchors/ort_anchor.py compare), against the
reference vectors in Tests/Fixtures/encoder (their README says where they come from)."""
import json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("EMBCACHE_BIN", os.path.join(ROOT, ".build", "release", "embcache"))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "encoder")
TEXTS = os.path.join(FIXTURES, "public.texts.jsonl")
REFERENCE = os.path.join(FIXTURES, "reference.public.jsonl")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""))
    passed, failed = passed + ok, failed + (not ok)


def run(*args, stdin=None):
    return subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, timeout=300)


ref = [json.loads(l) for l in open(REFERENCE, encoding="utf-8")]

out = run("tokenize", "--input", TEXTS)
lines = [json.loads(l) for l in out.stdout.splitlines()]
check("tokenize exits 0", out.returncode == 0, out.stderr[-300:])
check("tokenize keeps input order and ids", [l["input_ids"] for l in lines] == [r["input_ids"] for r in ref])

out = run("embed", "--input", TEXTS, "--verbose")
check("embed exits 0", out.returncode == 0, out.stderr[-300:])
check("embed --verbose names the kernel path", "kernel " in out.stderr, out.stderr.strip())
with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
    f.write(out.stdout)
cmp = subprocess.run([sys.executable, os.path.join(ROOT, "Scripts", "anchors", "ort_anchor.py"), "compare", REFERENCE, f.name],
                     capture_output=True, text=True, timeout=300)
os.unlink(f.name)
print("     " + cmp.stdout.strip())
check("embed: token ids exact on every line", "token ids exact 420/420" in cmp.stdout)
fields = dict(kv.split("=") for kv in cmp.stdout.replace(";", "").split() if "=" in kv and kv.split("=")[0] in ("min", "mean"))
check("embed: min cosine >= 0.995", float(fields.get("min", 0)) >= 0.995, fields.get("min"))
check("embed: mean cosine >= 0.999", float(fields.get("mean", 0)) >= 0.999, fields.get("mean"))

out = run("embed", "hello world", "Hello  World")
vs = [json.loads(l)["embedding"] for l in out.stdout.splitlines()]
check("embed TEXT arguments: equal texts give equal vectors", len(vs) == 2 and vs[0] == vs[1])

out = run("embed", "--model", "/nonexistent/model", "x")
check("a missing model folder says how to fetch it", out.returncode != 0 and "Scripts/fetch-model" in out.stderr, out.stderr.strip()[-200:])

with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
    f.write('{"text": "fine"}\nnot json\n')
out = run("embed", "--input", f.name)
os.unlink(f.name)
check("a malformed input line is refused with its line number", out.returncode != 0 and ":2:" in out.stderr, out.stderr.strip()[-200:])

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
