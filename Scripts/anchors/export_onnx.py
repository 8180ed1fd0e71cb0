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
Checked against a torch export of the same model quantized the same way (Docs/benchmarks.md: same
speed within noise, same cosine to sentence-transformers).
Needs: pip install onnx onnxruntime numpy
"""
import json, os, struct, sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtypes[meta["dtype"]]).reshape(meta["shape"]).astype(np.float32)
    # Some exports prefix every tensor with "bert."; the graph below names them without it.
    return {k[5:] if k.startswith("bert.") else k: v for k, v in out.items()}


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
    if config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
        sys.exit(f"{model_dir}: not a BERT model with absolute positions (model_type={config.get('model_type')})")
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim, eps = hidden // heads, config.get("layer_norm_eps", 1e-12)
    g = Graph()

    # Embeddings: word + position (0..S) + token type, then LayerNorm.
    ids, mask, types = "input_ids", "attention_mask", "token_type_ids"
    shape_ids = g.op("Shape", [ids], "embeddings")
    seq = g.op("Gather", [shape_ids, g.const("one_index", np.array(1, np.int64))], "embeddings", axis=0)
    positions = g.op("Range", [g.const("zero_i64", np.array(0, np.int64)), seq, g.const("one_i64", np.array(1, np.int64))], "embeddings")
    positions = g.op("Unsqueeze", [positions, g.const("axes0", np.array([0], np.int64))], "embeddings")
    x = g.op("Gather", [g.const("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]), ids], "embeddings")
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
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        def to_heads(t, perm):
            return g.op("Transpose", [g.op("Reshape", [t, heads_shape], p)], p, perm=perm)
        q = to_heads(g.linear(x, w[f"{p}.attention.self.query.weight"], w[f"{p}.attention.self.query.bias"], f"{p}.attention.self.query"), [0, 2, 1, 3])
        k = to_heads(g.linear(x, w[f"{p}.attention.self.key.weight"], w[f"{p}.attention.self.key.bias"], f"{p}.attention.self.key"), [0, 2, 3, 1])
        v = to_heads(g.linear(x, w[f"{p}.attention.self.value.weight"], w[f"{p}.attention.self.value.bias"], f"{p}.attention.self.value"), [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Div", [g.op("MatMul", [q, k], p), scale], p), m], p)
        ctx = g.op("MatMul", [g.op("Softmax", [scores], p, axis=-1), v], p)
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], p, perm=[0, 2, 1, 3]), merged_shape], p)
        attn = g.linear(ctx, w[f"{p}.attention.output.dense.weight"], w[f"{p}.attention.output.dense.bias"], f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", [attn, x], p), w, f"{p}.attention.output.LayerNorm", eps)
        h = g.linear(x, w[f"{p}.intermediate.dense.weight"], w[f"{p}.intermediate.dense.bias"], f"{p}.intermediate.dense")
        erf = g.op("Erf", [g.op("Div", [h, g.const(f"{p}.sqrt2", np.array(np.sqrt(2.0), np.float32))], p)], p)
        h = g.op("Mul", [g.op("Mul", [h, g.op("Add", [erf, g.const(f"{p}.one", np.array(1.0, np.float32))], p)], p),
                         g.const(f"{p}.half", np.array(0.5, np.float32))], p)
        out = g.linear(h, w[f"{p}.output.dense.weight"], w[f"{p}.output.dense.bias"], f"{p}.output.dense")
        x = g.layer_norm(g.op("Add", [out, x], p), w, f"{p}.output.LayerNorm", eps)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))

    dims = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in (ids, mask, types)]
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
