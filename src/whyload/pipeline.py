"""resolve -> read -> checks -> report: the one path every command that reads a model takes.

`examine` is that path; `check` reports what it found, and verify, lock and fix start from it
(one snapshot each: the headers are read once).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from whyload.env import Environment, collect
from whyload.env.summary import environment_facts, summarize
from whyload.errors import TargetError
from whyload.modelview import ModelView
from whyload.readers.inventory import Inventory
from whyload.readers.sniff import Kind
from whyload.registry import all_rules, matches, run_checks, validate_patterns
from whyload.report import Category, Finding, Report, Severity, Skipped
from whyload.resolve import Artifact, looks_like_hub_id, resolve
from whyload.snapshot import (
    AdapterBase,
    LoadPlan,
    Options,
    Snapshot,
    is_model_file,
    take_snapshot,
)


@dataclass(frozen=True)
class Examination:
    """What resolving, reading and checking one target found."""

    artifact: Artifact
    snapshot: Snapshot
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]
    not_checked: Mapping[str, str] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)

    def report(self, target: str, command: str = "check") -> Report:
        return Report(command=command, target=target, resolved=self.artifact.describe(),
                      findings=self.findings, skipped=self.skipped,
                      facts=self.snapshot.facts(), timings=self.timings,
                      not_checked=self.not_checked)


def examine(
    target: str | Artifact,
    *,
    revision: str | None = None,
    options: Options | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    environment: Environment | None = None,
    with_adapter_base: bool = True,
    remote: bool = False,
    storage_options: Mapping[str, object] | None = None,
) -> Examination:
    """resolve -> snapshot -> checks for one target (a path, a hub id, or an Artifact already
    resolved). A PEFT adapter's base model is examined too (`with_adapter_base`), one level
    deep. Raises TargetError when there is nothing to examine."""
    validate_patterns([*select, *ignore])
    t0 = time.perf_counter()
    artifact = target if isinstance(target, Artifact) else resolve(
        str(target), revision, remote=remote, storage_options=storage_options)
    t1 = time.perf_counter()
    snapshot = take_snapshot(artifact, options or Options(), environment)
    _refuse_a_remote_that_let_nothing_be_read(artifact)
    _refuse_a_file_that_is_no_model_file(artifact, snapshot)
    if with_adapter_base and snapshot.plan.adapter:
        snapshot = replace(snapshot, adapter_base=examine_adapter_base(snapshot))
    t2 = time.perf_counter()
    findings, skipped = run_checks(snapshot, select=select, ignore=ignore)
    if artifact.remote is not None:
        findings = tuple(named_by_url(f, artifact) for f in findings)
    t3 = time.perf_counter()
    return Examination(
        artifact, snapshot, findings, skipped, not_checked(snapshot, select, ignore),
        {"resolve_s": round(t1 - t0, 6), "read_s": round(t2 - t1, 6),
         "checks_s": round(t3 - t2, 6), "total_s": round(t3 - t0, 6)})


def check(
    target: str = ".",
    *,
    revision: str | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    model_class: str | None = None,
    deep: bool = False,
    device: str = "cpu",
    dtype: str | None = None,
    environment: Environment | None = None,
    python: str | None = None,
    finetune: bool = False,
    remote: bool = False,
    storage_options: Mapping[str, object] | None = None,
    memory: int | None = None,
) -> Report:
    """Diagnose a model folder, weights file or cached hub id without loading it; or a remote
    one (hf://org/name[@rev], a hub id with `remote=True`, s3://, gs://, https://), read by
    ranges: headers and small JSON only, nothing downloaded (`storage_options` go to fsspec).

    Reads headers and JSON only: never a tensor, never a pickle, never torch or transformers.
    `model_class` is the class the model will be loaded into (default: the config's
    `architectures`, else AutoModel). `deep` asks transformers itself, on the meta device in a
    child process, what classes outside the BERT-family spec expect. `device` and `dtype` say
    how it will be loaded; `python` is the interpreter that will load it (default: this one);
    `environment` replaces this machine's facts (whyload.env.collect). `finetune` says the
    model is loaded to be trained: a task head the checkpoint lacks is then expected to start
    random, and the verdict is `loads` (without it, a random head is `loads broken`).
    `memory` (bytes) is the memory of the machine that will load it, instead of this one's.
    Raises TargetError when there is nothing to examine; every problem with the model itself is
    a Finding in the returned Report.
    """
    options = Options(model_class=model_class, deep=deep, device=device, dtype=dtype,
                      python=python, finetune=finetune, memory=memory)
    return examine(target, revision=revision, options=options, select=select, ignore=ignore,
                   environment=environment, remote=remote,
                   storage_options=storage_options).report(str(target))


def named_by_url(finding: Finding, artifact: Artifact) -> Finding:
    """A remote target's findings name it by its URL (hf://org/name), not by the path that
    stands for it (hf:/org/name)."""
    if artifact.remote is None:
        return finding
    stand_in, url = str(artifact.root), artifact.remote.url
    base = url.rsplit("/", 1)[0] if artifact.remote.focus else url
    if finding.code == "WL110" and finding.file:  # a pointer on the remote: no clone to pull in
        from whyload.knowledge import fix_commands

        finding = replace(finding, fix=fix_commands.upload_with_lfs(
            base, artifact.remote.repo_id, finding.file))
    if stand_in == base:
        return finding
    return replace(finding, title=finding.title.replace(stand_in, base),
                   detail=finding.detail.replace(stand_in, base),
                   fix=finding.fix.replace(stand_in, base))


def examine_adapter_base(snap: Snapshot) -> AdapterBase:
    """The base model adapter_config.json names, found as peft finds it (a local path, else a
    hub id) but only on this machine (a folder, or the HF cache: never a download), and
    examined like any target, by the same interpreter and options."""
    adapter = snap.document("adapter_config.json")
    named = adapter.get("base_model_name_or_path") if isinstance(adapter, dict) else None
    if not isinstance(named, str) or not named.strip():
        return AdapterBase(None, problem="adapter_config.json names no base_model_name_or_path")
    revision = adapter.get("revision") if isinstance(adapter, dict) else None
    on_the_hub = snap.artifact.remote is not None and snap.artifact.remote.store == "hf"
    try:  # an adapter read on the Hub: its base too, by ranges (peft downloads it from there)
        artifact = resolve(named, revision if isinstance(revision, str) and revision
                           and not Path(named).expanduser().exists() else None,
                           remote=on_the_hub and looks_like_hub_id(named))
    except TargetError as exc:
        return AdapterBase(named, problem=exc.message)
    if artifact.root == snap.artifact.root:
        return AdapterBase(named, found=str(artifact.root), how=artifact.how,
                           problem="it names the adapter's own folder")
    options = Options(device=snap.options.device, dtype=snap.options.dtype,
                      python=snap.options.python, deep=snap.options.deep)
    try:
        exam = examine(artifact, options=options, environment=snap.env,
                       with_adapter_base=False)
    except TargetError as exc:
        return AdapterBase(named, found=str(artifact.root), how=artifact.how,
                           problem=exc.message)
    report = exam.report(named)
    first_error = next((f for f in report.findings if f.severity is Severity.ERROR), None)
    view = exam.snapshot.view
    keys = set(view.checkpoint) | set(view.spec.expected if view.spec else ())
    return AdapterBase(
        named, found=str(artifact.root), how=artifact.how, verdict=report.verdict.value,
        headline=(f"{first_error.code} {first_error.title}" if first_error else
                  report.verdict.label),
        codes=tuple(report.codes()), module_names=frozenset(module_names(keys)))


def module_names(weight_keys: set[str]) -> set[str]:
    """Every module a model with these weights has: each key's owner and the owners above it
    (bert.encoder.layer.0.attention.self.query.weight -> …query, …self, …, bert)."""
    out: set[str] = set()
    for key in weight_keys:
        parts = key.split(".")[:-1]
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return out


def not_checked(snap: Snapshot, select: Sequence[str] = (),
                ignore: Sequence[str] = ()) -> dict[str, str]:
    """The categories this examination did not assess, and why: deselected by --select /
    --ignore, or without what they compare (no config.json, no readable weights, no key spec
    for the class being loaded)."""
    selected = {r.category for r in all_rules() if r.func is not None
                and (not select or matches(r.code, select)) and not matches(r.code, ignore)}
    out = {c.value: "not selected (--select / --ignore)" for c in Category if c not in selected}
    view = snap.view
    if not view.checkpoint:
        for category in (Category.CONFIG, Category.ARCHITECTURE):
            out.setdefault(category.value, "no weights could be read to compare with")
    if snap.config is None:
        where = "beside the file" if snap.artifact.focus else "in the folder"
        out.setdefault(Category.CONFIG.value, f"no config.json {where}")
        out.setdefault(Category.ARCHITECTURE.value, f"no config.json {where} names the class")
    if view.prediction is None and Category.ARCHITECTURE.value not in out:
        out[Category.ARCHITECTURE.value] = _why_not_predicted(snap, view)
    return out


def _why_not_predicted(snap: Snapshot, view: ModelView) -> str:
    if view.wrapper:
        return f"the weight names carry the wrapper prefix {view.wrapper!r}"
    if snap.plan.adapter:
        return "PEFT adapter weights: the keys depend on the base model"
    if view.unpredictable:
        return view.unpredictable
    if snap.deep_error:
        return f"--deep could not build the model: {snap.deep_error}"
    if snap.deep_spec is not None and snap.deep_spec.renames_on_load:
        return f"transformers renames {snap.deep_spec.name}'s weights on load"
    what = view.target_class or f"model_type {view.model_type!r}"
    return (f"no key spec for {what}" + ("" if snap.options.deep else
                                        "; --deep asks transformers"))


def _refuse_a_remote_that_let_nothing_be_read(artifact: Artifact) -> None:
    """A remote whose every file was refused (a gated repo lists its files but serves none of
    them without an accepted license and a token) is no model to report on: exit 2, naming why."""
    stats = artifact.source.stats() if artifact.source is not None else None
    listing = artifact.remote
    if stats is None or listing is None or not stats.failures:
        return
    top = {f.name for f in listing.files if "/" not in f.name and f.size > 0}
    if listing.focus:
        top = {listing.focus}
    if not top or not top <= set(stats.failures):
        return
    first = stats.failures[sorted(top)[0]]
    raise TargetError(artifact.target, f"{first.code} {first.message}", hint=first.hint)


def _refuse_a_file_that_is_no_model_file(artifact: Artifact, snapshot: Snapshot) -> None:
    """A single file that is no model file by name or bytes (a log, notes, a script) is not a
    target: saying "loads" about it would be wrong."""
    if artifact.how not in ("file", "remote") or not artifact.focus:
        return
    facts = snapshot.file(artifact.focus)
    if facts is None or is_model_file(artifact.focus, facts.kind) or facts.kind not in (
            Kind.TEXT, Kind.UNKNOWN, Kind.EMPTY, Kind.ZEROS):
        return
    hint = (f"a log? whyload explain {artifact.target}" if facts.kind is Kind.TEXT else
            "point whyload at the model folder or its weights file")
    raise TargetError(artifact.target, f"{artifact.target} is not a model file (weights, "
                      "config.json or a shard index)", hint=hint)


# `whyload env`: one line per area, then the findings; codes in each area's range set its mark
AREAS = (("runtime", ("WL540",)), ("torch", ("WL510", "WL515", "WL540")),
         ("gpu", ("WL511", "WL512", "WL513", "WL514")), ("memory", ("WL50",)),
         ("hf cache", ("WL52", "WL541")), ("container", ("WL53",)))


def env(*, device: str = "cpu", probe: bool = True,
        environment: Environment | None = None, python: str | None = None) -> Report:
    """Diagnose this machine alone: versions, torch (imported in a child process), GPUs,
    memory and cgroup limits, the HF cache, containers."""
    t0 = time.perf_counter()
    machine = environment or collect(gpus=True, probe=probe, python=python)
    artifact = Artifact(target="this machine", root=Path.cwd(), how="machine")
    snapshot = Snapshot(artifact, Inventory(()), {}, {}, LoadPlan(None), env=machine,
                        options=Options(device=device))
    findings, skipped = run_checks(snapshot, select=["WL5"])
    facts = environment_facts(machine)
    facts["areas"] = [_area(name, prefixes, machine, findings) for name, prefixes in AREAS]
    return Report(command="env", target="this machine", resolved={"how": "machine"},
                  findings=findings, skipped=skipped, facts=facts,
                  timings={"total_s": round(time.perf_counter() - t0, 6)})


def _area(name: str, prefixes: tuple[str, ...], machine: Environment,
          findings: tuple[Finding, ...]) -> dict[str, str]:
    worst = max((f.severity for f in findings if f.code.startswith(prefixes)), default=None)
    status = {None: "ok", Severity.INFO: "ok", Severity.WARNING: "warning",
              Severity.ERROR: "error"}[worst]
    return {"area": name, "status": status, "summary": summarize(name, machine)}
