"""`with whyload.load(path) as model:` — a real load in this process, with its guard rails.

    with whyload.load("./my-bert", "AutoModelForSequenceClassification",
                      allow_random=("classifier.*",)) as model:
        ...

1. preflight: `whyload.check` with the same class, device and dtype; a model check says
   fails (a broken file, a config that contradicts the weights, more memory than this machine
   or container has) is refused before anything is read: PreflightRefused.
2. the load: `from_pretrained(output_loading_info=True)`; an exception becomes LoadFailed, with
   the knowledge table's findings, its cause chained.
3. weights left at random (transformers' missing keys, and mismatched ones when
   ignore_mismatched_sizes=True) are refused unless every name matches a pattern of
   `allow_random` (fnmatch globs): RandomWeightsRefused.
4. on exit the parameters are moved to the meta device (the `model` name after the block is
   an empty shell), the model is dropped, gc.collect() runs, freed heap is handed back to the
   OS, and the CUDA cache is emptied when CUDA was used.

Every exception carries the Report (`exc.report`) that says why.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import sys
import time
import traceback
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from whyload.errors import LoadFailed, PreflightRefused, RandomWeightsRefused, UsageError
from whyload.pipeline import check
from whyload.probe.child import model_class_named
from whyload.probe.load import (
    load_class_name,
    load_facts,
    refuse_a_file_that_is_not_the_model,
)
from whyload.probe.observed import observed_findings
from whyload.probe.sandbox import ChildExit
from whyload.registry import sort_findings
from whyload.report import Report, Verdict


def _random_weights(info: dict[str, Any]) -> list[str]:
    mismatched = [str(m["key"]) for m in info.get("mismatched_keys") or ()]
    return sorted({str(k) for k in info.get("missing_keys") or ()} | set(mismatched))


def _free_heap() -> None:
    """Return freed malloc arenas to the OS, so RSS shows the release (glibc only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _torch_dtype(torch: Any, dtype: Any) -> Any:
    """A dtype given by name ('float16', 'torch.bfloat16', 'auto') as from_pretrained takes it;
    UsageError for a name torch has no dtype for."""
    if not isinstance(dtype, str) or dtype == "auto":
        return dtype
    value = getattr(torch, dtype.removeprefix("torch."), None)
    if not isinstance(value, torch.dtype):
        raise UsageError(f"dtype={dtype!r} is not a torch dtype",
                         hint="use float32, float16, bfloat16 (or a torch.dtype, or 'auto')")
    return value


class GuardedLoad:
    """The context manager `whyload.load` returns; `report` describes the load once entered."""

    def __init__(self, path: str, cls: str | type | None = None, *,
                 allow_random: Sequence[str] = (), device: str = "cpu",
                 dtype: Any = None, **kwargs: Any) -> None:
        self.path = str(path)
        self.cls = cls
        self.allow_random = (allow_random,) if isinstance(allow_random, str) else \
            tuple(allow_random)
        self.device = device
        self.dtype = dtype
        self.kwargs = kwargs
        self.model: Any = None
        self.report: Report | None = None

    def _class_name(self) -> str | None:
        """The class check predicts for: a name as given, or transformers' own class; a class
        of the caller's own (a PreTrainedModel subclass transformers does not ship) is loaded
        as given, and check predicts for the config's architectures."""
        if self.cls is None or isinstance(self.cls, str):
            return self.cls
        if str(getattr(self.cls, "__module__", "")).startswith("transformers."):
            return str(self.cls.__name__)
        return None

    def _dtype_name(self) -> str | None:
        return None if self.dtype is None else str(self.dtype).removeprefix("torch.")

    def __enter__(self) -> Any:
        t0 = time.perf_counter()
        static = check(self.path, model_class=self._class_name(), device=self.device,
                       dtype=self._dtype_name())
        refuse_a_file_that_is_not_the_model(static)
        if static.verdict is Verdict.FAILS:
            first = next(f for f in static.findings if f.effect.value == "raises")
            raise PreflightRefused(f"{self.path}: refused before loading: {first.title}",
                                   static, hint=first.fix)
        result = self._load(str(static.resolved.get("path", self.path)), static)
        random = _random_weights(result["loading_info"])
        refused = [k for k in random
                   if not any(fnmatch.fnmatchcase(k, p) for p in self.allow_random)]
        self.report = self._report(ChildExit(outcome="loaded", returncode=None, result=result,
                                             wall_s=round(time.perf_counter() - t0, 3)),
                                   static)
        if refused:
            self._release()
            raise RandomWeightsRefused(
                f"{self.path}: {len(refused)} weights would be random: "
                f"{', '.join(refused[:5])}{' …' if len(refused) > 5 else ''}",
                self.report, refused)
        return self.model

    def _load(self, path: str, static: Report) -> dict[str, Any]:
        import torch
        import transformers

        cls = self.cls if self.cls is not None else load_class_name(static)
        kwargs = {"trust_remote_code": False, **self.kwargs, "output_loading_info": True}
        if self.dtype is not None:
            kwargs["dtype"] = _torch_dtype(torch, self.dtype)
        try:
            model_cls: Any = model_class_named(transformers, cls) if isinstance(cls, str) else cls
            model, info = model_cls.from_pretrained(path, **kwargs)
            self.model = model if self.device == "cpu" else model.to(self.device)
        except Exception as exc:
            result = {"exception": {"type": type(exc).__name__, "message": str(exc),
                                    "traceback": "".join(traceback.format_exception(exc))}}
            self.report = self._report(ChildExit(outcome="exception", returncode=None,
                                                 result=result), static)
            raise LoadFailed(f"{self.path}: from_pretrained raised {type(exc).__name__}: "
                             f"{str(exc)[:300]}", self.report) from exc
        prefix = getattr(model, "base_model_prefix", "") or ""
        return {
            "outcome": "loaded",
            "model_class": type(model).__name__,
            "base_model_prefix": prefix,
            "is_base_model": not (prefix and hasattr(model, prefix)),
            "loading_info": {
                "missing_keys": sorted(info.get("missing_keys") or ()),
                "unexpected_keys": sorted(info.get("unexpected_keys") or ()),
                "mismatched_keys": [{"key": k, "checkpoint": list(a), "model": list(b)}
                                    for k, a, b in sorted(info.get("mismatched_keys") or ())],
            },
        }

    def _report(self, ended: ChildExit, static: Report) -> Report:
        return Report(command="load", target=self.path, resolved=static.resolved,
                      findings=tuple(sort_findings(observed_findings(ended, static))),
                      facts={**load_facts(ended, static), "in_process": True},
                      timings={"total_s": ended.wall_s})

    def _release(self) -> None:
        model, self.model = self.model, None
        if model is None:
            return
        import torch

        cuda = torch.cuda.is_available() and torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
        # frees every parameter and buffer, even while the caller still names `model`; a model
        # that cannot move is only dropped
        with contextlib.suppress(Exception):
            model.to("meta")
        del model
        gc.collect()
        _free_heap()
        if cuda:
            torch.cuda.empty_cache()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._release()


def load(path: str, cls: str | type | None = None, *, allow_random: Sequence[str] = (),
         device: str = "cpu", dtype: Any = None, **kwargs: Any) -> GuardedLoad:
    """Load a model in this process behind whyload's guard rails (see the module docstring):
    `with whyload.load(path, cls, allow_random=("classifier.*",)) as model: ...`.
    `kwargs` go to from_pretrained. Raises PreflightRefused, LoadFailed or
    RandomWeightsRefused, each with `.report`."""
    return GuardedLoad(path, cls, allow_random=allow_random, device=device, dtype=dtype,
                       **kwargs)
