#!/usr/bin/env python3
# A quantization scheme's accuracy before its kernels exist: a numpy forward pass of a BERT model
# (absolute positions, mean pooling: all-MiniLM-L6-v2 and its family; shape from config.json) whose
# dense layers follow scheme v2 (weights int8 symmetric per (channel, group), activations u8
# asymmetric per (row, group), the word-embedding table int8 per row), with candidate changes
# switched on by flags, scored by cosine against the sentence-transformers reference vectors. With
# scheme v2's flags it reproduces the kernels' figures (420 public texts: min 0.99796, mean 0.999487
# here; 0.99796 / 0.999485 from `embcache embed`), so a candidate's figure here is what its kernels
# would give, to about 1e-5.
# Modes (comma-separated; each is flags joined by +): fp32 (no quantization: 1.00000 checks the
# pass), gN (dense-layer groups of N inputs; g128 is scheme v2), qk (Q and K int8 per (row, head),
# symmetric), pv (softmax probabilities u8 per row, scaled by the row's largest; V int8 per
# (head, dimension) over the text's tokens, symmetric), pvu (as pv, but the probabilities are
# rint(255·e) with e = exp(s − max), normalized by their integer sum), p15 (as pvu with 15 bits,
# rint(32767·e): scheme v3 is g128+qk+p15): the operands of QKᵀ and P·V on VNNI; arow (activations
# per row: one scale and zero point per row of every dense layer's input, the weights still per group),
# arow2 (the same for the FFN's second layer only, whose input is wider than the hidden size).
# Usage: python3 Scripts/anchors/scheme_study.py models/all-MiniLM-L6-v2 \
#            Tests/Fixtures/encoder/reference.public.jsonl g128,g128+qk+pv
import base64, json, struct, sys
import numpy as np

from safetensors_np import read_safetensors

def erf(x):  # the rational erf of Sources/CEmbKernels (embk_gelu), in float64: exact to float precision
    x = np.clip(x, -4.0, 4.0); x2 = x * x
    p = -2.72614225801306e-10
    for c in (2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05, -7.34990630326855e-04,
              -2.95459980854025e-03, -1.60960333262415e-02):
        p = p * x2 + c
    q = -1.45660718464996e-05
    for c in (-2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03, -1.42647390514189e-02):
        q = q * x2 + c
    return p * x / q

model_dir, ref_path = sys.argv[1], sys.argv[2]
tensors = read_safetensors(f"{model_dir}/model.safetensors")
t = tensors.__getitem__

def q_weight(w, G):  # (out, in) -> dequantized
    out, k = w.shape; r = w.copy()
    for g in range(0, k, G):
        blk = w[:, g:g+G]; amax = np.abs(blk).max(axis=1, keepdims=True); s = amax / 127
        r[:, g:g+G] = np.clip(np.rint(blk / np.where(s > 0, s, 1)), -127, 127) * s
    return r
def q_act(x, G):  # (rows, k) u8 asym per (row, group)
    r = x.copy()
    for g in range(0, x.shape[1], G):
        blk = x[:, g:g+G]; lo = np.minimum(blk.min(axis=1, keepdims=True), 0); hi = np.maximum(blk.max(axis=1, keepdims=True), 0)
        s = (hi - lo) / 255; s1 = np.where(s > 0, s, 1); zp = np.clip(np.rint(-lo / s1), 0, 255)
        u = np.clip(np.rint(blk / s1) + zp, 0, 255); r[:, g:g+G] = (u - zp) * s
    return r
def sym_rows(x, axis):  # symmetric int8, one scale per slice along `axis` reduced
    amax = np.abs(x).max(axis=axis, keepdims=True); s = amax / 127; s1 = np.where(s > 0, s, 1)
    return np.clip(np.rint(x / s1), -127, 127) * s

config = json.load(open(f"{model_dir}/config.json"))
L, H, NH = config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"]
D, EPS = H // NH, config.get("layer_norm_eps", 1e-12)
W = {}
for l in range(L):
    p = f"encoder.layer.{l}."
    for name in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense"]:
        W[(l, name)] = (t(p + name + ".weight"), t(p + name + ".bias"))
    W[(l, "ln1")] = (t(p + "attention.output.LayerNorm.weight"), t(p + "attention.output.LayerNorm.bias"))
    W[(l, "ln2")] = (t(p + "output.LayerNorm.weight"), t(p + "output.LayerNorm.bias"))
QW = {}
def qweights(G):
    if G not in QW: QW[G] = {k: (q_weight(v[0], G), v[1]) for k, v in W.items() if k[1] not in ("ln1", "ln2")}
    return QW[G]
word = t("embeddings.word_embeddings.weight"); pos = t("embeddings.position_embeddings.weight"); typ = t("embeddings.token_type_embeddings.weight")
eln = (t("embeddings.LayerNorm.weight"), t("embeddings.LayerNorm.bias"))
word_q = sym_rows(word, 1)

def ln(x, g, b): m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True); return (x - m) / np.sqrt(v + EPS) * g + b
def forward(ids, mode):
    flags = mode.split("+")
    quant = mode != "fp32"
    G = next((int(f[1:]) for f in flags if f.startswith("g")), 128)
    x = (word_q if quant else word)[ids] + pos[:len(ids)] + typ[0]
    x = ln(x, *eln)
    # Inputs per activation scale: the group, or a whole row (arow; arow2: only inputs wider than H).
    act_group = lambda k: k if "arow" in flags or ("arow2" in flags and k > H) else G
    lin = lambda x, l, name: ((q_act(x, act_group(x.shape[1])) @ qweights(G)[(l, name)][0].T) if quant else x @ W[(l, name)][0].T) + W[(l, name)][1]
    for l in range(L):
        q, k, v = lin(x, l, "attention.self.query"), lin(x, l, "attention.self.key"), lin(x, l, "attention.self.value")
        ctx = np.zeros_like(x)
        for h in range(NH):
            qh, kh, vh = q[:, h*D:(h+1)*D], k[:, h*D:(h+1)*D], v[:, h*D:(h+1)*D]
            if "qk" in flags:
                qh, kh = sym_rows(qh, 1), sym_rows(kh, 1)
            s = qh @ kh.T / np.sqrt(D)
            p = np.exp(s - s.max(1, keepdims=True))
            if "pvu" in flags or "p15" in flags:  # u = rint(255·e) or rint(32767·e) (scheme v3), over Σu
                u = np.rint(p * (255 if "pvu" in flags else 32767)); p = u / u.sum(1, keepdims=True); vh = sym_rows(vh, 0)
            else:
                p /= p.sum(1, keepdims=True)
            if "pv" in flags:
                pmax = p.max(1, keepdims=True); p = np.rint(p / pmax * 255) * pmax / 255
                vh = sym_rows(vh, 0)
            ctx[:, h*D:(h+1)*D] = p @ vh
        x = ln(lin(ctx, l, "attention.output.dense") + x, *W[(l, "ln1")])
        hmid = lin(x, l, "intermediate.dense"); hmid = 0.5 * hmid * (1 + erf(hmid / np.sqrt(2)))
        x = ln(lin(hmid, l, "output.dense") + x, *W[(l, "ln2")])
    e = x.mean(0); return e / np.linalg.norm(e)

rows = [json.loads(line) for line in open(ref_path)]
for mode in sys.argv[3].split(","):
    cos = []
    for r in rows:
        ref = np.frombuffer(base64.b64decode(r["embedding_base64"]), "<f4")
        cos.append(float(forward(np.array(r["input_ids"]), mode) @ ref))
    cos = np.array(cos)
    print(f"{mode}: texts {len(cos)} min {cos.min():.5f} p1 {np.percentile(cos, 1):.5f} mean {cos.mean():.6f}", flush=True)
