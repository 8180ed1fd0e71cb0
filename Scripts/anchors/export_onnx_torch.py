#!/usr/bin/env python3
"""The cross-check of export_onnx.py: the same model exported the usual way, torch.onnx.export of
transformers' BertModel (eager attention, opset 17), then the same quantize_dynamic (QInt8,
per-channel). Needs torch and transformers (~3 GB with PyPI's CUDA wheels), so it runs in a venv of
its own, never from Scripts/test or Scripts/bench-encoder:

  python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install transformers torch onnx onnxruntime
  HF_HUB_OFFLINE=1 /tmp/torch-venv/bin/python Scripts/anchors/export_onnx_torch.py models/all-MiniLM-L6-v2 /tmp/torch-anchor
  python3 Scripts/anchors/compare_anchors.py /tmp/torch-anchor/model.int8.onnx models/ort-anchor/model.int8.onnx
"""
import sys

import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import BertModel


class LastHiddenState(torch.nn.Module):
    """BertModel's forward takes many keyword arguments; export exactly the three the anchor feeds."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_dir, out = sys.argv[1], sys.argv[2]
    import os
    os.makedirs(out, exist_ok=True)
    model = BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    ids = torch.ones(2, 16, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(LastHiddenState(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)), f"{out}/model.onnx",
                      input_names=names, output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names + ["last_hidden_state"]})
    quantize_dynamic(f"{out}/model.onnx", f"{out}/model.int8.onnx", per_channel=True, weight_type=QuantType.QInt8)
    print(f"wrote {out}/model.onnx and {out}/model.int8.onnx")


if __name__ == "__main__":
    main()
