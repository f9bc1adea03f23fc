"""`check --deep`: ask transformers itself what a model class expects, for model types the
BERT-family spec does not cover. The model is built on the meta device (no memory, no weights)
in a child process, so a broken torch install cannot take whyload down and whyload's own process
never imports torch. No remote code is run: trust_remote_code stays False.

    python -m whyload.probe.meta MODEL_DIR [CLASS]   ->  ClassSpec as JSON on stdout

It runs in the interpreter that will load the model (probe/launch.py), so it imports nothing of
whyload: the stdlib, torch and transformers only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whyload.knowledge.families import ClassSpec
    from whyload.readers.jsonfile import JsonDoc

TIMEOUT_S = 120


def expected_by_transformers(root: Path, config: JsonDoc | None, class_name: str | None,
                             python: str = sys.executable
                             ) -> tuple[ClassSpec | None, str | None]:
    """What `class_name` expects, built by the transformers of `python` on the meta device."""
    from whyload.knowledge.families import ClassSpec
    from whyload.probe.launch import launch_command

    if config is None or not config.ok or not isinstance(config.value, dict):
        return None, "no readable config.json to build the model from"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
           "TOKENIZERS_PARALLELISM": "false"}
    try:
        done = subprocess.run(
            launch_command(python, "whyload.probe.meta", str(root), class_name or ""),
            capture_output=True, text=True, timeout=TIMEOUT_S, env=env, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"building the model on the meta device took over {TIMEOUT_S} s"
    except OSError as exc:
        return None, f"could not start the probe: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"transformers could not build the model: {last[:300]}"
    try:
        return ClassSpec.from_dict(json.loads(done.stdout)), None
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"unreadable probe output: {exc}"


def _describe(root: str, class_name: str) -> dict[str, object]:
    import torch
    import transformers
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(root, trust_remote_code=False)
    name = class_name or "AutoModel"  # the snapshot's choice (whyload.modelview.choose_class)
    cls = getattr(transformers, name)
    with torch.device("meta"):
        model = cls.from_config(config) if name.startswith("AutoModel") else cls(config)
    try:  # transformers 5 converts some models' checkpoint keys on load (MoE experts, ViT…)
        from transformers.conversion_mapping import get_model_conversion_mapping

        renames = bool(get_model_conversion_mapping(model, add_legacy=False))
    except (ImportError, TypeError):
        renames = False
    return {  # ClassSpec.to_dict()'s form
        "name": type(model).__name__,
        "base_model_prefix": model.base_model_prefix,
        "expected": {k: list(v.shape) for k, v in model.state_dict().items()},
        "tied": dict(getattr(model, "all_tied_weights_keys", None) or {}),
        "ignore_missing": sorted(model._keys_to_ignore_on_load_missing or []),
        "ignore_unexpected": sorted(model._keys_to_ignore_on_load_unexpected or []),
        "buffers": [n for n, _ in model.named_buffers()],
        "renames_on_load": renames,
    }


if __name__ == "__main__":
    print(json.dumps(_describe(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")))
