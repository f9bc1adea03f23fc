"""`whyload load`: the real from_pretrained, isolated in a child process, beside what `check`
predicted. whyload's own process never imports torch or transformers here."""

from __future__ import annotations

import math
import time
from typing import Any

from whyload.env.interpreter import Interpreter, target_interpreter, this_interpreter
from whyload.pipeline import check
from whyload.probe.child import LoadRequest
from whyload.probe.observed import observed_findings
from whyload.probe.sandbox import ChildExit, run_child
from whyload.registry import sort_findings
from whyload.report import Report
from whyload.snapshot import read_by_from_pretrained

FACT_KEYS = ("class", "model_class", "dtype", "parameters", "load_s", "versions", "executable")


def run_load(target: str, *, model_class: str | None = None, dtype: str | None = None,
             device: str = "cpu", device_map: str | None = None, timeout_s: float = 600.0,
             memory_limit: int | None = None, trust_remote_code: bool = False,
             revision: str | None = None, python: str | None = None) -> Report:
    """Load `target` for real in a child process capped at `memory_limit` bytes of resident
    memory and `timeout_s` seconds, and report what happened: how the child ended ("outcome":
    loaded, exception, killed_oom, signal, timeout), the keys transformers reported missing,
    unexpected or mismatched, its warnings, the peak RSS and wall time, and a finding for each
    cause. `check`'s static verdict is in facts["static"]. `python` is the interpreter that
    loads it (whyload.env.interpreter decides the default). Raises TargetError when there is
    nothing to load (as `check` does), UsageError for a limit that is not a positive number or
    an interpreter that does not exist or is no Python."""
    from whyload.errors import UsageError

    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise UsageError(f"timeout_s must be a positive number of seconds, not {timeout_s}")
    if memory_limit is not None and memory_limit <= 0:
        raise UsageError(f"memory_limit must be a positive number of bytes, not {memory_limit}")
    t0 = time.perf_counter()
    interpreter = target_interpreter(python)
    static = check(target, revision=revision, model_class=model_class, device=device,
                   dtype=dtype, python=python)
    refuse_a_file_that_is_not_the_model(static)
    t1 = time.perf_counter()
    request = LoadRequest(path=str(static.resolved.get("path", target)),
                          model_class=load_class_name(static),
                          dtype=dtype, device=device, device_map=device_map,
                          trust_remote_code=trust_remote_code)
    ended = run_child("whyload.probe.child", request.to_json(), timeout_s=timeout_s,
                      memory_limit=memory_limit, python=interpreter.path)
    t2 = time.perf_counter()
    return Report(
        command="load",
        target=str(target),
        resolved=static.resolved,
        findings=tuple(sort_findings(observed_findings(ended, static))),
        facts=load_facts(ended, static, interpreter),
        timings={"check_s": round(t1 - t0, 6), "load_s": round(t2 - t1, 6),
                 "total_s": round(t2 - t0, 6)},
    )


def load_class_name(static: Report) -> str:
    """The class check decided the model loads with (facts["load_class"]): the real load uses
    the same one, so prediction and reality are about one class."""
    chosen = static.facts.get("load_class")
    name = chosen.get("name") if isinstance(chosen, dict) else None
    return name if isinstance(name, str) and name else "AutoModel"


def refuse_a_file_that_is_not_the_model(static: Report) -> None:
    """from_pretrained reads a folder: for a file target the folder around it is loaded, which
    is the user's model only when the file is its weights, config or shard index."""
    from whyload.errors import TargetError

    name = str(static.resolved.get("file") or "")
    if static.resolved.get("how") != "file" or not name or read_by_from_pretrained(name):
        return
    folder = str(static.resolved.get("path", ""))
    raise TargetError(name, f"{name} is not a weights file or config.json: loading it would load "
                      f"whatever model the folder {folder} holds",
                      hint=f"give the model folder (whyload load {folder}) or its weights file")


def load_facts(ended: ChildExit, static: Report,
               interpreter: Interpreter | None = None) -> dict[str, Any]:
    """How the child ended and what it loaded, in which interpreter (None: this process),
    beside check's verdict."""
    interpreter = interpreter or this_interpreter()
    result = ended.result
    info: dict[str, Any] = result.get("loading_info") or {}
    facts: dict[str, Any] = {
        "outcome": ended.outcome,
        "interpreter": {"path": interpreter.path, "chosen_by": interpreter.chosen_by},
        "static": {"verdict": static.verdict.value, "codes": static.codes()},
        "returncode": ended.returncode,
        "signal": ended.signal,
        "peak_rss": ended.peak_rss,
        "memory_limit": ended.memory_limit,
        "wall_s": ended.wall_s,
        "missing_keys": info.get("missing_keys", []),
        "unexpected_keys": info.get("unexpected_keys", []),
        "mismatched_keys": info.get("mismatched_keys", []),
        "warnings": result.get("warnings", []),
        **{k: result[k] for k in FACT_KEYS if k in result},
    }
    if ended.oom_by:
        facts["oom_by"] = ended.oom_by
    if "exception" in result:
        facts["exception"] = result["exception"]
    return facts
