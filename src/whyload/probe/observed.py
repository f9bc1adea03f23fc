"""What a real load showed, as findings: one for each cause, beside the static verdict.

A cause that a static check names keeps that check's code (WL401 head at random, WL402 base
weights missing, WL403 unused weights, WL404 shape mismatch, WL510 CUDA on a CPU-only torch);
when `check` saw it too, its wording and fix are kept and what the load observed is added to
the evidence. An exception is explained by the one knowledge table (whyload.logs).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from whyload.checks import loading
from whyload.probe.sandbox import ChildExit
from whyload.registry import Problem, stamp
from whyload.report import Effect, Finding, Report, Severity

GB = 1e9


def _gb(n: float) -> str:
    if n < GB / 10:
        return f"{n / 2**20:.1f} MB"
    return f"{n / GB:.2f} GB"


def _sample(keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" and {len(keys) - n} more" if len(keys) > n else "")


def _observe(static: Report, code: str, observed: dict[str, Any],
             fallback: Callable[[], Problem]) -> Finding:
    """The static finding for `code` with what the load saw added, else a new one."""
    seen = static.by_code(code)
    if seen:
        return dataclasses.replace(seen[0], evidence={**seen[0].evidence, **observed})
    new = stamp(code, fallback())
    return dataclasses.replace(new, evidence={**new.evidence, **observed})


def error_text(exc: dict[str, Any]) -> str:
    """The exception as a log shows it: the traceback, ending in 'Type: message'."""
    trace = str(exc.get("traceback") or "")
    last = f"{exc.get('type')}: {exc.get('message')}"
    return trace if trace.strip().endswith(last.strip()) else f"{trace}\n{last}".strip()


def explain_error(text: str) -> tuple[Finding, ...]:
    """The knowledge table's findings for an error text; none while whyload.logs is absent."""
    try:
        explain: Any = importlib.import_module("whyload.logs")
    except ImportError:
        return ()
    diagnose_error = getattr(explain, "diagnose_error", None)
    if diagnose_error is None:
        return ()
    try:
        return tuple(diagnose_error(text))
    except Exception:  # a bug in the table must not hide what the load showed
        return ()


def key_findings(exit_: ChildExit, static: Report) -> Iterator[Finding]:
    """Missing, unexpected and mismatched keys as transformers reported them."""
    info: dict[str, Any] = exit_.result.get("loading_info") or {}
    cls = str(exit_.result.get("model_class") or exit_.result.get("class") or "the model")
    prefix = str(exit_.result.get("base_model_prefix") or "")
    mismatched = list(info.get("mismatched_keys") or [])
    missing = [str(k) for k in info.get("missing_keys") or []]
    if exit_.outcome == "loaded":  # ignore_mismatched_sizes=True: those start at random too
        missing = sorted({*missing, *(str(m.get("key")) for m in mismatched)})
        mismatched = []
    is_base = bool(exit_.result.get("is_base_model", True))
    head = [k for k in missing if not is_base and prefix and not k.startswith(prefix + ".")]
    base = [k for k in missing if k not in head]
    if head:
        yield _observe(static, "WL401", {"observed_missing": head[:50]}, lambda: Problem(
            effect=Effect.SILENT,
            title=f"the load created {cls}'s head at random: {_sample(head)}",
            detail="transformers reported these weights as newly initialized: the model loads "
            "and its head's outputs are random.",
            evidence={"class": cls},
            fix="load the checkpoint that has the head, or fine-tune before inference "
            "(whyload.load(..., allow_random=('classifier.*',)) accepts it on purpose)"))
    if base:
        yield _observe(static, "WL402", {"observed_missing": base[:50]}, lambda: Problem(
            effect=Effect.SILENT,
            title=f"{len(base)} weights of the base model were initialized at random: "
            f"{_sample(base)}",
            detail="transformers reported them missing from the checkpoint; the model loads "
            "with random values there.",
            evidence={"class": cls, "count": len(base)},
            fix="whyload check on the folder names the file or prefix the weights are under"))
    unexpected = [str(k) for k in info.get("unexpected_keys") or []]
    if unexpected:
        yield _observe(static, "WL403", {"observed_unexpected": unexpected[:50]}, lambda: Problem(
            severity=Severity.WARNING, effect=Effect.NONE,
            title=f"{len(unexpected)} weights in the checkpoint were not used: "
            f"{_sample(unexpected)}",
            detail=f"{cls} has no place for them; transformers dropped them on load.",
            evidence={"class": cls, "count": len(unexpected)},
            fix="load the class the checkpoint was saved from (config.json's architectures)"))
    if mismatched:
        yield _observe(static, "WL404", {"observed_mismatched": mismatched[:50]}, lambda: Problem(
            effect=Effect.RAISES,
            title=f"{len(mismatched)} weights have another shape than {cls} expects: "
            f"{_sample([str(m.get('key')) for m in mismatched])}",
            detail="transformers raised after its loading report: "
            + "; ".join(f"{m.get('key')} {m.get('checkpoint')} in the checkpoint, "
                        f"{m.get('model')} in the model" for m in mismatched[:3]),
            evidence={"class": cls},
            fix=_mismatch_fix(static)))


def _mismatch_fix(static: Report) -> str:
    """A quantized checkpoint's weights must never be re-initialized at random to get past a
    mismatch: ignore_mismatched_sizes=True would do exactly that to the packed ones."""
    quantized = static.facts.get("quantization")
    if isinstance(quantized, dict):
        return ("make config.json match the weights (whyload check names the value); never pass "
                "ignore_mismatched_sizes=True to a quantized checkpoint "
                f"({quantized.get('method')}): it replaces quantized weights with random ones")
    return ("make config.json match the weights (whyload check names the value), or pass "
            "ignore_mismatched_sizes=True to start those weights at random on purpose")


def end_findings(exit_: ChildExit, static: Report) -> Iterator[Finding]:
    """How the process ended, when it did not end with a result of its own."""
    predicted = (static.facts.get("predicted_peak") or {}).get("host_bytes")
    if exit_.outcome == "killed_oom":
        limit = exit_.memory_limit
        yield stamp(loading.LOAD_OUT_OF_MEMORY, Problem(
            title=f"the load ran out of memory at {_gb(exit_.peak_rss)}"
            + (f" under a {_gb(limit)} cap" if limit else ""),
            detail={"watchdog": "Its resident memory passed the cap; it was killed with "
                    "SIGKILL, as a container's OOM killer would (exit 137).",
                    "SIGKILL": "It was killed with SIGKILL (exit 137): the kernel's OOM "
                    "killer, most likely."}.get(str(exit_.oom_by), f"It raised {exit_.oom_by}.")
            + (f" check predicted a loading peak of {_gb(predicted)}." if predicted else ""),
            evidence={"peak_rss": exit_.peak_rss, "memory_limit": limit, "oom_by": exit_.oom_by,
                      "predicted_peak": predicted},
            fix="give the load more memory (docker run --memory), load with "
            "dtype=torch.float16 or device_map='auto', or convert .bin weights to safetensors"))
    elif exit_.outcome == "timeout":
        yield stamp(loading.LOAD_TIMEOUT, Problem(
            title=f"the load did not finish in {exit_.wall_s:.3g} s; it was killed",
            detail="The child process group was killed with SIGKILL at the time limit.",
            evidence={"wall_s": exit_.wall_s, "peak_rss": exit_.peak_rss},
            fix="whyload load --timeout with a longer limit; check the disk (a network mount?) "
            "and whether the machine is swapping"))
    elif exit_.outcome == "signal":
        yield stamp(loading.LOAD_SIGNAL, Problem(
            title=f"the load process died from {exit_.signal}",
            detail=f"Exit status {exit_.returncode}: native code crashed while loading. "
            + (exit_.stderr_tail.strip().splitlines() or [""])[-1][:300],
            evidence={"signal": exit_.signal, "returncode": exit_.returncode,
                      "stderr_tail": exit_.stderr_tail[-2000:]},
            fix="whyload env (a torch build that does not match this machine?); whyload verify "
            "on the folder (a file changed or corrupt under mmap?)"))


def install_command(static: Report, *requirements: str) -> str:
    """pip install into the interpreter the load ran in (check's facts["interpreter"])."""
    from whyload.env import pip_install_command

    interpreter = static.facts.get("interpreter")
    if not isinstance(interpreter, dict) or not isinstance(interpreter.get("path"), str):
        return pip_install_command("python", True, *requirements)
    return pip_install_command(interpreter["path"], bool(interpreter.get("has_pip", True)),
                               *requirements)


def exception_findings(exit_: ChildExit, static: Report) -> Iterator[Finding]:
    exc: dict[str, Any] = exit_.result.get("exception") or {}
    message = str(exc.get("message") or "")
    versions: dict[str, Any] = exit_.result.get("versions") or {}
    if exit_.result.get("device_map") and "accelerate" in versions \
            and versions["accelerate"] is None and "accelerate" in message:
        yield stamp(loading.DEVICE_MAP_NEEDS_ACCELERATE, Problem(
            title=f"device_map={exit_.result['device_map']!r} needs accelerate, which is not "
            "installed here",
            detail=f"from_pretrained raised {exc.get('type')}: {message.splitlines()[0][:300]}"
            if message else "",
            evidence={"device_map": exit_.result["device_map"], "exception": exc.get("type")},
            fix=f"{install_command(static, 'accelerate')}, or load without device_map (then "
            "model.to(device))"))
    if exc.get("type") == "ChildProcessError":
        yield stamp(loading.LOAD_NO_RESULT, Problem(
            title="the load process exited without a result",
            detail=str(exc.get("message") or ""),
            evidence={"returncode": exit_.returncode, "stderr_tail": exit_.stderr_tail[-2000:]},
            fix="run it by hand to see the error: python -m whyload.probe.child"))
        return
    if exc.get("type") == "ValueError" and "has no model class" in message:
        yield stamp(loading.CLASS_NOT_FOUND, Problem(
            title=message,
            detail="The class is looked up in the installed transformers by name.",
            evidence={"class": exit_.result.get("class"), "exception": message},
            fix="pass --class with an existing class (AutoModel, AutoModelForSequenceClassification"
            ", …), or upgrade transformers"))
        return
    yield from explain_error(error_text(exc))


def _static_causes(static: Report, effect: Effect) -> list[Finding]:
    return [dataclasses.replace(f, evidence={**f.evidence, "seen_by": "check"})
            for f in static.findings if f.severity is Severity.ERROR and f.effect is effect]


def observed_findings(exit_: ChildExit, static: Report) -> list[Finding]:
    """One finding for each cause of what happened, observed ones first, then the static
    findings that explain the same end (errors that raise when the load raised, silent ones
    when it loaded)."""
    found: list[Finding] = [*end_findings(exit_, static), *key_findings(exit_, static)]
    if exit_.outcome == "exception":
        found.extend(exception_findings(exit_, static))
        found.extend(_static_causes(static, Effect.RAISES))
        if not any(f.severity is Severity.ERROR for f in found):
            exc: dict[str, Any] = exit_.result.get("exception") or {}
            first_line = (str(exc.get("message") or "").splitlines() or [""])[0][:200]
            found.append(stamp(loading.LOAD_RAISED, Problem(
                title=f"from_pretrained raised {exc.get('type')}: {first_line}",
                detail="No known cause matches this error, and whyload check found none.",
                evidence={"type": exc.get("type"), "message": exc.get("message"),
                          "traceback": str(exc.get("traceback") or "")[-4000:]},
                fix="whyload explain on the traceback; please report it if it stays unexplained")))
    elif exit_.outcome == "loaded":
        found.extend(_static_causes(static, Effect.SILENT))
    return _first_per_code(found)


def _first_per_code(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[str] = set()
    kept: list[Finding] = []
    for f in findings:
        if f.code not in seen:
            seen.add(f.code)
            kept.append(f)
    return kept
