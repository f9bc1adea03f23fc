"""resolve -> read -> checks -> report: the one path every check command takes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from whyload.env import Environment, collect
from whyload.env.summary import environment_facts, summarize
from whyload.errors import TargetError
from whyload.readers.inventory import Inventory
from whyload.readers.sniff import Kind
from whyload.registry import run_checks, validate_patterns
from whyload.report import Finding, Report, Severity
from whyload.resolve import Artifact, resolve
from whyload.snapshot import LoadPlan, Options, Snapshot, declared_format, take_snapshot


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
) -> Report:
    """Diagnose a model folder, weights file or cached hub id without loading it.

    Reads headers and JSON only: never a tensor, never a pickle, never torch or transformers.
    `model_class` is the class the model will be loaded into (default: the config's
    `architectures`, else AutoModel). `deep` asks transformers itself, on the meta device in a
    child process, what classes outside the BERT-family spec expect. `device` and `dtype` say
    how it will be loaded; `python` is the interpreter that will load it (default: this one);
    `environment` replaces this machine's facts (whyload.env.collect).
    Raises TargetError when there is nothing to examine; every problem with the model itself is
    a Finding in the returned Report.
    """
    validate_patterns([*select, *ignore])
    t0 = time.perf_counter()
    artifact = resolve(str(target), revision)
    t1 = time.perf_counter()
    snapshot = take_snapshot(artifact, Options(model_class=model_class, deep=deep,
                                               device=device, dtype=dtype, python=python),
                             environment)
    _refuse_a_file_that_is_no_model_file(artifact, snapshot)
    t2 = time.perf_counter()
    findings, skipped = run_checks(snapshot, select=select, ignore=ignore)
    t3 = time.perf_counter()
    return Report(
        command="check",
        target=str(target),
        resolved=artifact.describe(),
        findings=findings,
        skipped=skipped,
        facts=snapshot.facts(),
        timings={"resolve_s": round(t1 - t0, 6), "read_s": round(t2 - t1, 6),
                 "checks_s": round(t3 - t2, 6), "total_s": round(t3 - t0, 6)},
    )


def _refuse_a_file_that_is_no_model_file(artifact: Artifact, snapshot: Snapshot) -> None:
    """A single file named like no model file whose bytes are no model format either (a log,
    notes, a script) is not a target: saying "loads" about it would be wrong."""
    if artifact.how != "file" or not artifact.focus:
        return
    facts = snapshot.file(artifact.focus)
    if facts is None or declared_format(artifact.focus) is not None or facts.kind not in (
            Kind.TEXT, Kind.UNKNOWN, Kind.EMPTY, Kind.ZEROS):
        return
    hint = (f"a log? whyload explain {artifact.target}" if facts.kind is Kind.TEXT else
            "point whyload at the model folder or its weights file")
    raise TargetError(artifact.target, f"{artifact.target} is not a model file (weights, "
                      "config.json or a shard index)", hint=hint)


# `whyload env`: one line per area, then the findings; codes in each area's range set its mark
AREAS = (("runtime", ("WL540",)), ("torch", ("WL510", "WL515")),
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
