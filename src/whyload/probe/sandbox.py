"""Run the load child with a memory cap and a time limit, and say how it ended.

The memory cap counts what a container's limit counts: the resident memory of the child and
its descendants. A watchdog samples it every few milliseconds and kills the whole process group
with SIGKILL once it passes the cap: the same end as the kernel's OOM killer in a container
(exit 137). The cap is on the resident set, not on the address space, because torch and
transformers reserve far more address space than they touch: a tiny BERT load has VmPeak
1.1 GB for VmHWM 0.45 GB here, and under RLIMIT_AS 700 MB `import torch` fails, under 800 MB
the child spins instead of failing (benchmarks/load_sandbox.py, docs/benchmarks-load.md).
RLIMIT_AS is only the backstop for an allocation that jumps past the cap between two samples,
set at the cap plus ADDRESS_SPACE_MARGIN; the child then raises MemoryError (or an allocator
error), which counts as out of memory too. No cgroup is created: that needs a delegated
cgroup v2 subtree, which an unprivileged process seldom has (this machine has cgroup v1).

The timeout kills the process group too, so nothing the child started survives it.

The child runs in the interpreter that will load the model (`whyload load --python`), started
by probe/launch.py so that it needs no whyload there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whyload.errors import MissingExtra
from whyload.probe.launch import launch_command

if TYPE_CHECKING:
    import psutil  # type: ignore[import-untyped]

# address space torch and glibc reserve beyond what they touch: 2 GiB, plus malloc's arenas
# (up to 8 per CPU, 64 MiB of address space each)
ADDRESS_SPACE_MARGIN = 2 * 2**30 + 8 * 64 * 2**20 * (os.cpu_count() or 1)
POLL_S = 0.01
MAX_RESULT_BYTES = 16 * 2**20
STDERR_TAIL = 8_000
_OOM_TEXT = re.compile(r"can't allocate memory|Cannot allocate memory|out of memory|"
                       r"failed to map segment|std::bad_alloc|DefaultCPUAllocator", re.I)


@dataclass(frozen=True, kw_only=True)
class ChildExit:
    """How the child ended: its own report when it wrote one, else what the parent saw."""

    outcome: str  # loaded | exception | killed_oom | signal | timeout
    returncode: int | None
    signal: str | None = None
    peak_rss: int = 0  # bytes, the most the watchdog saw or the child reported
    wall_s: float = 0.0
    memory_limit: int | None = None
    oom_by: str | None = None  # "watchdog", "MemoryError", "SIGKILL"
    result: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""


def _address_space_cap(limit: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        cap = limit + ADDRESS_SPACE_MARGIN
        # a cap beyond what the kernel takes, or above a hard limit set already, is left to the
        # watch on resident memory
        with contextlib.suppress(ValueError, OSError, OverflowError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return apply


def _tree_rss(proc: psutil.Process) -> int:
    import psutil  # the load extra's; run_child has checked it is there

    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def child_env() -> dict[str, str]:
    """The child's environment: offline, quiet, no tokenizer threads, and every torch.load
    made weights_only=True whatever its caller asks (torch >= 2.4 honours the variable)."""
    env = {k: v for k, v in os.environ.items() if k != "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"}
    return {**env, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1",
            "TORCH_FORCE_WEIGHTS_ONLY_LOAD": "1"}


def run_child(module: str, request_json: str, *, timeout_s: float,
              memory_limit: int | None = None, extra_args: Sequence[str] = (),
              python: str = sys.executable) -> ChildExit:
    """Run `module` as `python -m module REQUEST RESULT` would, in the interpreter `python`,
    under the caps; never raises for what the child does (OSError only when it cannot be
    started at all). MissingExtra when psutil, which watches the child, is not installed."""
    MissingExtra.check("whyload load", ["psutil"], "torch")
    with tempfile.TemporaryDirectory(prefix="whyload-load-") as tmp:
        request, result, stderr = (Path(tmp) / n for n in ("request.json", "result.json",
                                                           "stderr.log"))
        request.write_text(request_json)
        started = time.perf_counter()
        with stderr.open("wb") as log:
            proc = subprocess.Popen(
                launch_command(python, module, str(request), str(result), *extra_args),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=child_env(),
                start_new_session=True,
                preexec_fn=_address_space_cap(memory_limit) if memory_limit else None,
            )
            killed_for, peak = _watch(proc, timeout_s, memory_limit)
        wall = round(time.perf_counter() - started, 3)
        tail = _tail(stderr)
        data = _read_result(result)
    return _classify(proc.returncode, killed_for, peak, wall, memory_limit, data, tail)


def _watch(proc: subprocess.Popen[bytes], timeout_s: float,
           memory_limit: int | None) -> tuple[str | None, int]:
    deadline = time.monotonic() + timeout_s
    import psutil

    watched = psutil.Process(proc.pid)
    peak = 0
    killed_for: str | None = None
    try:
        while proc.poll() is None:
            rss = _tree_rss(watched)
            peak = max(peak, rss)
            if memory_limit is not None and rss > memory_limit:
                killed_for = "memory"
            elif time.monotonic() > deadline:
                killed_for = "timeout"
            if killed_for:
                _kill_group(proc.pid)
                proc.wait()
                break
            time.sleep(POLL_S)
    except BaseException:
        # Ctrl-C (or any error) in whyload: the child runs in its own session, so the terminal's
        # SIGINT never reaches it; it must not go on loading on its own
        _kill_group(proc.pid)
        proc.wait()
        raise
    _kill_group(proc.pid)  # anything the child left behind in its group
    return killed_for, peak


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - STDERR_TAIL))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _read_result(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return {}
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _classify(returncode: int | None, killed_for: str | None, peak: int, wall: float,
              memory_limit: int | None, data: dict[str, Any], tail: str) -> ChildExit:
    peak = max(peak, int(data.get("peak_rss") or 0))
    common: dict[str, Any] = dict(returncode=returncode, peak_rss=peak, wall_s=wall,
                                  memory_limit=memory_limit, result=data, stderr_tail=tail)
    if killed_for == "memory":
        return ChildExit(outcome="killed_oom", signal="SIGKILL", oom_by="watchdog", **common)
    if killed_for == "timeout":
        return ChildExit(outcome="timeout", signal="SIGKILL", **common)
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() \
            else str(-returncode)
        if name == "SIGKILL":  # nobody here sent it: the kernel's OOM killer, most likely
            return ChildExit(outcome="killed_oom", signal=name, oom_by="SIGKILL", **common)
        return ChildExit(outcome="signal", signal=name, **common)
    exc = data.get("exception")
    if isinstance(exc, dict) and (exc.get("type") == "MemoryError"
                                  or (memory_limit and _OOM_TEXT.search(str(exc.get("message"))))):
        return ChildExit(outcome="killed_oom", oom_by=str(exc.get("type")), **common)
    if data.get("outcome") == "loaded":
        return ChildExit(outcome="loaded", **common)
    if not data:  # the child died before it could say anything
        last = (tail.strip().splitlines() or [f"exit code {returncode}"])[-1]
        data = {"exception": {"type": "ChildProcessError", "message": last[:500],
                              "traceback": tail}}
        common["result"] = data
    return ChildExit(outcome="exception", **common)
