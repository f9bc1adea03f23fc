"""resolve -> read -> checks -> report: the one path every check command takes."""

from __future__ import annotations

import time
from collections.abc import Sequence

from whyload.registry import run_checks, validate_patterns
from whyload.report import Report
from whyload.resolve import resolve
from whyload.snapshot import Options, take_snapshot


def check(
    target: str = ".",
    *,
    revision: str | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    model_class: str | None = None,
    deep: bool = False,
) -> Report:
    """Diagnose a model folder, weights file or cached hub id without loading it.

    Reads headers and JSON only: never a tensor, never a pickle, never torch or transformers.
    `model_class` is the class the model will be loaded into (default: the config's
    `architectures`, else AutoModel). `deep` asks transformers itself, on the meta device in a
    child process, what classes outside the BERT-family spec expect.
    Raises TargetError when there is nothing to examine; every problem with the model itself is
    a Finding in the returned Report.
    """
    validate_patterns([*select, *ignore])
    t0 = time.perf_counter()
    artifact = resolve(str(target), revision)
    t1 = time.perf_counter()
    snapshot = take_snapshot(artifact, Options(model_class=model_class, deep=deep))
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
