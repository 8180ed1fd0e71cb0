# A model.safetensors file as numpy float32 arrays, for the anchor and study scripts beside it
# (export_onnx.py, scheme_study.py): the format is a JSON header and raw little-endian tensors, so
# no package beyond numpy is needed.
import json, struct

import numpy as np


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
    # Some exports prefix every tensor with "bert." or "mpnet."; the callers name them without it.
    return {k.split(".", 1)[1] if k.startswith(("bert.", "mpnet.")) else k: v for k, v in out.items()}
