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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whyload.knowledge.families import ClassSpec
    from whyload.readers.jsonfile import JsonDoc

TIMEOUT_S = 120
FAILED = 3  # the child's exit status when transformers raised: the exception is on stdout


@dataclass(frozen=True)
class BuildFailure:
    """What transformers raised while building the model: in reading the config ("config") or
    in constructing the class on the meta device ("build")."""

    phase: str
    type: str  # the exception's class name
    bases: tuple[str, ...]  # the names of its classes, most derived first (ValueError, …)
    message: str

    @property
    def text(self) -> str:
        return f"{self.type}: {self.message}"


def expected_by_transformers(root: Path, config: JsonDoc | None, class_name: str | None,
                             python: str = sys.executable
                             ) -> tuple[ClassSpec | None, str | None, BuildFailure | None]:
    """What `class_name` expects, built by the transformers of `python` on the meta device;
    else why not, and what transformers raised when it was transformers that refused."""
    from whyload.knowledge.families import ClassSpec
    from whyload.probe.launch import launch_command

    if config is None or not config.ok or not isinstance(config.value, dict):
        return None, "no readable config.json to build the model from", None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
           "TOKENIZERS_PARALLELISM": "false"}
    try:
        done = subprocess.run(
            launch_command(python, "whyload.probe.meta", str(root), class_name or ""),
            capture_output=True, text=True, timeout=TIMEOUT_S, env=env, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"building the model on the meta device took over {TIMEOUT_S} s", None
    except OSError as exc:
        return None, f"could not start the probe: {exc}", None
    failure = _failure(done.stdout) if done.returncode == FAILED else None
    if failure is not None:
        return None, f"transformers could not build the model: {failure.text[:300]}", failure
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"transformers could not build the model: {last[:300]}", None
    try:
        return ClassSpec.from_dict(json.loads(done.stdout)), None, None
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"unreadable probe output: {exc}", None


def _failure(stdout: str) -> BuildFailure | None:
    try:
        raw = json.loads(stdout)["failed"]
        return BuildFailure(str(raw["phase"]), str(raw["type"]),
                            tuple(str(b) for b in raw["bases"]), str(raw["message"])[:2000])
    except (ValueError, KeyError, TypeError):
        return None


def _describe(root: str, class_name: str) -> dict[str, object]:
    import torch
    import transformers
    from transformers import AutoConfig

    phase = "config"
    try:
        config = AutoConfig.from_pretrained(root, trust_remote_code=False)
        phase = "build"
        name = class_name or "AutoModel"  # the snapshot's choice (whyload.modelview.choose_class)
        cls = getattr(transformers, name)
        with torch.device("meta"):
            model = cls.from_config(config) if name.startswith("AutoModel") else cls(config)
    except Exception as exc:  # what transformers raised is the answer: the parent classifies it
        raise Refused(phase, exc) from exc
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


class Refused(Exception):
    """transformers raised while reading the config or building the model."""

    def __init__(self, phase: str, error: Exception) -> None:
        super().__init__(phase)
        self.phase, self.error = phase, error

    def to_dict(self) -> dict[str, object]:
        kinds = [c.__name__ for c in type(self.error).__mro__ if c not in (object, BaseException)]
        message = self.error.args[0] if isinstance(self.error, KeyError) and \
            len(self.error.args) == 1 and isinstance(self.error.args[0], str) else str(self.error)
        return {"failed": {"phase": self.phase, "type": type(self.error).__name__,
                           "bases": kinds, "message": message}}


if __name__ == "__main__":
    try:
        print(json.dumps(_describe(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")))
    except Refused as refused:
        print(json.dumps(refused.to_dict()))
        sys.exit(FAILED)
