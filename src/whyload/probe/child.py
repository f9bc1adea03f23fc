"""The child process of `whyload load`: one real `from_pretrained`, reported as JSON.

    python -m whyload.probe.child REQUEST.json RESULT.json

It needs nothing but the stdlib, torch and transformers, and runs on Python 3.8 and later: the
sandbox runs it in the interpreter that will load the model, which need not have whyload.

REQUEST.json holds a LoadRequest; the child writes a JSON object to RESULT.json (through a
temporary name, so a child killed mid-write leaves no half result) and exits 0 whether or not
the load worked: how the load ended is in the result, how the process ended is the parent's to
see. JSON both ways, never pickle. The sandbox (probe/sandbox.py) caps memory and time.

What the result holds:
    outcome          "loaded" or "exception"
    class            the class loaded into; base_model_prefix; is_base_model
    loading_info     missing / unexpected / mismatched keys, as transformers reported them
                     (captured even when transformers raises after its report)
    exception        {"type", "message", "traceback"} when the load raised
    warnings         Python warnings and transformers' log records (warning and above)
    peak_rss         ru_maxrss of the child, in bytes; load_s: from_pretrained's wall time
    executable       the interpreter the load ran in
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_TEXT = 20_000  # characters kept of a message or a traceback
MAX_RECORDS = 200  # warnings and log records kept
MAX_KEYS = 500  # keys kept per list of the loading report
EXIT_ORPHANED = 3  # the parent went away: nobody reads the result


@dataclass(frozen=True)  # not kw_only: the child also runs on Python 3.8 and 3.9 (load --python)
class LoadRequest:
    """What the parent asks the child to load, and how."""

    path: str  # a folder: a hub id's revision is resolved in the cache before the child starts
    model_class: str | None = None
    dtype: str | None = None
    device: str = "cpu"
    device_map: str | None = None
    trust_remote_code: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LoadRequest:
        data = json.loads(text)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class _Records(logging.Handler):
    """Collects transformers' log records (its loading report is a warning)."""

    def __init__(self, into: list[dict[str, str]]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.into) < MAX_RECORDS:
            self.into.append({"source": "logging", "level": record.levelname.lower(),
                              "message": _clip(_strip_ansi(record.getMessage()))})


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " …"


def _keys(values: Any) -> list[Any]:
    return sorted(values, key=str)[:MAX_KEYS]


def _capture_loading_info(into: dict[str, Any]) -> None:
    """Wrap transformers' loading-report logger, so the keys are known even when it raises
    (a size mismatch is logged in the report, then raised without the shapes)."""
    from transformers import modeling_utils

    original: Callable[..., Any] | None = getattr(modeling_utils, "log_state_dict_report", None)
    if original is None:  # transformers 4 has no report function: output_loading_info's keys
        return            # (after a load that returns) are all there is

    def recording(*args: Any, **kwargs: Any) -> Any:
        loading_info = kwargs.get("loading_info", args[3] if len(args) > 3 else None)
        if loading_info is not None:
            into.update(
                missing_keys=_keys(loading_info.missing_keys),
                unexpected_keys=_keys(loading_info.unexpected_keys),
                mismatched_keys=[{"key": k, "checkpoint": list(a), "model": list(b)}
                                 for k, a, b in _keys(loading_info.mismatched_keys)],
                error_msgs=[_clip(str(m)) for m in loading_info.error_msgs][:20],
            )
        return original(*args, **kwargs)

    setattr(modeling_utils, "log_state_dict_report", recording)  # noqa: B010


def _version_of(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _model_class(request: LoadRequest, transformers: Any) -> Any:
    """The class the parent chose (check's facts["load_class"]), never one chosen here."""
    return model_class_named(transformers, request.model_class or "AutoModel")


def model_class_named(transformers: Any, name: str) -> Any:
    """transformers' model class `name`; ValueError (in words the knowledge table names WL440)
    when there is none or it builds no model."""
    cls = getattr(transformers, name, None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        raise ValueError(f"transformers {transformers.__version__} has no model class {name!r}")
    if not is_model_class(cls, transformers):
        raise ValueError(f"transformers {transformers.__version__} has no model class {name!r}: "
                         f"{name} is not a model (a tokenizer, config or processor class?)")
    return cls


def is_model_class(cls: Any, transformers: Any) -> bool:
    """Whether `cls` builds a model: a PreTrainedModel, or an AutoModel* class."""
    return isinstance(cls, type) and (issubclass(cls, transformers.PreTrainedModel)
                                      or cls.__name__.startswith("AutoModel"))


def load(request: LoadRequest) -> dict[str, Any]:
    """Run the load and describe it; exceptions become part of the result."""
    result: dict[str, Any] = {"outcome": "exception", "warnings": [], "loading_info": {},
                              "executable": sys.executable}
    records: list[dict[str, str]] = result["warnings"]
    handler = _Records(records)
    caught: list[warnings.WarningMessage] = []
    started = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import torch
            import transformers

            logging_utils: Any = transformers.utils.logging
            logging_utils.disable_progress_bar()
            logging.getLogger("transformers").addHandler(handler)
            result["versions"] = {"torch": torch.__version__,
                                  "transformers": transformers.__version__,
                                  "accelerate": _version_of("accelerate")}
            result["device_map"] = request.device_map
            _capture_loading_info(result["loading_info"])
            cls = _model_class(request, transformers)
            result["class"] = cls.__name__
            kwargs: dict[str, Any] = {"output_loading_info": True,
                                      "trust_remote_code": request.trust_remote_code}
            if request.dtype:
                kwargs["dtype"] = getattr(torch, request.dtype)
            if request.device_map:
                kwargs["device_map"] = request.device_map
            t0 = time.perf_counter()
            model, info = cls.from_pretrained(request.path, **kwargs)
            if request.device != "cpu" and not request.device_map:
                model = model.to(request.device)
            result["load_s"] = round(time.perf_counter() - t0, 3)
            result["loading_info"].update(
                missing_keys=_keys(info.get("missing_keys", ())),
                unexpected_keys=_keys(info.get("unexpected_keys", ())),
            )
            if "mismatched_keys" not in result["loading_info"]:  # transformers 4: only here
                result["loading_info"]["mismatched_keys"] = [
                    {"key": k, "checkpoint": list(a), "model": list(b)}
                    for k, a, b in _keys(info.get("mismatched_keys", ()))]
            prefix = getattr(model, "base_model_prefix", "") or ""
            result.update(
                outcome="loaded",
                model_class=type(model).__name__,
                base_model_prefix=prefix,
                is_base_model=not (prefix and hasattr(model, prefix)),
                parameters=sum(p.numel() for p in model.parameters()),
                dtype=str(next(model.parameters()).dtype).rpartition(".")[2],
            )
    except BaseException as exc:  # everything the load raises is the answer
        result["exception"] = {
            "type": type(exc).__name__,
            "module": type(exc).__module__,
            "message": _clip(str(exc)),
            "traceback": _clip("".join(traceback.format_exception(type(exc), exc,
                                                                   exc.__traceback__))),
        }
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    for w in caught:
        if len(records) < MAX_RECORDS:
            records.append({"source": "warnings", "level": w.category.__name__,
                            "message": _clip(str(w.message))})
    result["wall_s"] = round(time.perf_counter() - started, 3)
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def _exit_with_parent(poll_s: float = 0.5) -> None:
    """End this process once whyload, its parent, is gone (SIGTERM, SIGKILL): it runs in a
    session of its own, so nothing else would stop a load that nobody waits for."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="whyload-parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    _exit_with_parent()
    request = LoadRequest.from_json(Path(argv[0]).read_text())
    result = load(request)
    target = Path(argv[1])
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(result, default=str))
    os.replace(partial, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
