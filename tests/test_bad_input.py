"""Bad input of any kind gives a clear finding, or a clear error and exit code 2: never a
traceback, a hang, or memory and time that grow with what a file claims (DESIGN.md, "Rules that
hold everywhere").

The catalogue: targets that are not model locations, folders holding things that are not files,
files that lie about their size or nesting, hostile archives, broken command lines; then
property tests that feed random and mutated bytes to every reader.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import whyload
from whyload.errors import TargetError, UsageError
from whyload.readers.pickle import PickleStream, walk_pickle_bytes
from whyload.readers.safetensors import (
    HeaderError,
    SafetensorsHeader,
    parse_header,
    read_safetensors_header,
)
from whyload.readers.sniff import Kind, sniff
from whyload.render.json import render_json
from whyload.render.text import render_text
from whyload.report import Report, Severity, Verdict

# --- helpers --------------------------------------------------------------------------------------


def assert_clean_error(proc: subprocess.CompletedProcess[str], *phrases: str) -> None:
    """Exit 2 with a one-line `whyload: error:` that says what is wrong: no traceback, and not
    dressed up as an internal error."""
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    for phrase in phrases:
        assert phrase in proc.stderr, (phrase, proc.stderr)


def assert_well_formed(report: Report) -> None:
    """What every renderer relies on, whatever the input was."""
    assert isinstance(report.verdict, Verdict)
    for f in report.findings:
        assert re.fullmatch(r"WL\d{3}", f.code)
        assert isinstance(f.severity, Severity)
        assert f.title and f.fix
    assert json.loads(render_json(report))["schema"] == "whyload.report/2"
    assert "verdict:" in render_text(report)


def json_report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), (proc.returncode, proc.stderr)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def findings_on(report: dict[str, Any], file: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["file"] == file]


MEASURED_CHECK = textwrap.dedent("""
    import json, sys, tempfile, time
    import whyload
    from whyload.render.json import render_json

    def peak_rss_mb():
        # VmHWM, not ru_maxrss: ru_maxrss keeps the parent's peak across fork and exec
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024

    with tempfile.TemporaryDirectory() as empty:
        whyload.check(empty)  # imports every check first
    t0 = time.perf_counter()
    report = json.loads(render_json(whyload.check(sys.argv[1])))
    report["measured"] = {"seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}
    print(json.dumps(report))
""")


def measured_check(target: Path, timeout: float) -> dict[str, Any]:
    """whyload.check in a child process, with its time and peak memory; fails past `timeout`."""
    try:
        proc = subprocess.run([sys.executable, "-c", MEASURED_CHECK, str(target)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"whyload.check({target.name}) still running after {timeout} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def model_copy(copy_of: Callable[[Path], Path], safetensors_model: Path) -> Path:
    """A private copy of the tiny BERT (config.json + model.safetensors) to break."""
    return copy_of(safetensors_model)


# --- targets that are not a model location: exit 2 ------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    target = tmp_path / "no-such-model"
    assert_clean_error(run_cli("check", str(target)), str(target), "no such file or directory")
    with pytest.raises(TargetError) as info:
        whyload.check(str(target))
    assert info.value.target == str(target)


@pytest.mark.parametrize("special", ["fifo", "device"])
def test_target_that_is_not_a_file_or_folder(special: str, tmp_path: Path) -> None:
    if special == "fifo":
        target = tmp_path / "model.safetensors"
        os.mkfifo(target)
        kind = "a FIFO"
    else:
        target, kind = Path("/dev/null"), "a device"
    proc = run_cli("check", str(target), timeout=15)  # opening a FIFO would block forever
    assert_clean_error(proc, str(target), kind)
    with pytest.raises(TargetError):
        whyload.check(str(target))


def test_target_that_is_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    target = tmp_path / "a"
    assert_clean_error(run_cli("check", str(target), timeout=15), str(target),
                       "symbolic link loop")


def test_hub_id_not_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    cache.mkdir()
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    proc = run_cli("check", "someorg/some-model", cwd=tmp_path, env=env)
    assert_clean_error(proc, "someorg/some-model", str(cache), "hf download someorg/some-model")

    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TargetError) as info:
        whyload.check("someorg/some-model")
    assert "hf download someorg/some-model" in info.value.hint


# --- permissions: root reads everything, so the CLI runs as `nobody` when we are root -------------

NOBODY = 65534


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder outside pytest's private (0700) tmp, so an unprivileged user can reach it."""
    path = Path(tempfile.mkdtemp(prefix="whyload-perm-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path)


def run_unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0:
        return run_cli(*args)
    as_nobody: dict[str, Any] = dict(user=NOBODY, group=NOBODY, extra_groups=[], cwd="/",
                                     capture_output=True, text=True, timeout=60)
    try:
        probe = subprocess.run([sys.executable, "-c", "import whyload"], **as_nobody)
    except OSError as exc:  # e.g. the interpreter lives under /root (mode 0700)
        pytest.skip(f"running as root, and user {NOBODY} cannot start this interpreter: {exc}")
    if probe.returncode != 0:
        pytest.skip(f"running as root, and user {NOBODY} cannot import whyload")
    return subprocess.run([sys.executable, "-m", "whyload", *args], **as_nobody)


def _readable_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def test_permission_denied_folder(shared_tmp: Path, safetensors_model: Path) -> None:
    model = _readable_copy(safetensors_model, shared_tmp / "model")
    model.chmod(0)
    if os.geteuid() != 0 and os.access(model, os.R_OK):
        pytest.skip("this user can read a mode-000 folder")
    proc = run_unprivileged("check", str(model))
    assert_clean_error(proc, "permission denied", str(model))


def test_permission_denied_weights(shared_tmp: Path, safetensors_model: Path) -> None:
    model = _readable_copy(safetensors_model, shared_tmp / "model")
    (model / "model.safetensors").chmod(0)
    proc = run_unprivileged("check", str(model), "--format", "json")
    report = json_report(proc)
    [finding] = [f for f in findings_on(report, "model.safetensors") if f["code"] == "WL160"]
    assert finding["severity"] == "error"
    assert "Permission denied" in finding["evidence"]["reason"]
    assert report["verdict"] == "fails"


# --- folders holding things that are not files ----------------------------------------------------


def test_fifo_named_model_safetensors(model_copy: Path) -> None:
    (model_copy / "model.safetensors").unlink()
    os.mkfifo(model_copy / "model.safetensors")
    report = json_report(run_cli("check", str(model_copy), "--format", "json", timeout=15))
    [finding] = findings_on(report, "model.safetensors")
    assert finding["code"] == "WL160"
    assert finding["severity"] == "error"
    assert "fifo" in finding["evidence"]["reason"]
    assert report["verdict"] == "fails"


def test_symlink_loops_inside_the_folder(model_copy: Path) -> None:
    (model_copy / "self").symlink_to("self")
    (model_copy / "ping").symlink_to("pong")
    (model_copy / "pong").symlink_to("ping")
    report = whyload.check(str(model_copy))
    assert sorted((f.file, f.severity) for f in report.by_code("WL150")) == [
        (name, Severity.WARNING) for name in ("ping", "pong", "self")]
    assert report.verdict is Verdict.LOADS  # model.safetensors itself is fine
    assert report.facts["tensor_count"] == 41


def test_symlink_loop_in_place_of_the_weights(model_copy: Path) -> None:
    (model_copy / "model.safetensors").unlink()
    (model_copy / "model.safetensors").symlink_to("model.safetensors")
    report = whyload.check(str(model_copy))
    [finding] = report.by_code("WL150")
    assert (finding.file, finding.severity) == ("model.safetensors", Severity.ERROR)
    assert report.verdict is Verdict.FAILS


def test_a_symlink_loop_is_called_a_loop(model_copy: Path) -> None:
    """A loop is not a missing target: 'ping -> pong, which does not exist' sends the user
    looking for a file that is there."""
    (model_copy / "ping").symlink_to("pong")
    (model_copy / "pong").symlink_to("ping")
    report = whyload.check(str(model_copy))
    for finding in report.by_code("WL150"):
        text = f"{finding.title} {finding.detail} {json.dumps(dict(finding.evidence))}"
        assert "loop" in text.lower(), text


def test_empty_folder(tmp_path: Path) -> None:
    report = whyload.check(str(tmp_path))
    [finding] = report.by_code("WL100")
    assert finding.severity is Severity.ERROR
    assert report.verdict is Verdict.FAILS


# --- non-UTF-8 file names: text and JSON must both work ------------------------------------------

NON_UTF8 = b"model\xff.safetensors"


def _write_bytes_name(folder: Path, name: bytes, data: bytes) -> None:
    fd = os.open(os.fsencode(folder) + b"/" + name, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_non_utf8_file_name_beside_a_healthy_model(model_copy: Path) -> None:
    _write_bytes_name(model_copy, NON_UTF8, (model_copy / "model.safetensors").read_bytes())
    _write_bytes_name(model_copy, b"\xfe\xfdconfig.json", b"{")
    text = run_cli("check", str(model_copy))
    assert "Traceback" not in text.stderr
    assert text.returncode == 0, text.stderr
    assert "verdict: loads" in text.stdout
    report = json_report(run_cli("check", str(model_copy), "--format", "json"))
    assert report["verdict"] == "loads"
    # the name's undecodable byte is written as \xff text: strict JSON parsers accept it
    assert "model\\xff.safetensors" in {f["name"] for f in report["facts"]["files"]}


def test_non_utf8_file_name_holding_the_only_weights(model_copy: Path) -> None:
    weights = model_copy / "model.safetensors"
    _write_bytes_name(model_copy, NON_UTF8, weights.read_bytes())
    weights.unlink()
    report = json_report(run_cli("check", str(model_copy), "--format", "json"))
    [finding] = [f for f in report["findings"] if f["code"] == "WL105"]
    assert finding["file"] == "model\\xff.safetensors"
    text = run_cli("check", str(model_copy))
    assert "Traceback" not in text.stderr
    assert "WL105" in text.stdout
    assert "model\\xff.safetensors" in text.stdout  # shown escaped, not as a broken character


# --- files that lie about their size or nesting ---------------------------------------------------


@pytest.fixture
def sparse_config(model_copy: Path) -> Path:
    """config.json that starts like one and goes on for 5 GB (sparse: no disk used)."""
    with (model_copy / "config.json").open("r+b") as f:
        f.write(b'{"model_type": "bert", "padding": "')
        f.truncate(5 << 30)
    return model_copy


def test_5_gb_config_json_is_not_read_into_memory(sparse_config: Path) -> None:
    out = measured_check(sparse_config, timeout=10)
    assert out["measured"]["seconds"] < 2
    assert out["measured"]["peak_rss_mb"] < 200
    assert out["facts"]["tensor_count"] == 41


def _deeply_nested_config(model: Path) -> Path:
    (model / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    return model


@pytest.mark.parametrize("make", [
    pytest.param(lambda m: m, id="5-gb-sparse"),
    pytest.param(_deeply_nested_config, id="nested-100k-deep"),
])
def test_config_json_that_cannot_be_read_is_a_finding(
    make: Callable[[Path], Path], sparse_config: Path
) -> None:
    """from_pretrained reads config.json first; one it cannot parse is the first error."""
    report = whyload.check(str(make(sparse_config)))
    errors = [f.code for f in report.findings
              if f.file == "config.json" and f.severity is Severity.ERROR]
    assert errors, f"nothing said about config.json: {report.codes()}"
    assert report.verdict is Verdict.FAILS


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n: int | None = -1) -> bytes:
        out = super().read(n)
        self.bytes_read += len(out)
        return out


def test_safetensors_header_claiming_2_63_bytes_is_never_allocated(model_copy: Path) -> None:
    data = struct.pack("<Q", 2**63) + b'{"a": ' + b" " * 4000
    reader = CountingReader(data)
    header = read_safetensors_header(reader, len(data))
    assert header.error is HeaderError.TOO_LARGE
    assert header.header_len == 2**63
    assert reader.bytes_read == 8

    (model_copy / "model.safetensors").write_bytes(data)
    report = whyload.check(str(model_copy))
    [finding] = [f for f in report.findings if f.file == "model.safetensors"]
    assert finding.severity is Severity.ERROR
    assert "HeaderTooLarge" in f"{finding.title} {finding.detail}"
    assert report.verdict is Verdict.FAILS


def test_safetensors_shape_that_overflows_is_a_finding(model_copy: Path) -> None:
    """Shape x dtype size past 2**64: the library says ValidationOverflow; so must we, with no
    arithmetic on the claimed size blowing up (F4 counts half bytes)."""
    header = json.dumps({"w": {"dtype": "F4", "shape": [2**64 - 1] * 20,
                               "data_offsets": [0, 0]}}).encode()
    (model_copy / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    report = whyload.check(str(model_copy))
    [finding] = [f for f in report.findings if f.file == "model.safetensors"]
    assert finding.code == "WL122"
    assert finding.evidence["library_error"] == HeaderError.OVERFLOW.value
    assert_well_formed(report)


def _library_counts_bits(tmp_path: Path) -> bool:
    """Whether the installed safetensors has sub-byte dtypes (F4), and so bounds elements x bits
    as the reader does; older releases bounded elements x bytes."""
    from safetensors import safe_open

    header = json.dumps({"w": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}).encode()
    path = tmp_path / "f4.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0")
    try:
        with safe_open(str(path), framework="numpy"):
            return True
    except Exception:
        return False


@pytest.mark.parametrize("dtype, shape", [
    ("F32", [2**61]),            # 2**61 elements fit a u64; 2**61 x 32 bits do not
    ("U8", [2**61]),             # 2**64 bits: one past the largest u64
    ("F32", [2**40, 2**40, 0]),  # the element count overflows before the 0
    ("F32", [2**59]),            # exactly 2**64 bits: overflow
    ("F32", [2**58]),            # 2**63 bits fit: a size mismatch, not an overflow
    ("BOOL", [2**60, 15]),       # 15 * 2**63 bits: overflow
])
def test_safetensors_overflow_agrees_with_the_library(tmp_path: Path, dtype: str,
                                                      shape: list[int]) -> None:
    """The size bound is elements x bits (the library's), not elements x 8: what the library
    rejects as ValidationOverflow, the reader names the same way, and nothing else."""
    from safetensors import safe_open

    if not _library_counts_bits(tmp_path):
        pytest.skip("this safetensors bounds sizes in bytes (before its sub-byte dtypes)")
    header = json.dumps({"w": {"dtype": dtype, "shape": shape,
                               "data_offsets": [0, 0]}}).encode()
    data = struct.pack("<Q", len(header)) + header
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    with pytest.raises(Exception) as raised:
        safe_open(str(path), framework="numpy")
    library_says_overflow = "overflow" in str(raised.value).lower()
    ours = read_safetensors_header(io.BytesIO(data), len(data))
    assert (ours.error is HeaderError.OVERFLOW) == library_says_overflow, str(raised.value)
    assert ours.error is not None


def test_pickle_declaring_a_1_gb_string_is_not_allocated(model_copy: Path) -> None:
    (model_copy / "model.safetensors").unlink()
    (model_copy / "pytorch_model.bin").write_bytes(
        b"\x80\x04\x8e" + struct.pack("<Q", 1 << 30) + b"x" * 100)  # BINBYTES8, 100 bytes follow
    out = measured_check(model_copy, timeout=10)
    assert out["measured"]["peak_rss_mb"] < 200
    [finding] = findings_on(out, "pytorch_model.bin")
    assert (finding["code"], finding["severity"]) == ("WL132", "error")


# --- hostile archives and pickles -----------------------------------------------------------------


def test_zip_bomb_data_pkl_is_bounded(model_copy: Path) -> None:
    """A 1 MB pytorch_model.bin whose data.pkl inflates to 200 MB of harmless opcodes."""
    (model_copy / "model.safetensors").unlink()
    with zipfile.ZipFile(model_copy / "pytorch_model.bin", "w", zipfile.ZIP_DEFLATED,
                         compresslevel=1) as zf:
        with zf.open("archive/data.pkl", "w", force_zip64=True) as f:
            f.write(b"\x80\x02")
            chunk = b"N0" * (1 << 20)  # NONE, POP: the stack never grows
            for _ in range(100):
                f.write(chunk)
            f.write(b"}.")
        zf.writestr("archive/version", b"3\n")
    assert (model_copy / "pytorch_model.bin").stat().st_size < 2 << 20
    out = measured_check(model_copy, timeout=4)
    assert out["measured"]["seconds"] < 2
    assert out["measured"]["peak_rss_mb"] < 200
    found = {f["code"]: f["severity"] for f in findings_on(out, "pytorch_model.bin")}
    assert found == {"WL132": "error", "WL603": "warning"}  # unread is not shown safe


def test_deeply_nested_tuple_key_in_a_pickle(model_copy: Path) -> None:
    """1.2 KB of opcodes: {((((...1,000,000 deep...)))): None}. Hashing the key recurses in C."""
    (model_copy / "model.safetensors").unlink()
    data = b"\x80\x02}" + b"N" + b"\x85" * 1_000_000 + b"Ns."
    with zipfile.ZipFile(model_copy / "pytorch_model.bin", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", data)
        zf.writestr("archive/version", b"3\n")
    proc = run_cli("check", str(model_copy), "--format", "json", timeout=30)
    assert proc.returncode in (0, 1), f"exit {proc.returncode} (-11/139: segfault) {proc.stderr}"
    report = json_report(proc)
    assert findings_on(report, "pytorch_model.bin")


def test_deeply_nested_rebuild_calls_in_a_pickle(model_copy: Path) -> None:
    """_rebuild_parameter(_rebuild_parameter(...50,000 deep...)): followed recursively."""
    (model_copy / "model.safetensors").unlink()
    n = 50_000
    data = (b"\x80\x02}" + b"X\x01\x00\x00\x00w" + b"ctorch._utils\n_rebuild_parameter\nq\x01"
            + b"h\x01" * (n - 1) + b"N" + b"\x85R" * n + b"s.")
    (model_copy / "pytorch_model.bin").write_bytes(data)
    proc = run_cli("check", str(model_copy), "--format", "json", timeout=30)
    report = json_report(proc)
    assert findings_on(report, "pytorch_model.bin")


# --- command lines that make no sense: exit 2 -----------------------------------------------------


def test_select_unknown_code(safetensors_model: Path) -> None:
    proc = run_cli("check", str(safetensors_model), "--select", "WL999")
    assert_clean_error(proc, "'WL999' matches no check code", "whyload rules")
    with pytest.raises(UsageError):
        whyload.check(str(safetensors_model), ignore=["XX1"])


@pytest.mark.parametrize(("args", "phrase"), [
    (["--format", "bogus"], "bogus"),
    (["--fail-on", "sometimes"], "sometimes"),
    (["--no-such-option"], "--no-such-option"),
])
def test_bad_option_is_a_usage_error(args: list[str], phrase: str, safetensors_model: Path) -> None:
    proc = run_cli("check", str(safetensors_model), *args)
    assert_clean_error(proc, phrase)


# --- exit codes follow the findings ---------------------------------------------------------------


def _fifo_weights(m: Path) -> None:
    (m / "model.safetensors").unlink()
    os.mkfifo(m / "model.safetensors")


def _no_files(m: Path) -> None:
    for p in m.iterdir():
        p.unlink()


def _huge_header(m: Path) -> None:
    (m / "model.safetensors").write_bytes(struct.pack("<Q", 2**63) + b"{")


def _only_non_utf8_weights(m: Path) -> None:
    _write_bytes_name(m, NON_UTF8, (m / "model.safetensors").read_bytes())
    (m / "model.safetensors").unlink()


@pytest.mark.parametrize("breaks", [_fifo_weights, _no_files, _huge_header,
                                    _only_non_utf8_weights],
                         ids=["fifo-weights", "empty-folder", "header-2**63", "non-utf8-weights"])
def test_error_finding_exits_1(breaks: Callable[[Path], None], model_copy: Path) -> None:
    """DESIGN.md: exit 0 when nothing reaches --fail-on (default error), 1 when something does."""
    breaks(model_copy)
    proc = run_cli("check", str(model_copy), timeout=15)
    assert "Traceback" not in proc.stderr
    assert "verdict: fails" in proc.stdout
    assert proc.returncode == 1, f"an error finding exited {proc.returncode}"


def test_fail_on_never_exits_0(model_copy: Path) -> None:
    _fifo_weights(model_copy)
    proc = run_cli("check", str(model_copy), "--fail-on", "never", timeout=15)
    assert "verdict: fails" in proc.stdout
    assert proc.returncode == 0


# --- property tests: readers never raise, whatever the bytes --------------------------------------

FUZZ = settings(max_examples=150, deadline=timedelta(seconds=2), derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ_CHECK = settings(FUZZ, max_examples=100)


def _header_is_consistent(h: SafetensorsHeader, file_size: int) -> None:
    assert isinstance(h, SafetensorsHeader)
    assert h.error is None or isinstance(h.error, HeaderError)
    if h.error is None:
        assert h.data_end == file_size


@FUZZ
@given(raw=st.binary(max_size=512) | st.text(max_size=300).map(str.encode),
       file_size=st.integers(0, 2**64))
def test_parse_header_never_raises(raw: bytes, file_size: int) -> None:
    _header_is_consistent(parse_header(raw, file_size), file_size)


@FUZZ
@given(data=st.binary(max_size=600), lie=st.integers(-8, 1 << 40))
def test_read_safetensors_header_never_raises_and_reads_only_what_it_may(
    data: bytes, lie: int
) -> None:
    for size in (len(data), max(0, len(data) + lie)):
        reader = CountingReader(data)
        header = read_safetensors_header(reader, size)
        _header_is_consistent(header, size)
        assert reader.bytes_read <= 8 + min(header.header_len or 0, 100_000_000)


@FUZZ
@given(head=st.binary(max_size=600), size=st.integers(0, 2**64), name=st.text(max_size=40),
       zero_filled=st.booleans())
def test_sniff_never_raises(head: bytes, size: int, name: str, zero_filled: bool) -> None:
    assert isinstance(sniff(head, size, name, zero_filled=zero_filled), Kind)


@FUZZ
@given(data=st.binary(max_size=600))
def test_walk_pickle_never_raises(data: bytes) -> None:
    stream = walk_pickle_bytes(data)
    assert isinstance(stream, PickleStream)
    assert stream.error is None or isinstance(stream.error, str)
    assert 0 <= stream.end <= len(data)


@st.composite
def mutations(draw: st.DrawFn, original: bytes, hot: int) -> bytes:
    """A few bytes overwritten (mostly in the first `hot` bytes, where the structure is), and
    perhaps a cut."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, min(hot, len(data)) - 1) | st.integers(0, len(data) - 1))
        data[pos] = draw(st.sampled_from(b'\x00 ",:[]{}019eE-\xff') | st.integers(0, 255))
    cut = draw(st.none() | st.integers(0, len(data)))
    return bytes(data if cut is None else data[:cut])


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory, safetensors_model: Path) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(safetensors_model / "config.json", folder)
    return folder


def _check_with(folder: Path, name: str, data: bytes) -> Report:
    for stale in ("model.safetensors", "pytorch_model.bin"):
        (folder / stale).unlink(missing_ok=True)
    (folder / name).write_bytes(data)
    report = whyload.check(str(folder))
    assert_well_formed(report)
    return report


@pytest.fixture(scope="module")
def safetensors_bytes(safetensors_model: Path) -> bytes:
    return (safetensors_model / "model.safetensors").read_bytes()


@FUZZ_CHECK
@given(data=st.data())
def test_mutated_safetensors_is_judged_like_the_library(
    data: st.DataObject, safetensors_bytes: bytes, fuzz_dir: Path
) -> None:
    """Differential: whyload reports an error on the file exactly when safetensors rejects it."""
    import safetensors

    (n,) = struct.unpack("<Q", safetensors_bytes[:8])
    mutated = data.draw(mutations(safetensors_bytes, 8 + n + 8))
    try:
        safetensors.deserialize(mutated)  # type: ignore[no-untyped-call]
        library_error = None
    except Exception as exc:  # SafetensorError, and whatever else the binding raises
        library_error = str(exc)
    report = _check_with(fuzz_dir, "model.safetensors", mutated)
    errors = [f.code for f in report.findings
              if f.file == "model.safetensors" and f.severity is Severity.ERROR]
    assert bool(errors) == (library_error is not None), (library_error, report.codes())


@pytest.fixture(scope="module")
def data_pkl(bin_model: Path) -> bytes:
    with zipfile.ZipFile(bin_model / "pytorch_model.bin") as zf:
        [name] = [n for n in zf.namelist() if n.endswith("/data.pkl")]
        return zf.read(name)


@FUZZ_CHECK
@given(data=st.data())
def test_mutated_data_pkl_never_raises(data: st.DataObject, data_pkl: bytes,
                                       fuzz_dir: Path) -> None:
    mutated = data.draw(mutations(data_pkl, len(data_pkl)))
    stream = walk_pickle_bytes(mutated)
    assert stream.error is None or isinstance(stream.error, str)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", mutated)
        zf.writestr("archive/version", b"3\n")
    report = _check_with(fuzz_dir, "pytorch_model.bin", buf.getvalue())
    if stream.error is not None:
        assert report.verdict is not Verdict.LOADS, report.codes()


@FUZZ_CHECK
@given(name=st.sampled_from(["model.safetensors", "pytorch_model.bin"]),
       data=st.binary(max_size=300) | st.builds(
           lambda n, rest: struct.pack("<Q", n) + rest,
           st.integers(0, 2**64 - 1), st.binary(max_size=200)))
def test_random_weights_file_never_raises(name: str, data: bytes, fuzz_dir: Path) -> None:
    report = _check_with(fuzz_dir, name, data)
    assert report.verdict is not Verdict.LOADS, (data[:40], report.codes())



@pytest.mark.parametrize("target", ["a--b/c", "my--model"])
def test_a_name_that_is_no_hub_id_and_no_path_is_a_clear_error(target: str,
                                                                tmp_path: Path) -> None:
    done = run_cli("check", target, cwd=tmp_path)
    assert done.returncode == 2 and "nor a valid hub id" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("name", "data", "hint"), [
    ("train.log", b"epoch 1 loss 0.3\n", "whyload explain"),
    ("notes.bin.txt", b"", "model folder"),
    ("blob.dat", bytes(range(256)) * 4, "model folder"),
])
def test_a_file_that_is_no_model_file_is_not_said_to_load(
        tmp_path: Path, name: str, data: bytes, hint: str) -> None:
    (tmp_path / name).write_bytes(data)
    done = run_cli("check", str(tmp_path / name))
    assert done.returncode == 2 and "is not a model file" in done.stderr, done.stderr
    assert hint in done.stderr and "verdict" not in done.stdout
