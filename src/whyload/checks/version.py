"""WL2xx — versions: what the installed libraries accept that this checkpoint needs."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from whyload.checks.registration import Problem, check
from whyload.checks.security import dangerous_globals
from whyload.knowledge import fix_commands
from whyload.knowledge.torch_pickle import (
    canonical,
    describe,
    rejected_globals,
    rejected_opcodes,
)
from whyload.report import Category, Effect, Severity
from whyload.snapshot import Snapshot

VERSION = Category.VERSION



def install(snap: Snapshot, *requirements: str) -> str:
    """The install command for the interpreter that will load the model."""
    if snap.env is not None:
        return snap.env.pip_install(*requirements)
    return "pip install " + " ".join(shlex.quote(r) for r in requirements)

@check("WL210", "weights-only-rejects", VERSION, requires=["WL134"])
def weights_only(snap: Snapshot) -> Iterator[Problem]:
    """A .bin pickle that torch.load refuses with weights_only=True

    Since torch 2.6 weights_only=True is the default, and transformers always uses it: "Weights
    only load failed … Unsupported global: GLOBAL numpy.core.multiarray.scalar was not an
    allowed global by default". A file whose globals run code (os.system, eval) is WL600's.
    """
    for f in snap.weights():
        t = f.torch
        if t is None or (t.pickled_object is not None and t.tensors):
            continue  # WL134: a whole pickled module
        if dangerous_globals(t):
            continue  # WL600: it would run code, which says more than "torch refuses it"
        globals_ = [canonical(g) for g in rejected_globals(list(t.globals))]
        opcodes = rejected_opcodes(list(t.opcodes))
        if not globals_ and not opcodes:
            continue
        needed = snap.in_plan(f.name) or snap.plan.format is None
        what = {g: describe(g) for g in globals_[:10]}
        yield Problem(
            severity=Severity.ERROR if needed else Severity.WARNING,
            effect=Effect.RAISES if needed else Effect.NONE, file=f.name,
            title=f"{f.name} needs weights_only=False: "
            + (f"it pickles {', '.join(globals_[:3])}" if globals_ else
               f"its pickle uses opcodes {', '.join(opcodes[:3])}"),
            detail="With weights_only=True (torch's default since 2.6; transformers always sets "
            "it) torch.load accepts tensors and a few containers only. "
            + ("; ".join(f"{g}: {w}" for g, w in what.items()) if what else
               f"Opcodes {', '.join(opcodes)} come from pickle protocol >= 4 "
               "(pickle.dump instead of torch.save)") + ".",
            evidence={"file": f.name, "rejected_globals": globals_[:50],
                      "rejected_opcodes": opcodes},
            fix=("if you trust the file: torch.serialization.add_safe_globals([...]) for "
                 f"{', '.join(globals_[:3])}, or re-save only the tensors: "
                 if globals_ else "if you trust the file, re-save only the tensors: ")
            + fix_commands.keep_only_tensors(snap.artifact.root, f.name),
        )


def _v(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


# model types and the transformers release that added them (for the message; the registry of
# the installed transformers decides whether it is known)
ADDED_IN = {"modernbert": "4.48.0", "neobert": "4.56.0", "ettin": "4.56.0", "jina_bert": None,
            "nomic_bert": None, "qwen3": "4.51.0", "gemma3": "4.50.0", "llama4": "4.51.0",
            "deepseek_v3": "4.51.0", "mistral3": "4.50.0", "qwen2": "4.37.0", "phi3": "4.40.0",
            "gemma2": "4.42.0", "llama": "4.28.0", "mistral": "4.34.0"}


@check("WL201", "model-type-unknown", VERSION, requires=["WL301"])
def model_type_unknown(snap: Snapshot) -> Iterator[Problem]:
    """The installed transformers does not know this model_type

    "The checkpoint you are trying to load has model type `modernbert` but Transformers does
    not recognize this architecture" (older releases: KeyError: 'modernbert'). The installed
    transformers predates the architecture, or it is custom code (auto_map).
    """
    env, doc = snap.env, snap.config
    config = doc.value if doc is not None and isinstance(doc.value, dict) else None
    if env is None or env.model_types is None or config is None:
        return
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type in env.model_types:
        return
    if isinstance(config.get("auto_map"), dict):
        return  # custom code supplies the class: WL430
    added = ADDED_IN.get(model_type)
    needed = added or config.get("transformers_version")
    yield Problem(
        title=f"transformers {env.versions.get('transformers')} does not know model_type "
        f"{model_type!r}",
        detail=(f"{model_type} was added in transformers {added}." if added else
                "Neither a built-in architecture of this release nor custom code (no auto_map).")
        + (f" The checkpoint was saved by transformers {config.get('transformers_version')}."
           if config.get("transformers_version") else ""),
        evidence={"model_type": model_type, "installed": env.versions.get("transformers"),
                  "saved_with": config.get("transformers_version"), "added_in": added},
        fix=install(snap, "-U", f"transformers>={needed}" if needed else "transformers"),
        file=snap.config_name,
    )


@check("WL202", "tokenizer-class-from-v5", VERSION)
def tokenizer_backend(snap: Snapshot) -> Iterator[Problem]:
    """tokenizer_config.json names TokenizersBackend, which transformers 4.x does not have

    transformers 5 writes "tokenizer_class": "TokenizersBackend"; 4.x fails with "Tokenizer
    class TokenizersBackend does not exist or is not currently imported".
    """
    env = snap.env
    tok = snap.document("tokenizer_config.json")
    installed = _v(env.versions.get("transformers")) if env else None
    if not isinstance(tok, dict) or installed is None or installed.major >= 5:
        return
    cls = tok.get("tokenizer_class")
    if cls != "TokenizersBackend":
        return
    family = (snap.document("config.json") or {}).get("model_type") if isinstance(
        snap.document("config.json"), dict) else None
    concrete = {"bert": "BertTokenizerFast", "roberta": "RobertaTokenizerFast",
                "distilbert": "DistilBertTokenizerFast", "xlm-roberta": "XLMRobertaTokenizerFast",
                "deberta-v2": "DebertaV2TokenizerFast", "mpnet": "MPNetTokenizerFast",
                "electra": "ElectraTokenizerFast", "albert": "AlbertTokenizerFast"}.get(
                    family or "", "PreTrainedTokenizerFast")
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE, file="tokenizer_config.json",
        title=f"the tokenizer was saved by transformers 5; {installed} cannot load "
        "TokenizersBackend",
        detail="The model loads; AutoTokenizer fails.",
        evidence={"tokenizer_class": cls, "installed": str(installed)},
        fix=f"{install(snap, '-U', 'transformers>=5')}, or set \"tokenizer_class\": "
        f"\"{concrete}\" in tokenizer_config.json",
    )


@check("WL203", "tokenizer-json-too-new", VERSION)
def tokenizer_json_new(snap: Snapshot) -> Iterator[Problem]:
    """tokenizer.json was written by a newer tokenizers than the one installed

    Since tokenizers 0.20 BPE merges are stored as [a, b] pairs; older releases fail with "data
    did not match any variant of untagged enum ModelWrapper at line … column …".
    """
    env, tok = snap.env, snap.tokenizer
    installed = _v(env.versions.get("tokenizers")) if env else None
    if tok is None or not tok.merges_as_pairs or installed is None:
        return
    if installed >= Version("0.20"):
        return
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE, file="tokenizer.json",
        title=f"tokenizer.json needs tokenizers >= 0.20; {installed} is installed",
        detail="Its BPE merges are [a, b] pairs. The model loads; the fast tokenizer fails.",
        evidence={"tokenizers": str(installed), "merges_as_pairs": True},
        fix="pip install -U 'tokenizers>=0.20'  # or AutoTokenizer.from_pretrained(..., "
        "use_fast=False)",
    )


@check("WL204", "bin-needs-torch-2.6", VERSION)
def bin_needs_new_torch(snap: Snapshot) -> Iterator[Problem]:
    """transformers refuses .bin weights on torch < 2.6 (CVE-2025-32434)

    "Due to a serious vulnerability issue in torch.load, even with weights_only=True, we now
    require users to upgrade torch to at least v2.6". safetensors weights are not affected.
    """
    env = snap.env
    if env is None or snap.plan.format != "pytorch":
        return
    torch = _v(env.versions.get("torch"))
    transformers = _v(env.versions.get("transformers"))
    if torch is None or transformers is None:
        return
    if torch.release >= (2, 6) or transformers < Version("4.50"):
        return
    yield Problem(
        title=f"transformers {transformers} loads .bin weights only with torch >= 2.6; "
        f"torch {torch} is installed",
        detail="A torch.load vulnerability (CVE-2025-32434) made transformers refuse pickled "
        "weights on older torch.",
        evidence={"torch": str(torch), "transformers": str(transformers),
                  "weights": list(snap.plan.files)},
        fix=f"{install(snap, '-U', 'torch>=2.6')}, or convert the weights to safetensors once",
    )


@check("WL205", "saved-by-newer-transformers", VERSION)
def saved_by_newer(snap: Snapshot) -> Iterator[Problem]:
    """The checkpoint was saved by a newer transformers than the one installed

    Usually harmless within a major version; across majors (saved by 5.x, loaded by 4.x)
    configs and tokenizer files may carry fields the older release does not understand.
    """
    env = snap.env
    config = snap.document("config.json")
    if env is None or not isinstance(config, dict):
        return
    saved = _v(str(config.get("transformers_version") or ""))
    installed = _v(env.versions.get("transformers"))
    if saved is None or installed is None or saved <= installed:
        return
    major = saved.major > installed.major
    yield Problem(
        severity=Severity.WARNING if major else Severity.INFO, effect=Effect.NONE,
        title=f"saved by transformers {saved}; {installed} is installed",
        detail="Saved by a newer major release: expect fields the installed one ignores or "
        "rejects." if major else "A newer release of the same major: normally compatible.",
        evidence={"saved_with": str(saved), "installed": str(installed)},
        fix=install(snap, "-U", f"transformers>={saved.major}.{saved.minor}"),
        file="config.json",
    )


RELATIVE = ("relative_key", "relative_key_query")
# BERT-like families whose relative position embeddings transformers 5 removed
RELATIVE_DROPPED = ("bert", "roberta", "xlm-roberta", "camembert", "electra")


@check("WL206", "relative-positions-dropped-in-v5", VERSION)
def relative_positions(snap: Snapshot) -> Iterator[Problem]:
    """position_embedding_type relative_key(_query), which transformers 5 no longer implements

    transformers 5's BERT-like models have absolute positions only: the config field is ignored,
    the distance_embedding weights are dropped as unused, and the model runs with a position
    scheme it was not trained with — no exception, different outputs.
    """
    env = snap.env
    config = snap.document("config.json")
    installed = _v(env.versions.get("transformers")) if env else None
    if not isinstance(config, dict) or installed is None or installed.major < 5:
        return
    kind = config.get("position_embedding_type")
    if kind not in RELATIVE or config.get("model_type") not in RELATIVE_DROPPED:
        return
    yield Problem(
        effect=Effect.SILENT, file="config.json",
        title=f"position_embedding_type {kind!r} is gone in transformers {installed}",
        detail="The model loads with absolute positions instead and drops its "
        "distance_embedding weights: its outputs are not the trained model's.",
        evidence={"position_embedding_type": kind, "installed": str(installed),
                  "saved_with": config.get("transformers_version")},
        fix=f"{install(snap, 'transformers<5')} for this model",
    )
