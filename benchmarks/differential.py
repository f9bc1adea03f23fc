"""Differential runs: whyload's verdict against what transformers really does.

Each scenario is an architecture (a tiny config of a model type transformers ships), the class it
is saved with, the class a user loads it with, and a breakage from ../shared/FAILURES.md (or
none). The scenario is saved with real transformers, broken the way the world breaks it, loaded
in a child process with from_pretrained(output_loading_info=True), and the outcome is reduced to
a verdict:

- raised                                               -> fails
- missing or mismatched keys, unused keys of the base
  model, or a loaded tensor that differs from the file  -> loads_broken
- anything else (a head of another class left unused)   -> loads

whyload's `check` is run on the same folder (never loading it) and must give that verdict, with
one of the breakage's codes as the cause. `--finetune` scenarios load a base checkpoint into a
head class on purpose: the random head is then expected, and the verdict `loads`.

    python benchmarks/differential.py            # the full sweep (the ~110 most used
                                                 # architectures); writes docs/differential.md
    python benchmarks/differential.py --sample   # the fixed sample make test runs

tests/test_differential.py runs the fixed sample and turns each disagreement into a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "differential.md"
LAYER_FIELDS = ("num_hidden_layers", "n_layer", "n_layers", "num_layers", "encoder_layers",
                "decoder_layers", "num_decoder_layers")

# --- architectures ------------------------------------------------------------------------------


def tiny_config(model_type: str) -> Any:
    """The config class's defaults with 2 layers and every large size divided by 16: small enough
    to build for real in milliseconds, and with the defaults' proportions (so heads still divide
    the hidden size)."""
    from transformers import CONFIG_MAPPING

    cls = CONFIG_MAPPING[model_type]
    d = cls().to_dict()
    _shrink(d)
    d.pop("transformers_version", None)
    return cls.from_dict(d)


def _shrink(d: dict[str, Any]) -> None:
    for k, v in list(d.items()):
        if isinstance(v, dict) and k.endswith("_config"):
            _shrink(v)
        elif isinstance(v, bool) or not isinstance(v, int):
            continue
        elif k in LAYER_FIELDS or (k.endswith("_layers") and v > 2):
            d[k] = 2
        elif v >= 256 and v % 16 == 0 and not k.endswith(("_id", "_ids")):
            d[k] = v // 16
        elif k == "vocab_size" and v > 1000:
            d[k] = 1000
        if k == "layer_types":
            d[k] = None
    if isinstance(d.get("layer_types"), list):
        d["layer_types"] = None


# --- breakages ---------------------------------------------------------------------------------

Files = dict[str, Any]  # tensor name -> tensor (the checkpoint being broken)


@dataclass(frozen=True)
class Breakage:
    name: str
    causes: frozenset[str]  # the codes that name it (empty: healthy, no error or warning)
    apply: Callable[[Path, dict[str, Any], Files], bool]  # False: does not apply to this model
    head_only: bool = False  # needs a head class


def _layer_field(config: dict[str, Any]) -> str | None:
    return next((f for f in LAYER_FIELDS if isinstance(config.get(f), int)), None)


def _none(_: Path, __: dict[str, Any], ___: Files) -> bool:
    return True


def _more_layers(_: Path, config: dict[str, Any], __: Files) -> bool:
    f = _layer_field(config)
    if f is None:
        return False
    config[f] += 1
    return True


def _fewer_layers(_: Path, config: dict[str, Any], __: Files) -> bool:
    f = _layer_field(config)
    if f is None or config[f] < 2:
        return False
    config[f] -= 1
    return True


def _vocab(_: Path, config: dict[str, Any], __: Files) -> bool:
    if not isinstance(config.get("vocab_size"), int):
        return False
    config["vocab_size"] += 8
    return True


def _bump(*fields: str, by: int = 8) -> Callable[[Path, dict[str, Any], Files], bool]:
    """A size edited in config.json (the first of `fields` it has)."""
    def apply(_: Path, config: dict[str, Any], __: Files) -> bool:
        f = next((f for f in fields if isinstance(config.get(f), int)
                  and not isinstance(config.get(f), bool)), None)
        if f is None:
            return False
        config[f] += by
        return True
    return apply


def _kv_heads(_: Path, config: dict[str, Any], __: Files) -> bool:
    heads, kv = config.get("num_attention_heads"), config.get("num_key_value_heads")
    if not isinstance(heads, int) or not isinstance(kv, int) or kv < 2 or heads % (kv // 2):
        return False
    config["num_key_value_heads"] = kv // 2
    return True


def _untie(_: Path, config: dict[str, Any], tensors: Files) -> bool:
    """tie_word_embeddings switched off on a checkpoint saved tied: the output embeddings were
    never written, and now have to be."""
    if config.get("tie_word_embeddings") is not True or any(
            k.startswith("lm_head.") for k in tensors):
        return False
    config["tie_word_embeddings"] = False
    return True


def _drop_weight(_: Path, __: dict[str, Any], tensors: Files) -> bool:
    """One attention or MLP weight of the middle of the model, gone."""
    keys = sorted(k for k in tensors if k.endswith(".weight") and ".0." in k
                  and tensors[k].dim() == 2)
    if not keys:
        return False
    del tensors[keys[len(keys) // 2]]
    return True


def _wrapper(_: Path, __: dict[str, Any], tensors: Files) -> bool:
    for k in list(tensors):
        tensors["module." + k] = tensors.pop(k)
    return True


def _labels(_: Path, config: dict[str, Any], __: Files) -> bool:
    if "id2label" not in config:
        return False
    config["id2label"] = {str(i): f"L{i}" for i in range(5)}
    config["label2id"] = {f"L{i}": i for i in range(5)}
    config.pop("num_labels", None)
    return True


BREAKAGES = (
    Breakage("healthy", frozenset(), _none),
    # a model with layer_types: transformers 5 refuses the config itself (WL314)
    # ... or a list with an entry per layer (WL315: Longformer's attention_window)
    Breakage("config-more-layers", frozenset({"WL312", "WL402", "WL314", "WL315"}),
              _more_layers),
    Breakage("config-fewer-layers", frozenset({"WL311", "WL403", "WL314", "WL315"}),
              _fewer_layers),
    Breakage("config-vocab", frozenset({"WL404", "WL310", "WL313"}), _vocab),
    Breakage("config-intermediate", frozenset({"WL404", "WL310"}),
              _bump("intermediate_size", "d_ff", "ffn_dim", "encoder_ffn_dim", "n_inner")),
    Breakage("config-kv-heads", frozenset({"WL404", "WL310"}), _kv_heads),
    Breakage("config-positions", frozenset({"WL404", "WL310"}),
              _bump("max_position_embeddings", "n_positions")),
    Breakage("config-untied", frozenset({"WL401", "WL402"}), _untie),
    # a missing expert of a stacked MoE layer makes the stack the wrong shape (WL404); a weight
    # of the head is the head missing (WL401)
    Breakage("weight-missing", frozenset({"WL401", "WL402", "WL142", "WL404"}), _drop_weight),
    Breakage("wrapper-prefix", frozenset({"WL410"}), _wrapper),
    Breakage("labels-changed", frozenset({"WL404", "WL321"}), _labels, head_only=True),
)


# --- scenarios ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    model_type: str
    save_class: str  # what save_pretrained was called on
    load_class: str  # what the user loads it with (an Auto class)
    breakage: str
    finetune: bool = False  # the user means to train the head

    @property
    def name(self) -> str:
        tail = "-finetune" if self.finetune else ""
        return f"{self.model_type}/{self.save_class}->{self.load_class}/{self.breakage}{tail}"


def model_types() -> list[str]:
    """The full sweep: the most used architectures (the order the spec generator works in),
    those the shipped specs have."""
    from whyload.knowledge import specs

    sys.path.insert(0, str(ROOT / "scripts"))
    from gen_arch_specs import POPULAR

    version = specs.version_for(None)
    known = specs.index(version)["types"] if version else {}
    return [t for t in POPULAR if t in known]


def scenarios(types: list[str], heads_per_type: int = 3) -> Iterator[Scenario]:
    """Every breakage, for each type's base model and a few of its head classes; plus a base
    checkpoint loaded into a head class, with and without --finetune."""
    from whyload.knowledge.model_classes import generated

    data = generated()
    for mt in types:
        loadable = []
        for auto, mapping in data.auto_mappings.items():
            names = mapping.get(mt)
            if names and auto != "AutoModelForPreTraining":
                loadable.append((auto, names[0]))
        loadable.sort(key=lambda a: (a[0] != "AutoModel", a[0]))
        if not loadable:
            continue
        for auto, cls in loadable[:heads_per_type]:
            for b in BREAKAGES:
                if b.head_only and auto == "AutoModel":
                    continue
                yield Scenario(mt, cls, auto, b.name)
        base = next((c for a, c in loadable if a == "AutoModel"), None)
        head = next(((a, c) for a, c in loadable if a != "AutoModel"), None)
        if base and head:
            yield Scenario(mt, base, head[0], "head-random")
            yield Scenario(mt, base, head[0], "head-random", finetune=True)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers' warnings and progress bars off while saving, as they were after (the
    harness also runs inside the test session, whose other tests read those warnings)."""
    import transformers

    verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()


def build(s: Scenario, out: Path) -> bool:
    """Save the scenario's checkpoint with real transformers and break it. False when this
    architecture cannot be built or the breakage does not apply."""
    import torch
    import transformers
    from safetensors.torch import load_file, save_file

    try:
        config = tiny_config(s.model_type)
        torch.manual_seed(0)
        model = getattr(transformers, s.save_class)(config)
        model.save_pretrained(out)
    except Exception:
        return False
    breakage = next((b for b in BREAKAGES if b.name == s.breakage), None)
    if breakage is None:
        return True  # head-random: the base checkpoint as saved
    weights = out / "model.safetensors"
    if not weights.exists():
        return False
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    tensors = load_file(weights)
    before = (copy.deepcopy(cfg), set(tensors))
    if not breakage.apply(out, cfg, tensors):
        return False
    if (cfg, set(tensors)) != before:
        cfg_path.write_text(json.dumps(cfg, indent=2))
        save_file(tensors, weights, metadata={"format": "pt"})
    return True


# --- the real load (child process) -------------------------------------------------------------

def _observe_one(path: str, auto: str) -> dict[str, Any]:
    import torch
    import transformers
    from safetensors.torch import load_file

    try:
        model, info = getattr(transformers, auto).from_pretrained(path,
                                                                  output_loading_info=True)
    except Exception as exc:
        return {"raised": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    state = model.state_dict()
    differs = []
    for key, tensor in load_file(os.path.join(path, "model.safetensors")).items():
        mine = state.get(key)
        if mine is None:
            for prefix in (model.base_model_prefix + ".",):
                mine = state.get(key.removeprefix(prefix)) if key.startswith(prefix) else \
                    state.get(prefix + key)
        if mine is not None and mine.shape == tensor.shape and mine.dtype == tensor.dtype and \
                not torch.equal(mine, tensor):
            differs.append(key)
    # the head, as transformers builds it: the keys the type's base model (what AutoModel builds
    # from the same config) does not have
    prefix = model.base_model_prefix
    try:
        with torch.device("meta"):
            body = set(transformers.AutoModel.from_config(model.config).state_dict())
    except Exception:
        body = set(state)
    head = [k for k in info.get("missing_keys", [])
            if k not in body and (not prefix or k.removeprefix(prefix + ".") not in body)]
    return {"missing": sorted(info.get("missing_keys", [])), "missing_head": sorted(head),
            "unexpected": sorted(info.get("unexpected_keys", [])),
            "mismatched": [list(map(str, m))[:1] for m in info.get("mismatched_keys", [])],
            "differs": sorted(differs)[:20], "class": type(model).__name__,
            "base_model_prefix": model.base_model_prefix}


def observe(jobs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Load each (folder, Auto class) in one child process: what really happened."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
           "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, __file__, "--observe"], input=json.dumps(jobs),
                          capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def real_verdict(o: dict[str, Any]) -> str:
    if "raised" in o:
        return "fails"
    if o["missing"] or o["mismatched"] or o["differs"]:
        return "loads_broken"
    prefix = o["base_model_prefix"]
    # a base-model weight with no place in the model (a layer the config no longer has) is a
    # silently different model; another head's weights are dropped by design
    for k in o["unexpected"]:
        if not _is_head(k.removeprefix(prefix + ".") if prefix else k):
            return "loads_broken"
    return "loads"


HEAD_MARKERS = ("lm_head", "classifier", "score", "qa_outputs", "cls.", "pooler", "head",
                "proj_out", "generator", "discriminator")


def _is_head(key: str) -> bool:
    """A task head's weight, by the names transformers gives heads (the harness's own judgement,
    independent of whyload's)."""
    return any(key.startswith(m) or f".{m}" in key for m in HEAD_MARKERS)


# --- whyload's side ------------------------------------------------------------------------------

@dataclass
class Outcome:
    scenario: Scenario
    real: str
    observed: dict[str, Any]
    whyload: str
    codes: list[str]
    seconds: float
    right_verdict: bool = False
    right_cause: bool = False
    false_alarm: bool = False
    notes: list[str] = field(default_factory=list)


def causes(s: Scenario) -> frozenset[str]:
    if s.breakage == "head-random":  # with --finetune, only what is not the head is a cause
        return frozenset({"WL402", "WL403", "WL404"}) if s.finetune else frozenset({"WL401"})
    return next(b.causes for b in BREAKAGES if b.name == s.breakage)


def judge(s: Scenario, path: Path, observed: dict[str, Any]) -> Outcome:
    import whyload
    from whyload.report import Severity

    real = real_verdict(observed)
    if s.finetune and real == "loads_broken" and not observed.get("mismatched") and \
            not observed.get("differs") and \
            set(observed["missing"]) <= set(observed.get("missing_head", ())) and \
            all(_is_head(k) for k in observed["unexpected"]):
        real = "loads"  # a head trained from scratch is the point of a fine-tune
    start = time.perf_counter()
    report = whyload.check(str(path), model_class=s.load_class, finetune=s.finetune)
    seconds = time.perf_counter() - start
    verdict = report.verdict.value
    codes = [f.code for f in report.findings if f.severity >= Severity.WARNING]
    out = Outcome(s, real, observed, verdict, codes, seconds)
    out.right_verdict = verdict == real
    wanted = causes(s)
    errors = [f.code for f in report.findings if f.severity >= Severity.ERROR]
    # a breakage that changes nothing real (a tied head "missing") needs no cause, only no alarm
    out.right_cause = not errors if real == "loads" else bool(wanted & set(codes))
    if s.breakage == "healthy" and real == "loads":
        out.false_alarm = verdict != "loads" or any(
            f.severity >= Severity.ERROR for f in report.findings)
    return out


def run(sample: bool, limit_types: list[str] | None = None, seed: int = 0) -> list[Outcome]:
    types = limit_types or model_types()
    every = list(scenarios(types))
    if sample:
        random.Random(seed).shuffle(every)
        every = sorted(every[:SAMPLE_SIZE], key=lambda s: s.name)
    return run_scenarios(every)


def run_scenarios(every: list[Scenario]) -> list[Outcome]:
    """Save, break, really load and judge each scenario."""
    outcomes: list[Outcome] = []
    # in chunks, each deleted once judged: the disk holds one chunk of checkpoints at a time
    for start in range(0, len(every), CHUNK):
        work = Path(tempfile.mkdtemp(prefix="whyload-differential-"))
        try:
            built: list[tuple[Scenario, Path]] = []
            with _quiet_transformers():
                for n, s in enumerate(every[start:start + CHUNK]):
                    path = work / f"{n:05d}"
                    if build(s, path) and _size(path) <= MAX_BYTES:
                        built.append((s, path))
                    else:
                        shutil.rmtree(path, ignore_errors=True)
            observed = observe([(str(p), s.load_class) for s, p in built])
            outcomes += [judge(s, p, o) for (s, p), o in zip(built, observed, strict=True)]
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return outcomes


CHUNK = 100
MAX_BYTES = 64 << 20  # a "tiny" config that is still large (huge defaults) is left out


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


SAMPLE_SIZE = 300
SAMPLE_TYPES = ("bert", "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "gpt2",
                "gpt_neox", "opt", "bloom", "falcon", "t5", "bart", "whisper", "vit", "clip",
                "modernbert", "roberta", "distilbert", "mixtral", "qwen2_moe", "deberta-v2",
                "electra", "albert", "xlm-roberta", "starcoder2", "olmo2", "mpnet")


def table(outcomes: list[Outcome]) -> str:
    def row(name: str, group: list[Outcome]) -> str:
        n = len(group)
        right = sum(o.right_verdict and o.right_cause for o in group)
        alarms = sum(o.false_alarm for o in group)
        return f"| {name} | {n} | {right} | {100 * right / n:.1f}% | {alarms} |"

    lines = ["| | runs | right verdict and cause | share | false alarms |", "|---|---|---|---|---|"]
    lines.append(row("**all**", outcomes))
    by_breakage: dict[str, list[Outcome]] = {}
    by_type: dict[str, list[Outcome]] = {}
    for o in outcomes:
        key = o.scenario.breakage + ("-finetune" if o.scenario.finetune else "")
        by_breakage.setdefault(key, []).append(o)
        by_type.setdefault(o.scenario.model_type, []).append(o)
    out = ["## By breakage", "", *lines, *(row(k, v) for k, v in sorted(by_breakage.items())),
           "", "## By architecture", "", *lines[:2],
           *(row(k, v) for k, v in sorted(by_type.items()))]
    wrong = [o for o in outcomes if not (o.right_verdict and o.right_cause)]
    out += ["", f"## Disagreements ({len(wrong)})", ""]
    out += [f"- `{o.scenario.name}`: transformers **{o.real}** "
            f"({_summary(o.observed)}); whyload **{o.whyload}** {o.codes}" for o in wrong[:200]]
    return "\n".join(out) + "\n"


def _summary(o: dict[str, Any]) -> str:
    if "raised" in o:
        return o["raised"][:120]
    parts = [f"{k} {len(o[k])}" for k in ("missing", "unexpected", "mismatched", "differs")
             if o.get(k)]
    return ", ".join(parts) or "clean"


def main() -> int:
    parser = argparse.ArgumentParser(description="whyload check vs real loads")
    parser.add_argument("--sample", action="store_true", help="the fixed sample make test runs")
    parser.add_argument("--types", help="comma-separated model types")
    parser.add_argument("--observe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.observe:
        import transformers

        transformers.logging.set_verbosity_error()
        for path, auto in json.loads(sys.stdin.read()):
            print(json.dumps(_observe_one(path, auto)), flush=True)
        return 0
    types = args.types.split(",") if args.types else (list(SAMPLE_TYPES) if args.sample
                                                      else None)
    start = time.perf_counter()
    outcomes = run(args.sample, types)
    wall = time.perf_counter() - start
    right = sum(o.right_verdict and o.right_cause for o in outcomes)
    alarms = sum(o.false_alarm for o in outcomes)
    slowest = max((o.seconds for o in outcomes), default=0.0)
    mean = sum(o.seconds for o in outcomes) / max(len(outcomes), 1)
    import transformers

    head = (f"# Differential runs: whyload check vs transformers {transformers.__version__}\n\n"
            f"`python benchmarks/differential.py{' --sample' if args.sample else ''}`: "
            f"{len(outcomes)} scenarios over {len({o.scenario.model_type for o in outcomes})} "
            f"architectures, {wall:.0f} s. Right verdict and cause: **{right} "
            f"({100 * right / max(len(outcomes), 1):.1f}%)**; false alarms on healthy models: "
            f"**{alarms}**. check took {mean * 1000:.0f} ms per model on average, "
            f"{slowest * 1000:.0f} ms at most (in-process, torch already imported by the "
            "harness).\n\n")
    text = head + table(outcomes)
    if not args.sample and not args.types:
        DOC.write_text(text)
    print(text)
    share = right / max(len(outcomes), 1)
    return 0 if share >= 0.98 and alarms == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
