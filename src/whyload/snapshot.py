"""Snapshot: everything read about one target, once, frozen. Checks only ever look at this."""

from __future__ import annotations

import functools
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from whyload.env import Environment, collect
from whyload.env.predict import PeakEstimate, predict_peak
from whyload.knowledge.families import ClassSpec, families
from whyload.knowledge.quantization import Quantization, dequantized_on_load, quantization_of
from whyload.modelview import LoadClass, ModelView, choose_class, validate_class
from whyload.readers.code import CodeFile, read_code
from whyload.readers.inventory import Entry, Inventory, is_training_state
from whyload.readers.jsonfile import JsonDoc, read_json_file
from whyload.readers.lfs import LfsPointer, parse_lfs_pointer
from whyload.readers.safetensors import SafetensorsHeader, read_safetensors_header
from whyload.readers.sniff import HEAD_BYTES, MODEL_KINDS, Kind
from whyload.readers.tensors import TensorInfo
from whyload.readers.tokenizer import TokenizerFacts, read_tokenizer
from whyload.readers.torch import (
    TorchCheckpoint,
    not_unpacked,
    read_7z,
    read_legacy_torch,
    read_npy,
    read_torch_tar,
    read_torch_zip,
)
from whyload.resolve import Artifact
from whyload.sources import ByteSource, LocalSource

if TYPE_CHECKING:
    from whyload.knowledge.model_classes import ModelClasses
    from whyload.probe.meta import BuildFailure

# what from_pretrained looks for, in the order it looks (PyTorch weights first)
SAFETENSORS_NAME = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_NAME = "pytorch_model.bin"
PYTORCH_INDEX = "pytorch_model.bin.index.json"
TF_NAME = "tf_model.h5"
TF_INDEX = "tf_model.h5.index.json"
FLAX_NAME = "flax_model.msgpack"
FLAX_INDEX = "flax_model.msgpack.index.json"
TF1_INDEX = "model.ckpt.index"

SHARD = re.compile(r"^(?P<stem>.+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.(?P<ext>safetensors|bin)$")
VARIANT = re.compile(r"^(model|pytorch_model)\.(?P<variant>[\w-]+)\.(safetensors|bin)$")

DECLARED_BY_SUFFIX = {
    ".safetensors": "safetensors", ".bin": "torch", ".pt": "torch", ".pth": "torch",
    ".ckpt": "torch", ".h5": "tf", ".msgpack": "flax", ".gguf": "gguf", ".onnx": "onnx",
}  # fmt: skip
# small JSON files read whole for later checks (config, tokenizer, adapters, sentence-transformers,
# and the layouts of other tools: a diffusers pipeline, a Meta release, a Keras preset)
DOCUMENTS = ("config.json", "bert_config.json", "adapter_config.json", "tokenizer_config.json",
             "special_tokens_map.json", "generation_config.json", "modules.json",
             "model_index.json", "params.json", "metadata.json", "task.json")
WEIGHT_KINDS = frozenset({Kind.SAFETENSORS, Kind.TORCH_ZIP, Kind.PICKLE, Kind.ZIP})
PICKLE_HOLDERS = frozenset({Kind.NPY, Kind.SEVEN_ZIP, Kind.TAR})  # read for the security scan


@dataclass(frozen=True)
class FileFacts:
    """One file: what its name claims, what its bytes are, and what its format reader found."""

    entry: Entry
    declared: str | None  # the format its name claims
    kind: Kind | None  # what its bytes are (TORCH_ZIP once the zip proved to be one)
    safetensors: SafetensorsHeader | None = None
    torch: TorchCheckpoint | None = None
    lfs: LfsPointer | None = None
    reader_error: str | None = None  # a reader failed on it (a bug, or bytes beyond its bounds)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def size(self) -> int:
        return self.entry.size

    @property
    def tensors(self) -> dict[str, TensorInfo]:
        if self.safetensors is not None:
            return self.safetensors.tensors
        if self.torch is not None:
            return self.torch.tensors
        return {}

    @property
    def is_weights(self) -> bool:
        """A file that holds (or should hold) tensors."""
        if is_training_state(self.name):
            return False
        return self.declared is not None or self.kind in (Kind.SAFETENSORS, Kind.TORCH_ZIP)


@dataclass(frozen=True)
class ShardIndex:
    name: str
    doc: JsonDoc
    weight_map: dict[str, str] = field(default_factory=dict)
    total_size: int | None = None
    problem: str | None = None  # the JSON parses but is not an index

    @property
    def shards(self) -> list[str]:
        return sorted(set(self.weight_map.values()))


@dataclass(frozen=True)
class LoadPlan:
    """The weights from_pretrained would read, as transformers picks them."""

    format: str | None  # "safetensors", "pytorch", or None when nothing loadable is present
    files: tuple[str, ...] = ()
    index: str | None = None
    adapter: bool = False  # PEFT adapter weights, loaded on top of a base model


@dataclass(frozen=True)
class AdapterBase:
    """The base model a PEFT adapter names (adapter_config.json's base_model_name_or_path), as
    whyload found and examined it: the same pipeline as any target, offline."""

    named: str | None  # what adapter_config.json says (None: nothing)
    found: str | None = None  # the folder it resolved to (None: not found here)
    how: str | None = None  # "folder" or "hub-cache"
    problem: str | None = None  # why it was not found or not examined
    verdict: str | None = None  # its own verdict (Verdict values)
    headline: str | None = None  # its first error, or what its verdict says
    codes: tuple[str, ...] = ()  # its findings' codes
    module_names: frozenset[str] = frozenset()  # its modules, from its weight names


@dataclass(frozen=True)
class Options:
    """What the user asked about the load: the class to load into (None: config's
    `architectures`, else AutoModel)."""

    model_class: str | None = None
    device: str = "cpu"  # where the model will be loaded: cpu, cuda, mps
    dtype: str | None = None  # the dtype it will be loaded in (None: as stored)
    deep: bool = False  # ask transformers itself (meta device, child process) what the class
    # expects for this config: custom code, types newer than the shipped specs, build failures
    python: str | None = None  # the interpreter that will load it (None: this one)
    finetune: bool = False  # the user is starting a fine-tune: a new head is meant to be random
    memory: int | None = None  # bytes the loading machine has (None: this machine's)


@dataclass(frozen=True)
class Snapshot:
    artifact: Artifact
    inventory: Inventory
    files: dict[str, FileFacts]
    indexes: dict[str, ShardIndex]
    plan: LoadPlan
    documents: dict[str, JsonDoc] = field(default_factory=dict)  # the small JSON files, parsed
    tokenizer: TokenizerFacts | None = None
    code_files: dict[str, CodeFile] = field(default_factory=dict)  # *.py auto_map may import
    options: Options = field(default_factory=Options)
    deep_spec: ClassSpec | None = None  # from transformers on the meta device (Options.deep)
    deep_error: str | None = None  # why the deep tier could not run
    env: Environment | None = None  # the machine that will load it
    load_class: LoadClass | None = None  # the class from_pretrained is called on, and why
    deep_failure: BuildFailure | None = None  # what transformers raised building it (--deep)
    adapter_base: AdapterBase | None = None  # a PEFT adapter's base model, examined

    @functools.cached_property
    def view(self) -> ModelView:
        """What the config and the weights say about the model (built once, when asked)."""
        from whyload.modelview import build_view

        return build_view(self)

    @functools.cached_property
    def quantization(self) -> Quantization | None:
        """How the planned weights are quantized (config.json's block, else their own keys)."""
        cfg = self.document(self.config_name) if self.config_name else None
        return quantization_of(cfg if isinstance(cfg, dict) else None, self.planned_tensors())

    def dequantized_to(self) -> str | None:
        """The dtype transformers turns the quantized weights into on this machine, or None when
        its quantizer keeps them as stored."""
        q = self.quantization
        env = self.env
        if q is None or env is None:
            return None
        cuda = None if env.torch_build is None else bool(env.torch_build.cuda or
                                                          env.torch_build.hip)
        gpus = env.gpus.devices if env.gpus is not None else ()
        return dequantized_on_load(q, torch_has_cuda=cuda, capabilities=[
            g.compute_capability for g in gpus if g.compute_capability])

    @property
    def config_name(self) -> str | None:
        """config.json, or bert_config.json for an original Google release."""
        return next((n for n in ("config.json", "bert_config.json") if n in self.files), None)

    @property
    def config(self) -> JsonDoc | None:
        return self.documents.get(self.config_name) if self.config_name else None

    def document(self, name: str) -> Any:
        """The parsed value of a small JSON file, or None when absent or broken."""
        doc = self.documents.get(name)
        return doc.value if doc is not None and doc.ok else None

    def file(self, name: str) -> FileFacts | None:
        return self.files.get(name)

    def weights(self) -> Iterator[FileFacts]:
        return (f for f in self.files.values() if f.is_weights)

    def in_plan(self, name: str) -> bool:
        return name in self.plan.files or name == self.plan.index

    def planned_tensors(self) -> dict[str, TensorInfo]:
        tensors: dict[str, TensorInfo] = {}
        for name in self.plan.files:
            f = self.files.get(name)
            if f is not None:
                tensors.update(f.tensors)
        return tensors

    def config_dtype(self) -> str | None:
        """config.json's dtype (torch_dtype before transformers 4.56), without 'torch.'."""
        cfg = self.document(self.config_name) if self.config_name else None
        value = (cfg.get("dtype") or cfg.get("torch_dtype")) if isinstance(cfg, dict) else None
        return value.removeprefix("torch.") if isinstance(value, str) and value != "auto" \
            else None

    def load_dtype(self) -> str | None:
        """The dtype from_pretrained will use: the one asked for, else (transformers >= 5,
        whose default is dtype="auto") the config's."""
        if self.options.dtype:
            return self.options.dtype
        installed = self.env.versions.get("transformers") if self.env else None
        major = installed.split(".", 1)[0] if installed else ""
        return self.config_dtype() if major.isdigit() and int(major) >= 5 else None

    def predicted_peak(self) -> PeakEstimate | None:
        """The memory loading the planned weights takes, for the device and dtype of the load."""
        tensors = self.planned_tensors()
        if not tensors:
            return None
        legacy = any(f.torch is not None and f.torch.layout != "zip"
                     for f in (self.files.get(n) for n in self.plan.files) if f is not None)
        q = self.quantization
        if q is None or not q.method.transformers_loads:
            return predict_peak(tensors, legacy=legacy, dtype=self.load_dtype(),
                                device=self.options.device)
        dequantized = self.dequantized_to()
        return predict_peak(tensors, legacy=legacy, dtype=self.load_dtype(),
                            device=self.options.device, method=q.name, dequantized_to=dequantized,
                            quantized=q.packed_keys if dequantized else
                            q.packed_keys | q.extra_keys)

    def memory_fit(self, peak: PeakEstimate) -> dict[str, Any] | None:
        """Whether the predicted peak fits where the model will be loaded: the GPU's free
        memory for cuda, else --memory or this machine's usable memory."""
        device = self.options.device
        if self.options.memory is not None:
            has, where = self.options.memory, "--memory"
        elif device == "cuda" and self.env is not None and self.env.gpus is not None \
                and self.env.gpus.devices:
            gpu = self.env.gpus.devices[0]
            has, where = gpu.memory_free, f"this GPU ({gpu.name}) has free"
        elif self.env is not None and self.env.memory.usable is not None:
            has, where = self.env.memory.usable, "this machine has"
        else:
            return None
        needs = peak.device if device in ("cuda", "mps") and peak.device else peak.host
        asked = self.options.memory is not None or self.options.dtype is not None \
            or device != "cpu"
        return {"needs_bytes": needs, "has_bytes": has, "where": where, "fits": needs <= has,
                "device": device, "asked": asked}

    def not_checked_remotely(self) -> dict[str, str]:
        """What a check by ranges cannot tell: facts that need every byte, files not read."""
        listing = self.artifact.remote
        against = f" --against {listing.url}" if listing is not None and listing.store == "hf" \
            else ""
        out = {"checksums": "sha256, zip CRCs and tensor values need every byte (after a "
               f"download: whyload verify DIR{against})"}
        stats = self.artifact.source.stats() if self.artifact.source is not None else None
        for name, why in (stats.skipped.items() if stats is not None else ()):
            out[name] = f"not read ({why})"
        return out

    def facts(self) -> dict[str, Any]:
        tensors = self.planned_tensors()
        dtypes = Counter(t.dtype for t in tensors.values())
        devices = Counter(t.device for t in tensors.values() if t.device)
        cfg = self.config.value if self.config and isinstance(self.config.value, dict) else {}
        out: dict[str, Any] = {
            "files": [
                {"name": f.name, "size": f.size, "kind": f.kind.value if f.kind else None}
                for f in self.files.values()
            ],
            "format": self.plan.format,
            "weights": list(self.plan.files),
            "tensor_count": len(tensors),
            "parameter_count": sum(t.numel for t in tensors.values()),
            "tensor_bytes": sum(t.nbytes for t in tensors.values()),
            "dtypes": dict(dtypes.most_common()),
        }
        if devices:
            out["storage_devices"] = dict(devices.most_common())
        peak = self.predicted_peak()
        if peak is not None:
            out["predicted_peak"] = {"host_bytes": peak.host, "device_bytes": peak.device,
                                     "parts": dict(peak.parts), "device": self.options.device,
                                     "dtype": self.load_dtype()}
            if peak.quantized:
                out["predicted_peak"]["quantized"] = dict(peak.quantized)
            fit = self.memory_fit(peak)
            if fit is not None:
                out["memory_fit"] = fit
        if self.quantization is not None:
            q = self.quantization
            out["quantization"] = {"method": q.name, "declared": q.declared,
                                   "packed_weights": len(q.packed_keys)}
        for key in ("model_type", "architectures", "transformers_version"):
            if key in cfg:
                out[key] = cfg[key]
        if self.load_class is not None:
            out["load_class"] = self.load_class.to_fact()
        spec = self.view.spec
        if spec is not None:  # where the expected weights came from
            out["key_spec"] = spec.source or ("transformers --deep" if spec is self.deep_spec
                                              else "BERT-family spec")
        stats = self.artifact.source.stats() if self.artifact.source is not None else None
        if stats is not None:
            out["remote"] = {**stats.facts(), "not_checked": self.not_checked_remotely()}
        if self.env is not None:
            from whyload.env.summary import interpreter_facts

            out["interpreter"] = interpreter_facts(self.env)
        return out


def take_snapshot(artifact: Artifact, options: Options | None = None,
                  environment: Environment | None = None) -> Snapshot:
    source = source_of(artifact)
    open_file = source.open
    inventory = source.inventory()
    entries = inventory.entries
    if artifact.focus is not None:
        entries = tuple(e for e in entries if e.name == artifact.focus or e.name.endswith(".json"))
    files = read_files(source, [e for e in entries if e.kind is not None])
    indexes = {
        name: read_index(name, lambda n=name: open_file(n), f.size)  # type: ignore[misc]
        for name, f in files.items()
        if name.endswith(".index.json") or re.search(r"\.index\.[\w-]+\.json$", name)
    }
    documents = {
        name: read_json_file(lambda n=name: open_file(n), files[name].size)  # type: ignore[misc]
        for name in DOCUMENTS if name in files and files[name].kind is not Kind.LFS_POINTER
    }
    plan = plan_load(files, indexes, artifact.focus)
    readable = {n: f.size for n, f in files.items() if f.kind is not Kind.LFS_POINTER}
    if source.remote:
        readable = _within_remote_budget(readable, source)
    tokenizer, broken_tokenizer = (read_tokenizer(open_file, readable)
                                   if artifact.focus is None else (None, None))
    if broken_tokenizer is not None:  # kept for the check that names it; valid ones are not
        documents["tokenizer.json"] = broken_tokenizer
    code = {n: read_code(open_file, n, f.size) for n, f in sorted(files.items())
            if n.endswith(".py") and f.kind is not Kind.LFS_POINTER}
    options = options or Options()
    env = environment or collect(gpus=options.device == "cuda", python=options.python,
                                 model_dir=None if source.remote else str(artifact.root))
    config = documents.get("config.json")
    config_value = config.value if config and config.ok and isinstance(config.value, dict) \
        else None
    modules = documents.get("modules.json")  # a sentence-transformers folder
    if options.model_class:
        validate_class(options.model_class, shipped_classes, env)
    load_class = choose_class(options.model_class, config_value,
                              isinstance(modules.value if modules and modules.ok else None, list),
                              shipped_classes)
    deep_spec, deep_error, deep_failure = None, None, None
    model_type = config_value.get("model_type") if config_value else None
    if options.deep and model_type not in families() and source.remote:
        deep_error = "--deep builds the model from config.json on this machine: not remotely"
    elif options.deep and model_type not in families():
        from whyload.probe.meta import expected_by_transformers

        deep_spec, deep_error, deep_failure = expected_by_transformers(
            artifact.root, config, load_class.name,
            env.interpreter.path if env is not None else sys.executable)
    return Snapshot(artifact, inventory, files, indexes, plan, documents, tokenizer, code,
                    options, deep_spec, deep_error, env, load_class, deep_failure)


# tokenizer files are read whole: remotely, only up to this size (tokenizer.json reaches ~30 MB)
REMOTE_TOKENIZER_BYTES = 1 << 20
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


def source_of(artifact: Artifact) -> ByteSource:
    """Where the artifact's bytes are read from: its remote source, else its folder."""
    return artifact.source if artifact.source is not None else LocalSource(artifact.root)


def _within_remote_budget(sizes: dict[str, int], source: ByteSource) -> dict[str, int]:
    """The files a remote check reads whole, less the tokenizer files too large for it (each is
    recorded as not read, so a tokenizer check that needs it says so instead of passing)."""
    stats = source.stats()
    out = dict(sizes)
    for name in TOKENIZER_FILES:
        if name in out and out[name] > REMOTE_TOKENIZER_BYTES:
            del out[name]
            if stats is not None:
                stats.skipped[name] = (f"{sizes[name]:,} bytes: read whole only up to "
                                       f"{REMOTE_TOKENIZER_BYTES:,} remotely")
    return out


def shipped_classes() -> ModelClasses:
    """The model classes transformers has (knowledge/model_classes.json, generated from it),
    read the first time a decision needs them."""
    from whyload.knowledge.model_classes import generated

    return generated()


# the names from_pretrained reads in a model folder (weights, their shard indexes, config.json)
LOADED_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack",
                   ".index.json")


def is_model_file(name: str, kind: Kind | None) -> bool:
    """A model file by its name (weights, config.json, a shard index) or by its bytes (a
    weights format): what whyload examines, rather than a log or notes."""
    return (declared_format(name) is not None or name.endswith(LOADED_SUFFIXES)
            or name == "config.json" or kind in MODEL_KINDS)


def read_by_from_pretrained(name: str) -> bool:
    """Whether from_pretrained, given the folder, reads a file so named: a file target is the
    user's model only then (weights.dat is not read; the folder's model.safetensors is)."""
    return name.endswith(LOADED_SUFFIXES) or name == "config.json"


def declared_format(name: str) -> str | None:
    lower = name.lower()
    for suffix, fmt in DECLARED_BY_SUFFIX.items():
        if lower.endswith(suffix):
            return fmt
    if lower.endswith(".index") and ".ckpt" in lower:
        return "tf-checkpoint"
    if re.search(r"\.ckpt\.data-\d+-of-\d+$", lower) or re.search(r"\.data-\d{5}-of-\d{5}$", lower):
        return "tf-checkpoint"
    return None


REMOTE_PARALLEL_FILES = 16  # remote files whose headers are read at once


def read_files(source: ByteSource, entries: list[Entry]) -> dict[str, FileFacts]:
    """Every file's facts: one after the other locally; remotely in parallel threads, so that
    30 shards take about as long as the slowest one's range requests."""
    if not source.remote or len(entries) < 2:
        return {e.name: read_file(source, e) for e in entries}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=REMOTE_PARALLEL_FILES) as pool:
        return dict(zip((e.name for e in entries),
                        pool.map(lambda e: read_file(source, e), entries), strict=True))


def read_file(root: Path | ByteSource, entry: Entry) -> FileFacts:
    """Readers never raise on bad bytes; if one does anyway, the file is reported unreadable
    rather than the whole check failing. `root` is the folder, or the source it is read from."""
    try:
        return _read_file(LocalSource(root) if isinstance(root, Path) else root, entry)
    except Exception as exc:
        return FileFacts(entry, declared_format(entry.name), entry.kind,
                         reader_error=f"{type(exc).__name__}: {exc}"[:300])


def _read_file(source: ByteSource, entry: Entry) -> FileFacts:
    declared = declared_format(entry.name)
    kind = entry.kind
    pickle_name = declared == "torch" or entry.name.lower().endswith((".pkl", ".pickle"))
    if kind in (Kind.TEXT, Kind.UNKNOWN) and _is_pickle(entry.head, pickle_name):
        kind = Kind.PICKLE  # protocol 0/1 pickles start without PROTO and look like text
    facts = FileFacts(entry, declared, kind)
    if kind is Kind.LFS_POINTER:
        return FileFacts(entry, declared, kind, lfs=parse_lfs_pointer(entry.head))
    if kind not in WEIGHT_KINDS | PICKLE_HOLDERS:  # training state (optimizer.pt, ...) is read
        return facts  # too: it is unpickled by Trainer's resume, so it is scanned
    try:
        if kind is Kind.SEVEN_ZIP and source.remote:  # unpacking needs every byte
            return FileFacts(entry, declared, kind, torch=not_unpacked(
                "a 7z archive is unpacked only from a local copy: its content was not "
                "inspected remotely"))
        with source.open(entry.name) as f:
            if kind is Kind.SEVEN_ZIP:
                return FileFacts(entry, declared, kind, torch=read_7z(f, entry.size))
            if kind is Kind.NPY:
                return FileFacts(entry, declared, kind, torch=read_npy(f, entry.size))
            if kind is Kind.TAR:
                return FileFacts(entry, declared, kind, torch=read_torch_tar(f, entry.size))
            if kind is Kind.SAFETENSORS:
                return FileFacts(entry, declared, kind,
                                 safetensors=read_safetensors_header(f, entry.size))
            if kind is Kind.ZIP:
                ckpt = read_torch_zip(f, entry.size)
                real = Kind.ZIP if ckpt.missing_records else Kind.TORCH_ZIP
                return FileFacts(entry, declared, real, torch=ckpt)
            if kind is Kind.PICKLE:
                return FileFacts(entry, declared, kind, torch=read_legacy_torch(f, entry.size))
    except OSError:
        return facts
    return facts


def _is_pickle(head: bytes, torch_name: bool) -> bool:
    """A protocol 0/1 pickle. Under a torch name (.bin, .pt, .ckpt) a stream that names a global
    or is cut at the end of the head counts, whatever follows; under any other name only a whole
    stream that names a global, or any text starting `c...\n...\n` would."""
    from whyload.readers.pickle import walk_pickle_bytes

    stream = walk_pickle_bytes(head)
    if stream.globals and (stream.error is None or torch_name):
        return True
    return torch_name and (stream.error is None or (stream.truncated and len(head) >= HEAD_BYTES
                                                    and stream.opcodes > 50))


def read_index(name: str, path: Path | Callable[[], BinaryIO], size: int) -> ShardIndex:
    doc = read_json_file(path if callable(path) else lambda: path.open("rb"), size)
    if not doc.ok:
        return ShardIndex(name, doc)
    value = doc.value
    wm = value.get("weight_map") if isinstance(value, dict) else None
    if not isinstance(wm, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in wm.items()
    ):
        return ShardIndex(name, doc, problem="it has no weight_map of tensor name -> shard file")
    meta = value.get("metadata")
    if not isinstance(meta, dict):  # transformers reads index["metadata"]: KeyError without it
        return ShardIndex(name, doc, dict(wm), problem="it has no \"metadata\" object "
                          "(transformers raises KeyError: 'metadata')")
    total = meta.get("total_size")
    return ShardIndex(name, doc, dict(wm),
                      int(total) if isinstance(total, (int, float)) and total >= 0
                      and total != float("inf") else None)  # json reads Infinity


def plan_load(
    files: dict[str, FileFacts], indexes: dict[str, ShardIndex], focus: str | None
) -> LoadPlan:
    if focus is not None:
        f = files.get(focus)
        fmt = f.declared if f else None
        if f is not None and fmt is None and f.kind is Kind.SAFETENSORS:
            fmt = "safetensors"  # a name that says nothing (weights.dat): the bytes do
        if focus in indexes:
            return LoadPlan("safetensors" if "safetensors" in focus else "pytorch",
                            tuple(indexes[focus].shards), focus)
        return LoadPlan("safetensors" if fmt == "safetensors" else "pytorch", (focus,))
    if SAFETENSORS_NAME in files:
        return LoadPlan("safetensors", (SAFETENSORS_NAME,))
    if SAFETENSORS_INDEX in files:
        return LoadPlan("safetensors", tuple(indexes[SAFETENSORS_INDEX].shards), SAFETENSORS_INDEX)
    if PYTORCH_NAME in files:
        return LoadPlan("pytorch", (PYTORCH_NAME,))
    if PYTORCH_INDEX in files:
        return LoadPlan("pytorch", tuple(indexes[PYTORCH_INDEX].shards), PYTORCH_INDEX)
    if "adapter_config.json" in files:
        for name, fmt in (("adapter_model.safetensors", "safetensors"),
                          ("adapter_model.bin", "pytorch")):
            if name in files:
                return LoadPlan(fmt, (name,), adapter=True)
    return LoadPlan(None)
