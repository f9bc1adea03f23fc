"""Many targets mapped over a Dask cluster, each checked in-process by the pipeline `check` uses.

The client (this process) lists the targets, looks each one up in the cache, and submits the rest
in small batches; a worker runs `check_batch`: for each target `pipeline.examine`, exactly as
`whyload check` runs it (plus `integrity.verify` with --verify), and returns one whyload.report
row per target. Results stream back in the order they finish.

Faults become rows, never a stop:
- the target cannot be examined (TargetError): WL590, as `whyload check` would exit 2;
- the check raises: WL591, with the exception;
- the check runs past --timeout: WL592; the thread is left behind and its worker restarted;
- the worker dies with the target, on every retry the cluster allows: WL593. The targets of a
  task whose worker died are checked again at the end, one at a time with nothing else
  running, so that only the culprit gets the row (a task queued on a dying worker dies too).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whyload.audit.cache import ResultCache, artifact_of, slot_of, target_key
from whyload.audit.discovery import Target
from whyload.checks import audit as codes
from whyload.errors import MissingExtra, WhyloadError
from whyload.report import Category, Effect, Finding, Report, Severity

if TYPE_CHECKING:
    from whyload.env import Environment
    from whyload.resolve import Artifact
    from whyload.snapshot import Options

DEFAULT_TIMEOUT_S = 60.0
MAX_BATCH = 32
IN_FLIGHT_PER_THREAD = 4
ENVIRONMENT_REFRESH_S = 60.0
TRACEBACK_FRAMES = 6
VERSION_PACKAGES = ("transformers", "torch", "safetensors", "huggingface-hub", "tokenizers",
                    "sentence-transformers", "peft", "accelerate")


@dataclass(frozen=True)
class AuditOptions:
    """How each target is checked: `whyload check`'s options, plus --verify and --timeout."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    model_class: str | None = None
    device: str = "cpu"
    dtype: str | None = None
    python: str | None = None
    finetune: bool = False
    verify: bool = False
    timeout: float = DEFAULT_TIMEOUT_S

    def check_options(self) -> Options:
        from whyload.snapshot import Options

        return Options(model_class=self.model_class, device=self.device, dtype=self.dtype,
                       python=self.python, finetune=self.finetune)

    def report_changing(self) -> dict[str, Any]:
        """The options a report depends on (the timeout does not change a result)."""
        out = asdict(self)
        out.pop("timeout")
        return out


@dataclass(frozen=True)
class Outcome:
    """One target's row, and how it came: checked now, or from the cache."""

    target: Target
    row: dict[str, Any]
    from_cache: bool = False
    stuck_worker: str | None = None  # a worker whose thread the timeout left behind

    @property
    def verdict(self) -> str:
        return str(self.row.get("verdict", "unknown"))


# --- on a worker ----------------------------------------------------------------------------------


def check_batch(targets: Sequence[Target], options: AuditOptions) -> list[Outcome]:
    """A worker's task: one row per target, each within options.timeout."""
    worker = _worker_address()
    outcomes = []
    for target in targets:
        row, finished = check_within(target, options)
        outcomes.append(Outcome(target, row, stuck_worker=None if finished else worker))
    return outcomes


def check_within(target: Target, options: AuditOptions) -> tuple[dict[str, Any], bool]:
    """check_target in a thread of its own, waited for options.timeout seconds: the row, and
    whether it finished (a thread that did not is left behind; the caller restarts the worker)."""
    result: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: result.append(check_target(target, options)),
                              name=f"whyload-audit {target.label}", daemon=True)
    thread.start()
    thread.join(options.timeout)
    if result:
        return result[0], True
    return timeout_row(target, options.timeout), False


def check_target(target: Target, options: AuditOptions) -> dict[str, Any]:
    """The row `whyload check TARGET --format json` prints (with --verify, verify's findings
    merged in), or an error row for a target that cannot be examined or a check that raised."""
    from whyload.render.json import report_data

    try:
        artifact = artifact_of(target)
    except WhyloadError as exc:
        return report_data(not_examined_report(target, exc))
    try:
        report = checked_report(target, artifact, options)
    except WhyloadError as exc:  # found while reading: a target that is no model file
        return report_data(not_examined_report(target, exc, artifact))
    except Exception as exc:
        return report_data(crash_report(target, exc, artifact))
    return report_data(report)


def checked_report(target: Target, artifact: Artifact, options: AuditOptions) -> Report:
    from whyload.pipeline import examine

    exam = examine(artifact, options=options.check_options(), select=options.select,
                   ignore=options.ignore, environment=environment_for(artifact.root, options))
    report = exam.report(target.target)
    if options.verify:
        report = with_verify(report, artifact, options)
    return report


_ENVIRONMENTS: dict[tuple[bool, str | None], tuple[float, Environment]] = {}


def environment_for(root: Path, options: AuditOptions) -> Environment:
    """What `check` collects for a target (whyload.env.collect with the model's folder), with
    the machine's facts read once a minute per worker rather than once per target."""
    from whyload.env import collect
    from whyload.env.container import ModelMount, mount_of
    from whyload.env.sources import Sources

    key = (options.device == "cuda", options.python)
    now = time.monotonic()
    cached = _ENVIRONMENTS.get(key)
    if cached is None or now - cached[0] > ENVIRONMENT_REFRESH_S:
        cached = (now, collect(gpus=key[0], python=options.python))
        _ENVIRONMENTS[key] = cached
    return replace(cached[1], model_mount=ModelMount(str(root), mount_of(Sources(), str(root))))


def with_verify(report: Report, artifact: Artifact, options: AuditOptions) -> Report:
    """The check's report with verify's findings that check has not already made, and what
    verify says of the bytes (facts.verify); a verify that cannot run is WL594."""
    from whyload.integrity import verify
    from whyload.registry import sort_findings

    try:
        verified = verify(artifact, workers=1)
    except WhyloadError as exc:
        problem = _finding(codes.VERIFY_FAILED, Severity.WARNING, Effect.NONE,
                           f"--verify did not run: {exc.message}", exc.hint,
                           {"message": exc.message, "hint": exc.hint})
        return replace(report, findings=(*report.findings, problem),
                       facts={**report.facts, "verify": {"bytes": "unverified"}})
    seen = {(f.code, f.file) for f in report.findings}
    added = [f for f in verified.findings if (f.code, f.file) not in seen]
    facts = {**report.facts, "verify": {
        "bytes": verified.facts.get("bytes"), "files_matched": verified.facts.get("files_matched"),
        "bytes_read": verified.facts.get("bytes_read")}}
    timings = {**report.timings, "verify_s": verified.timings.get("total_s", 0.0)}
    return replace(report, findings=tuple(sort_findings([*report.findings, *added])),
                   facts=facts, timings=timings)


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


# --- error rows -----------------------------------------------------------------------------------

NOT_ASSESSED = "the audit could not check this target"


def _finding(code: str, severity: Severity, effect: Effect, title: str, fix: str,
             evidence: dict[str, Any], detail: str = "") -> Finding:
    return Finding(code=code, category=Category.ENVIRONMENT, severity=severity, title=title,
                   detail=detail, evidence=evidence, fix=fix, effect=effect)


def _error_report(target: Target, finding: Finding, artifact: Artifact | None = None) -> Report:
    resolved = artifact.describe() if artifact is not None else {}
    return Report(command="check", target=target.target, resolved=resolved,
                  findings=(finding,), not_checked={c.value: NOT_ASSESSED for c in Category})


def not_examined_report(target: Target, exc: WhyloadError,
                        artifact: Artifact | None = None) -> Report:
    """WL590: what `whyload check` says before it exits 2, as a row."""
    return _error_report(target, _finding(
        codes.NOT_EXAMINED, Severity.ERROR, Effect.UNKNOWN, exc.message, exc.hint,
        {"target": target.label, "message": exc.message, "hint": exc.hint,
         "scheme": target.target.split("://", 1)[0] if "://" in target.target else None}),
        artifact)


def crash_report(target: Target, exc: BaseException, artifact: Artifact | None = None) -> Report:
    """WL591: a check that raised, with the exception and the last frames."""
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(frames[-TRACEBACK_FRAMES:])
    return _error_report(target, _finding(
        codes.CHECK_CRASHED, Severity.ERROR, Effect.UNKNOWN,
        f"the check raised {type(exc).__name__}: {exc}"[:300],
        f"WHYLOAD_DEBUG=1 whyload check {_shell_target(target)}  # then report the traceback",
        {"exception": type(exc).__name__, "message": str(exc)[:2000], "traceback": tail},
        detail="a bug in whyload, not a verdict on the model"), artifact)


def timeout_row(target: Target, seconds: float) -> dict[str, Any]:
    """WL592: a check that ran past --timeout."""
    from whyload.render.json import report_data

    return report_data(_error_report(target, _finding(
        codes.CHECK_TIMEOUT, Severity.ERROR, Effect.UNKNOWN,
        f"the check did not finish within {seconds:g} s",
        f"whyload check {_shell_target(target)}  # alone, to see where it waits",
        {"timeout_s": seconds, "target": target.label})))


def worker_died_row(target: Target, exc: BaseException) -> dict[str, Any]:
    """WL593: the worker died with this target on every retry."""
    from whyload.render.json import report_data

    return report_data(_error_report(target, _finding(
        codes.WORKER_DIED, Severity.ERROR, Effect.UNKNOWN,
        "the worker checking this target died, on every retry",
        f"whyload check {_shell_target(target)}  # alone, to see it fail",
        {"target": target.label, "error": f"{type(exc).__name__}: {exc}"[:2000]})))


def _shell_target(target: Target) -> str:
    import shlex

    words = [shlex.quote(target.target)]
    if target.revision:
        words.append(f"--revision {shlex.quote(target.revision)}")
    if target.cache_dir:
        words.insert(0, "")
        return f"{' '.join(words[1:])}  # with HF_HUB_CACHE={shlex.quote(target.cache_dir)}"
    return " ".join(words)


# --- the cluster ----------------------------------------------------------------------------------


def require_dask() -> None:
    MissingExtra.check("whyload audit", ["dask", "distributed"], "fleet")


def machine_workers() -> int:
    """One worker per CPU this process may use (the cgroup's affinity, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@dataclass
class Cluster:
    """A Dask client, with the local cluster it started (None for --scheduler)."""

    client: Any  # a distributed.Client
    local: Any = None
    restarts: list[str] = field(default_factory=list)

    @property
    def threads(self) -> int:
        info = self.client.scheduler_info(n_workers=-1) if _takes_n_workers() else \
            self.client.scheduler_info()
        return max(1, sum(int(w.get("nthreads", 1)) for w in info["workers"].values()))

    def restart_worker(self, address: str) -> None:
        """Replace a worker whose thread is stuck past --timeout (possible where a nanny runs
        it); in the background, so the audit goes on."""
        if address in self.restarts:
            return
        self.restarts.append(address)

        def restart() -> None:
            # no nanny (a worker started bare), or it is already gone: the thread stays
            with contextlib.suppress(Exception):
                self.client.restart_workers([address], timeout=60, raise_for_error=False)

        threading.Thread(target=restart, daemon=True).start()

    def close(self) -> None:
        try:
            self.client.close(timeout=10)
        finally:
            if self.local is not None:
                self.local.close(timeout=10)


def _takes_n_workers() -> bool:
    import inspect

    from distributed import Client

    return "n_workers" in inspect.signature(Client.scheduler_info).parameters


def start_cluster(scheduler: str | None = None, workers: int | None = None,
                  allowed_failures: int = 0) -> Cluster:
    """A client of the Dask scheduler at `scheduler`, else of a local cluster of `workers`
    processes (default: one per CPU), one thread each: checks are Python, which a thread pool
    in one process would serialise. A task whose worker died is not retried by Dask
    (`allowed_failures`): the audit retries its targets itself, alone (Audit._quarantine)."""
    require_dask()
    import logging

    import dask

    distributed = _distributed()
    if scheduler:
        try:
            return Cluster(distributed.Client(scheduler, timeout="20s"))
        except OSError as exc:
            raise WhyloadError(f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                               hint="start it with `dask scheduler`, or leave out --scheduler "
                               "for a cluster on this machine") from None
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures,
                          "distributed.worker.daemon": False}):
        local = distributed.LocalCluster(
            n_workers=workers or machine_workers(), threads_per_worker=1, processes=True,
            dashboard_address=":0", silence_logs=logging.CRITICAL)
        client = distributed.Client(local)
        client.register_plugin(_interrupts_ignored())
        return Cluster(client, local)


def _interrupts_ignored() -> Any:
    """A worker plugin: Ctrl-C in the terminal reaches the whole process group, and a local
    worker that died of it would leave tracebacks; the audit (the client) handles Ctrl-C and
    stops its workers itself. Applies to workers restarted later too."""

    class IgnoreInterrupts(_distributed().WorkerPlugin):  # type: ignore[misc]
        name = "whyload-ignore-interrupts"

        def setup(self, worker: Any) -> None:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)

    return IgnoreInterrupts()


def _distributed() -> Any:
    """The distributed package, imported when an audit runs (its API is untyped)."""
    import distributed

    return distributed


def cluster_versions(client: Any) -> dict[str, Any]:
    """whyload's, Python's and the loading libraries' versions on every worker (the cache
    key's part that is not the files)."""
    found = client.run(worker_versions)
    return {"workers": sorted({tuple(sorted(v.items())) for v in found.values()})}


def worker_versions() -> dict[str, str | None]:
    import platform

    from whyload import __version__
    from whyload.env.versions import installed_versions

    return {"whyload": __version__, "python": platform.python_version(),
            **installed_versions(VERSION_PACKAGES)}


# --- the client's loop ----------------------------------------------------------------------------

Task = Callable[[Sequence[Target], AuditOptions], list[Outcome]]


@dataclass
class Audit:
    """One run over a list of targets: cached rows first as they are met, the others checked on
    the cluster; `outcomes()` yields each as it is known."""

    cluster: Cluster
    targets: Sequence[Target]
    options: AuditOptions
    cache: ResultCache | None = None
    task: Task = check_batch
    checked: int = 0
    cached: int = 0
    _futures: Any = None
    _batches: dict[str, list[Target]] = field(default_factory=dict)  # future key -> targets
    _suspects: list[Target] = field(default_factory=list)  # in a task whose worker died

    def settings(self) -> dict[str, Any]:
        return {"options": self.options.report_changing(),
                "versions": cluster_versions(self.cluster.client)}

    def batch_size(self) -> int:
        """Small enough that every thread gets several batches, big enough that the scheduler's
        cost per task (about a millisecond) is small beside the checks'."""
        per_thread = len(self.targets) / (self.cluster.threads * IN_FLIGHT_PER_THREAD)
        return max(1, min(MAX_BATCH, math.ceil(per_thread)))

    def outcomes(self) -> Iterator[Outcome]:
        settings = self.settings() if self.cache is not None else {}
        keys: dict[Target, tuple[str, str]] = {}
        size = self.batch_size()
        limit = self.cluster.threads * IN_FLIGHT_PER_THREAD
        self._futures = _distributed().as_completed(with_results=False)
        in_flight = 0
        batch: list[Target] = []
        for target in self.targets:
            found = self._cached(target, settings, keys)
            if found is not None:
                self.cached += 1
                yield found
                continue
            batch.append(target)
            if len(batch) >= size:
                self._submit(batch)
                in_flight += 1
                batch = []
            while in_flight >= limit:
                in_flight -= 1
                yield from self._collect(next(self._futures), keys)
        if batch:
            self._submit(batch)
        for future in self._futures:
            yield from self._collect(future, keys)
        yield from self._quarantine(keys)

    def _quarantine(self, keys: dict[Target, tuple[str, str]]) -> Iterator[Outcome]:
        """The targets of tasks whose worker died, each checked with nothing else running: a
        worker runs one target at a time, but every task queued on it dies with it, so only a
        death while a target runs alone names the culprit (WL593)."""
        suspects, self._suspects = self._suspects, []
        for target in suspects:
            self._submit([target])
            yield from self._collect(next(self._futures), keys, alone=True)

    def _cached(self, target: Target, settings: dict[str, Any],
                keys: dict[Target, tuple[str, str]]) -> Outcome | None:
        if self.cache is None:
            return None
        key = target_key(target, settings)
        if key is None:
            return None
        slot = slot_of(target, settings)
        keys[target] = (slot, key)
        row = self.cache.get(slot, key)
        return Outcome(target, row, from_cache=True) if row is not None else None

    def _submit(self, batch: list[Target]) -> None:
        future = self.cluster.client.submit(self.task, list(batch), self.options, pure=False,
                                            key=f"whyload-audit-{uuid.uuid4().hex}")
        self._batches[str(future.key)] = list(batch)  # what to split if its worker dies
        self._futures.add(future)

    def _collect(self, future: Any, keys: dict[Target, tuple[str, str]],
                 alone: bool = False) -> Iterator[Outcome]:
        batch = self._batches.pop(str(future.key))
        try:
            outcomes: list[Outcome] = future.result()
        except Exception as exc:
            if _worker_died(exc) and not alone:
                self._suspects.extend(batch)  # checked again at the end, one at a time
                return
            outcomes = [Outcome(t, worker_died_row(t, exc) if _worker_died(exc) else
                                _client_side_crash(t, exc)) for t in batch]
        finally:
            future.release()
        for outcome in outcomes:
            self.checked += 1
            if outcome.stuck_worker:
                self.cluster.restart_worker(outcome.stuck_worker)
            elif self.cache is not None and outcome.target in keys and _cacheable(outcome.row):
                self.cache.put(*keys[outcome.target], outcome.row)
            yield outcome

    def cancel(self) -> None:
        """Stop: what was submitted and not yet back is dropped (Ctrl-C)."""
        if self._futures is not None:
            futures = list(self._futures.futures)
            self._futures.clear()
            if futures:
                self.cluster.client.cancel(futures, force=True)


def _worker_died(exc: BaseException) -> bool:
    from distributed.scheduler import KilledWorker

    return isinstance(exc, KilledWorker)


def _client_side_crash(target: Target, exc: BaseException) -> dict[str, Any]:
    from whyload.render.json import report_data

    return report_data(crash_report(target, exc))


def _cacheable(row: dict[str, Any]) -> bool:
    """Faults of the run (timeouts, dead workers, crashes) are checked again next time."""
    faults = {codes.CHECK_CRASHED, codes.CHECK_TIMEOUT, codes.WORKER_DIED}
    return not any(f.get("code") in faults for f in row.get("findings", ()))


def run_targets(targets: Iterable[Target], **kwargs: Any) -> list[Outcome]:
    """Convenience for the API and tests: every outcome of an audit on a fresh local cluster."""
    scheduler = kwargs.pop("scheduler", None)
    workers = kwargs.pop("workers", None)
    cluster = start_cluster(scheduler, workers)
    try:
        return list(Audit(cluster, list(targets), **kwargs).outcomes())
    finally:
        cluster.close()
