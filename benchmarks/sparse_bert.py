"""BertModel checkpoints of any size without their bytes: a model.safetensors whose header is
BertModel's state dict in F32 with contiguous offsets, then a hole up to the promised size (a
sparse file: nothing written or allocated). run.py checks such files of 200 GiB and 1 TiB here;
remote.py serves a 100 GB one, whole and in 30 shards, from a fake Hub."""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any


def bert_config(sizes: dict[str, int]) -> dict[str, Any]:
    return {"model_type": "bert", "architectures": ["BertModel"], **sizes}


def bert_tensors(config: dict[str, Any]) -> list[tuple[str, list[int]]]:
    """BertModel's state dict for this config: names in its order, and shapes."""
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    tensors = [
        ("embeddings.word_embeddings.weight", [config["vocab_size"], hidden]),
        ("embeddings.position_embeddings.weight", [config["max_position_embeddings"], hidden]),
        ("embeddings.token_type_embeddings.weight", [config["type_vocab_size"], hidden]),
        ("embeddings.LayerNorm.weight", [hidden]),
        ("embeddings.LayerNorm.bias", [hidden]),
    ]
    layer = [*((f"attention.self.{m}", [hidden, hidden]) for m in ("query", "key", "value")),
             ("attention.output.dense", [hidden, hidden]), ("attention.output.LayerNorm", None),
             ("intermediate.dense", [inner, hidden]), ("output.dense", [hidden, inner]),
             ("output.LayerNorm", None)]
    for i in range(config["num_hidden_layers"]):
        for module, weight in layer:
            prefix = f"encoder.layer.{i}.{module}"
            tensors.append((f"{prefix}.weight", weight or [hidden]))
            tensors.append((f"{prefix}.bias", [weight[0] if weight else hidden]))
    tensors += [("pooler.dense.weight", [hidden, hidden]), ("pooler.dense.bias", [hidden])]
    return tensors


def bert_bytes(config: dict[str, Any]) -> int:
    return sum(math.prod(shape) for _, shape in bert_tensors(config)) * 4  # F32


def bert_of_size(target: int, sizes: dict[str, int]) -> dict[str, Any]:
    """A BERT of these sizes with the number of layers that brings its weights nearest to
    `target` bytes."""
    base = bert_bytes(bert_config({**sizes, "num_hidden_layers": 0}))
    per_layer = bert_bytes(bert_config({**sizes, "num_hidden_layers": 1})) - base
    layers = max(1, round((target - base) / per_layer))
    return bert_config({**sizes, "num_hidden_layers": layers})


def write_sparse_safetensors(path: Path, tensors: list[tuple[str, list[int]]]) -> int:
    """A header with contiguous F32 offsets, then a hole up to the promised size; its size."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in tensors:
        nbytes = math.prod(shape) * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
    total = 8 + len(raw) + offset
    os.truncate(path, total)
    return total
