"""The rules that hold everywhere (DESIGN.md): `check` imports neither torch nor transformers,
never runs anything a checkpoint asks for, and never reads tensor bytes.

Hostile checkpoints are built here from pickle opcodes and proved live (torch.load really runs
them); whyload must then look at every one of them without running it.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import pickle
import shlex
import struct
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

import whyload
from whyload.report import Severity, Verdict

ML_LIBRARIES = ("torch", "transformers", "safetensors")


# --- check imports no ML library ------------------------------------------------------------------


def test_check_api_imports_neither_torch_nor_transformers(
    safetensors_model: Path, bin_model: Path, legacy_bin_model: Path, sharded_model: Path
) -> None:
    script = textwrap.dedent(f"""
        import json, sys
        import whyload
        verdicts = [whyload.check(t).verdict.value for t in sys.argv[1:]]
        imported = [m for m in {ML_LIBRARIES!r} if m in sys.modules]
        print(json.dumps({{"verdicts": verdicts, "imported": imported}}))
    """)
    targets = [safetensors_model, bin_model, legacy_bin_model, sharded_model]
    proc = subprocess.run([sys.executable, "-c", script, *map(str, targets)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["imported"] == []
    assert out["verdicts"] == ["loads"] * len(targets)


@pytest.fixture
def poisoned_path(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A PYTHONPATH on which torch, transformers and safetensors leave a mark when imported."""
    poison = tmp_path / "poison"
    marks = tmp_path / "marks"
    marks.mkdir()
    for name in ML_LIBRARIES:
        (poison / name).mkdir(parents=True)
        (poison / name / "__init__.py").write_text(
            f"open({str(marks / name)!r}, 'w').close()\n"
            f"raise ImportError('whyload check must not import {name}')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(poison), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return marks, env


def test_poisoned_path_does_poison(poisoned_path: tuple[Path, dict[str, str]]) -> None:
    marks, env = poisoned_path
    proc = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True,
                          text=True, env=env, timeout=30)
    assert proc.returncode == 1
    assert "whyload check must not import torch" in proc.stderr
    assert (marks / "torch").exists()


@pytest.mark.parametrize("fixture", ["safetensors_model", "bin_model", "legacy_bin_model",
                                     "sharded_model"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_check_works_where_torch_cannot_be_imported(
    fixture: str, fmt: str, poisoned_path: tuple[Path, dict[str, str]],
    request: pytest.FixtureRequest,
) -> None:
    marks, env = poisoned_path
    model: Path = request.getfixturevalue(fixture)
    proc = run_cli("check", str(model), "--format", fmt, env=env)
    assert sorted(p.name for p in marks.iterdir()) == []
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    if fmt == "json":
        assert json.loads(proc.stdout)["verdict"] == "loads"
    else:
        assert "verdict: loads" in proc.stdout


# --- hostile pickles ------------------------------------------------------------------------------
#
# Each payload is a state dict whose one entry is a call that creates MARKER:
#     {"classifier.weight": <os.system("touch MARKER")>}
# and each layout puts that pickle where torch.load would unpickle it.

STATE_KEY = "classifier.weight"


def _unicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE


def _short(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE


def _state_dict(protocol: int, call: bytes) -> bytes:
    """PROTO, EMPTY_DICT, key, <call>, SETITEM, STOP."""
    return b"\x80" + bytes([protocol]) + b"}" + _unicode(STATE_KEY) + call + b"s."


def _touch(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


class _System:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (_touch(self.marker),))


class _Exec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _reduce(cls: type, protocol: int) -> Callable[[Path], bytes]:
    return lambda marker: pickle.dumps({STATE_KEY: cls(marker)}, protocol=protocol)


def _stack_global_via_memo(marker: Path) -> bytes:
    """'os' and 'system' are memoized, popped, and fetched back before STACK_GLOBAL."""
    call = (_short("os") + b"\x94" + _short("system") + b"\x94" + b"00"  # MEMOIZE, POP
            + b"h\x00h\x01\x93"  # BINGET 0, BINGET 1, STACK_GLOBAL
            + _unicode(_touch(marker)) + b"\x85R")  # TUPLE1, REDUCE
    return _state_dict(4, call)


def _inst(marker: Path) -> bytes:
    """INST: the protocol-0 opcode that imports and calls in one step."""
    return _state_dict(2, b"(V" + _touch(marker).encode("raw-unicode-escape") + b"\nios\nsystem\n")


def _getattr_chain(marker: Path) -> bytes:
    """getattr(__import__('os'), 'system')(...): no global names os.system at all."""
    call = (b"cbuiltins\ngetattr\ncbuiltins\n__import__\n" + _unicode("os") + b"\x85R"
            + _unicode("system") + b"\x86R" + _unicode(_touch(marker)) + b"\x85R")
    return _state_dict(2, call)


@dataclass(frozen=True)
class Payload:
    id: str
    build: Callable[[Path], bytes]
    names: tuple[str, ...]  # the callable a report must name (any one of these)


SYSTEM = ("posix.system", "os.system")
PAYLOADS = [
    Payload("system-p0", _reduce(_System, 0), SYSTEM),
    Payload("system-p2", _reduce(_System, 2), SYSTEM),
    Payload("system-p4", _reduce(_System, 4), SYSTEM),
    Payload("exec-p0", _reduce(_Exec, 0), ("builtins.exec",)),
    Payload("exec-p2", _reduce(_Exec, 2), ("builtins.exec",)),
    Payload("exec-p4", _reduce(_Exec, 4), ("builtins.exec",)),
    Payload("stack-global-memo", _stack_global_via_memo, SYSTEM),
    Payload("inst", _inst, SYSTEM),
    Payload("getattr-chain", _getattr_chain, ("builtins.getattr", "builtins.__import__")),
]
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _raw(payload: bytes) -> bytes:
    return payload


def _legacy(payload: bytes) -> bytes:
    """torch < 1.6: magic, protocol version, sys_info, the object, the storage keys."""
    sys_info = {"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    return b"".join([pickle.dumps(LEGACY_MAGIC, protocol=2), pickle.dumps(1001, protocol=2),
                     pickle.dumps(sys_info, protocol=2), payload, pickle.dumps([], protocol=2)])


def _torch_zip(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", b"little")
        zf.writestr("archive/version", b"3\n")
    return buf.getvalue()


LAYOUTS: dict[str, Callable[[bytes], bytes]] = {"raw-pickle": _raw, "legacy": _legacy,
                                                "torch-zip": _torch_zip}


def cases(payloads: list[Payload], layouts: list[str]) -> list[Any]:
    return [pytest.param(p, layout, id=f"{p.id}-{layout}") for layout in layouts for p in payloads]


CASES = cases(PAYLOADS, list(LAYOUTS))


def hostile_model(folder: Path, payload: Payload, layout: str,
                  config: Path | None = None) -> tuple[Path, Path]:
    """A model folder whose pytorch_model.bin creates `marker` when unpickled."""
    folder.mkdir(parents=True)
    marker = folder.parent / f"{folder.name}.MARKER"
    (folder / "pytorch_model.bin").write_bytes(LAYOUTS[layout](payload.build(marker)))
    if config is not None:
        (folder / "config.json").write_bytes(config.read_bytes())
    return folder, marker


@pytest.mark.parametrize(("payload", "layout"), CASES)
def test_hostile_checkpoint_is_live(payload: Payload, layout: str, tmp_path: Path) -> None:
    """Control: torch.load(weights_only=False) really runs each payload, so the tests below are
    not vacuous."""
    torch = pytest.importorskip("torch")
    folder, marker = hostile_model(tmp_path / "m", payload, layout)
    try:
        torch.load(folder / "pytorch_model.bin", weights_only=False)
    except RuntimeError:
        assert layout == "raw-pickle"  # "Invalid magic number", raised after the payload ran
    assert marker.exists()


@pytest.mark.parametrize(("payload", "layout"), CASES)
def test_check_never_runs_a_hostile_pickle(
    payload: Payload, layout: str, tmp_path: Path, safetensors_model: Path
) -> None:
    folder, marker = hostile_model(tmp_path / "m", payload, layout,
                                   safetensors_model / "config.json")
    report = whyload.check(str(folder))
    assert not marker.exists()
    assert report.verdict is not Verdict.LOADS
    assert [f.code for f in report.findings
            if f.file == "pytorch_model.bin" and f.severity >= Severity.WARNING] != []


CLI_PAYLOADS = [p for p in PAYLOADS
                if p.id in ("system-p0", "exec-p4", "stack-global-memo", "inst", "getattr-chain")]
CLI_CASES = cases(CLI_PAYLOADS, list(LAYOUTS))


CliRun = tuple[subprocess.CompletedProcess[str], Path]  # the run, and the marker to look for


@pytest.fixture(scope="module")
def cli_runs(
    tmp_path_factory: pytest.TempPathFactory, safetensors_model: Path
) -> dict[str, CliRun]:
    """`whyload check` on every CLI case, run in parallel (each run is an interpreter start)."""
    root = tmp_path_factory.mktemp("hostile-cli")
    jobs = {f"{p.id}-{layout}": hostile_model(root / f"{p.id}-{layout}", p, layout,
                                              safetensors_model / "config.json")
            for layout in LAYOUTS for p in CLI_PAYLOADS}

    def run(job: tuple[Path, Path]) -> CliRun:
        folder, marker = job
        return run_cli("check", str(folder), timeout=30), marker

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(jobs, pool.map(run, jobs.values()), strict=True))


@pytest.mark.parametrize(("payload", "layout"), CLI_CASES)
def test_cli_never_runs_a_hostile_pickle(
    payload: Payload, layout: str, cli_runs: dict[str, CliRun]
) -> None:
    proc, marker = cli_runs[f"{payload.id}-{layout}"]
    assert not marker.exists()
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    assert "verdict: " in proc.stdout
    assert "pytorch_model.bin" in proc.stdout


def _names_callable(report: whyload.Report, names: tuple[str, ...]) -> list[str]:
    return [f.code for f in report.findings if f.severity is Severity.ERROR
            and f.file == "pytorch_model.bin"
            and any(n in json.dumps(f.to_dict()) for n in names)]


REPORTED_CASES = cases(PAYLOADS, ["torch-zip"]) + cases(PAYLOADS[1:2], ["raw-pickle", "legacy"])


@pytest.mark.parametrize(("payload", "layout"), REPORTED_CASES)
def test_hostile_pickle_is_reported_naming_what_it_would_call(
    payload: Payload, layout: str, tmp_path: Path, safetensors_model: Path
) -> None:
    """torch >= 2.6 refuses these (weights_only), older torch runs them: either way the report
    must say what the pickle would call, as an error (DESIGN.md: WL6xx)."""
    folder, marker = hostile_model(tmp_path / "m", payload, layout,
                                   safetensors_model / "config.json")
    report = whyload.check(str(folder))
    assert not marker.exists()
    assert _names_callable(report, payload.names), (
        f"no error names {' or '.join(payload.names)}; got "
        f"{[(f.code, f.title) for f in report.findings]}")
    assert report.verdict is Verdict.FAILS


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if p.id.endswith("-p0")],
                         ids=lambda p: p.id)
def test_protocol_0_pickle_is_read_as_a_pickle(payload: Payload, tmp_path: Path) -> None:
    """Protocol 0 has no PROTO opcode and looks like text ('(dp0\\nV...'), but torch.load
    unpickles it all the same: it must be walked as a pickle, not dismissed as a text file."""
    folder, marker = hostile_model(tmp_path / "m", payload, "raw-pickle")
    report = whyload.check(str(folder))
    assert not marker.exists()
    [kind] = [f["kind"] for f in report.facts["files"] if f["name"] == "pytorch_model.bin"]
    assert kind == "pickle", [(f.code, f.title) for f in report.findings]


# --- never reads tensor bytes ---------------------------------------------------------------------

MEASURED_CHECK = textwrap.dedent("""
    import json, resource, sys, tempfile, time
    import whyload

    def proc_field(file, name):
        try:
            with open(file) as f:
                return next(int(l.split()[1]) for l in f if l.startswith(name))
        except (OSError, StopIteration):
            return None

    def bytes_read():
        return proc_field("/proc/self/io", "rchar:")

    def peak_rss_mb():
        # VmHWM, not ru_maxrss: ru_maxrss keeps the parent's peak across fork and exec
        kb = proc_field("/proc/self/status", "VmHWM:")
        return (kb or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024

    with tempfile.TemporaryDirectory() as empty:
        whyload.check(empty)  # imports every check, so the reads below are the target's
    before, t0 = bytes_read(), time.perf_counter()
    report = whyload.check(sys.argv[1])
    seconds, after = time.perf_counter() - t0, bytes_read()
    print(json.dumps({
        "seconds": seconds,
        "max_rss_mb": peak_rss_mb(),
        "bytes_read": None if before is None else after - before,
        "verdict": report.verdict.value,
        "codes": report.codes(),
        "facts": report.facts,
    }, default=str))
""")


def measured_check(target: Path, timeout: float = 30) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", MEASURED_CHECK, str(target)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_check_of_a_50_gb_safetensors_reads_only_its_header(
    tmp_path: Path, safetensors_model: Path
) -> None:
    folder = tmp_path / "huge"
    folder.mkdir()
    (folder / "config.json").write_bytes((safetensors_model / "config.json").read_bytes())
    nbytes = 50_000_000_000
    header = json.dumps({"__metadata__": {"format": "pt"}, "classifier.weight": {
        "dtype": "F32", "shape": [nbytes // 4], "data_offsets": [0, nbytes]}}).encode()
    header += b" " * (-len(header) % 8)
    with (folder / "model.safetensors").open("wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + nbytes)  # sparse: no disk used, reads would return zeros

    out = measured_check(folder)
    assert [c for c in out["codes"] if c.startswith("WL1")] == []  # the file itself is sound
    assert out["facts"]["parameter_count"] == nbytes // 4
    assert out["seconds"] < 2
    assert out["max_rss_mb"] < 200
    if out["bytes_read"] is not None:
        assert out["bytes_read"] < 1 << 20


@pytest.fixture(scope="module")
def big_torch_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """pytorch_model.bin holding one 64 MB tensor, in the zip and the legacy layout."""
    torch = pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("big-torch")
    state = {"bert.embeddings.word_embeddings.weight": torch.ones(4096, 4096)}
    out = {}
    for layout, zip_format in (("torch-zip", True), ("legacy", False)):
        (root / layout).mkdir()
        torch.save(state, root / layout / "pytorch_model.bin",
                   _use_new_zipfile_serialization=zip_format)
        out[layout] = root / layout
    return out


@pytest.mark.parametrize("layout", ["torch-zip", "legacy"])
def test_check_of_a_torch_checkpoint_reads_only_its_pickle(
    layout: str, big_torch_models: dict[str, Path]
) -> None:
    folder = big_torch_models[layout]
    assert (folder / "pytorch_model.bin").stat().st_size > 64 << 20
    out = measured_check(folder)
    assert out["facts"]["tensor_count"] == 1
    assert out["facts"]["tensor_bytes"] == 64 << 20
    if out["bytes_read"] is None:
        pytest.skip("/proc/self/io is not available")
    assert out["bytes_read"] < 1 << 20
