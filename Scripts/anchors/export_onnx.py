#!/usr/bin/env python3
"""Exports a BERT sentence model (the Hugging Face folder Scripts/fetch-model unpacks) to ONNX, then
quantizes it with ONNX Runtime's own dynamic int8 quantizer (`quantize_dynamic`, QInt8 weights,
per-channel): the anchor `Scripts/bench-encoder` measures our encoder against.

  export_onnx.py MODEL_DIR OUT_DIR        # writes OUT_DIR/model.onnx (fp32) and OUT_DIR/model.int8.onnx

Why not torch.onnx.export: torch from PyPI pulls ~3 GB of CUDA wheels. The graph is built here from
the safetensors weights with the `onnx` package instead, node for node what torch 2.x exports for
transformers' BertModel at opset 17 (eager attention): embeddings (Gather + Add + LayerNormalization),
then per layer MatMul+Add projections, Reshape/Transpose to heads, MatMul QK^T, Div by sqrt(d),
additive mask, Softmax, MatMul V, output projection, residual LayerNormalization, erf GELU
(Div, Erf, Add, Mul, Mul: the pattern ORT's GeluFusion matches) and the second residual. Output:
`last_hidden_state`; pooling and normalization stay outside, in ort_anchor.py, as for the torch export.
MPNet (all-mpnet-base-v2) is the same graph with transformers' MPNetModel differences: no token
types (no token_type_ids input), position ids from the padding id + 1 skipping padding ids (Equal,
Not, CumSum), the q/k/v/o and LayerNorm names of MPNetAttention, and the relative position bias:
the (heads, 512, 512) table of bucketed biases computed here (relative_position_bucket in its float32
arithmetic) as a constant, sliced to (heads, S, S) and added to the scaled scores of every layer.
Checked against a torch export of the same model quantized the same way (Docs/benchmarks.md: same
speed within noise, same cosine to sentence-transformers).
Needs: pip install onnx onnxruntime numpy
"""
import json, os, sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors_np import read_safetensors


def mpnet_bias(table, length=512, buckets=32, max_distance=128):
    """(heads, length, length): MPNetEncoder.compute_position_bias for positions 0..length-1, with
    relative_position_bucket's float32 arithmetic (log(n/8) / log(16) * 8, truncated)."""
    rel = np.arange(length)[None, :] - np.arange(length)[:, None]  # key j - query i
    n = -rel
    half = buckets // 2
    exact = half // 2
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    with np.errstate(divide="ignore"):
        large = exact + (np.log(n.astype(np.float32) / np.float32(exact)) / np.float32(np.log(max_distance / exact))
                         * np.float32(half - exact)).astype(np.int64)
    ret += np.where(n < exact, n, np.minimum(large, half - 1))
    return table[ret].transpose(2, 0, 1).astype(np.float32).copy()


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, name, **attrs):
        self.count += 1
        out = f"{name}_out{self.count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{name}/{op_type}_{self.count}", **attrs))
        return out

    def linear(self, x, w, b, name):
        # torch stores (out, in); ONNX MatMul wants (in, out): the transpose torch.onnx.export folds too.
        y = self.op("MatMul", [x, self.const(name + ".weight", w.T.copy())], name)
        return self.op("Add", [y, self.const(name + ".bias", b)], name)

    def layer_norm(self, x, weights, prefix, eps):
        return self.op("LayerNormalization", [x, self.const(prefix + ".weight", weights[prefix + ".weight"]),
                                              self.const(prefix + ".bias", weights[prefix + ".bias"])],
                       prefix, axis=-1, epsilon=eps)


def build(model_dir):
    config = json.load(open(os.path.join(model_dir, "config.json")))
    mpnet = config.get("model_type") == "mpnet"
    if not mpnet and (config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute"):
        sys.exit(f"{model_dir}: not a BERT model with absolute positions nor MPNet (model_type={config.get('model_type')})")
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim, eps = hidden // heads, config.get("layer_norm_eps", 1e-12)
    g = Graph()

    # Embeddings: word + position (0..S) + token type, then LayerNorm.
    ids, mask, types = "input_ids", "attention_mask", "token_type_ids"
    shape_ids = g.op("Shape", [ids], "embeddings")
    seq = g.op("Gather", [shape_ids, g.const("one_index", np.array(1, np.int64))], "embeddings", axis=0)
    if mpnet:  # create_position_ids_from_input_ids: padding id 1, others count from 2
        pad = g.const("pad_id", np.array(1, np.int64))
        real = g.op("Cast", [g.op("Not", [g.op("Equal", [ids, pad], "embeddings")], "embeddings")], "embeddings", to=TensorProto.INT64)
        counted = g.op("CumSum", [real, g.const("axis1", np.array(1, np.int64))], "embeddings")
        positions = g.op("Add", [g.op("Mul", [counted, real], "embeddings"), pad], "embeddings")
    else:
        positions = g.op("Range", [g.const("zero_i64", np.array(0, np.int64)), seq, g.const("one_i64", np.array(1, np.int64))], "embeddings")
        positions = g.op("Unsqueeze", [positions, g.const("axes0", np.array([0], np.int64))], "embeddings")
    x = g.op("Gather", [g.const("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]), ids], "embeddings")
    if not mpnet:
        x = g.op("Add", [x, g.op("Gather", [g.const("embeddings.token_type_embeddings.weight", w["embeddings.token_type_embeddings.weight"]), types], "embeddings")], "embeddings")
    x = g.op("Add", [x, g.op("Gather", [g.const("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"]), positions], "embeddings")], "embeddings")
    x = g.layer_norm(x, w, "embeddings.LayerNorm", eps)

    # Additive mask (B, 1, 1, S): 0 where attended, float32 min where padded (transformers' form).
    m = g.op("Cast", [g.op("Unsqueeze", [mask, g.const("axes12", np.array([1, 2], np.int64))], "mask")], "mask", to=TensorProto.FLOAT)
    m = g.op("Mul", [g.op("Sub", [g.const("one_f32", np.array(1.0, np.float32)), m], "mask"),
                     g.const("f32_min", np.array(np.finfo(np.float32).min, np.float32))], "mask")

    heads_shape = g.const("heads_shape", np.array([0, 0, heads, head_dim], np.int64))
    merged_shape = g.const("merged_shape", np.array([0, 0, hidden], np.int64))
    scale = g.const("sqrt_head_dim", np.array(np.sqrt(head_dim), np.float32))
    bias = None
    if mpnet:  # (heads, S, S) of the (heads, 512, 512) constant
        ss = g.op("Concat", [g.op("Unsqueeze", [seq, g.const("axes0b", np.array([0], np.int64))], "bias")] * 2, "bias", axis=0)
        table = g.const("encoder.relative_position_bias", mpnet_bias(w["encoder.relative_attention_bias.weight"]))
        bias = g.op("Slice", [table, g.const("zeros2", np.array([0, 0], np.int64)), ss, g.const("axes_12", np.array([1, 2], np.int64))], "bias")
    names = (("attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o", "attention.LayerNorm") if mpnet else
             ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "attention.output.LayerNorm"))
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        def to_heads(t, perm):
            return g.op("Transpose", [g.op("Reshape", [t, heads_shape], p)], p, perm=perm)
        def lin(t, n):
            return g.linear(t, w[f"{p}.{n}.weight"], w[f"{p}.{n}.bias"], f"{p}.{n}")
        q = to_heads(lin(x, names[0]), [0, 2, 1, 3])
        k = to_heads(lin(x, names[1]), [0, 2, 3, 1])
        v = to_heads(lin(x, names[2]), [0, 2, 1, 3])
        scores = g.op("Div", [g.op("MatMul", [q, k], p), scale], p)
        if bias:
            scores = g.op("Add", [scores, bias], p)
        scores = g.op("Add", [scores, m], p)
        ctx = g.op("MatMul", [g.op("Softmax", [scores], p, axis=-1), v], p)
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], p, perm=[0, 2, 1, 3]), merged_shape], p)
        x = g.layer_norm(g.op("Add", [lin(ctx, names[3]), x], p), w, f"{p}.{names[4]}", eps)
        h = g.linear(x, w[f"{p}.intermediate.dense.weight"], w[f"{p}.intermediate.dense.bias"], f"{p}.intermediate.dense")
        erf = g.op("Erf", [g.op("Div", [h, g.const(f"{p}.sqrt2", np.array(np.sqrt(2.0), np.float32))], p)], p)
        h = g.op("Mul", [g.op("Mul", [h, g.op("Add", [erf, g.const(f"{p}.one", np.array(1.0, np.float32))], p)], p),
                         g.const(f"{p}.half", np.array(0.5, np.float32))], p)
        out = g.linear(h, w[f"{p}.output.dense.weight"], w[f"{p}.output.dense.bias"], f"{p}.output.dense")
        x = g.layer_norm(g.op("Add", [out, x], p), w, f"{p}.output.LayerNorm", eps)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))

    dims = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in ((ids, mask) if mpnet else (ids, mask, types))]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dims + [hidden])
    graph = helper.make_graph(g.nodes, "bert", inputs, [output], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="embcache-export")
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    fp32, int8 = os.path.join(out_dir, "model.onnx"), os.path.join(out_dir, "model.int8.onnx")
    onnx.save(build(model_dir), fp32)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(fp32, int8, per_channel=True, weight_type=QuantType.QInt8)
    print(f"wrote {fp32} and {int8}")


if __name__ == "__main__":
    main()
