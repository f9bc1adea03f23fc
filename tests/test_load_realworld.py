"""whyload load from a user's side: odd arguments, a model that needs its own code, a time limit
that really fires; never a traceback, the documented exit codes, the JSON schema."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from conftest import edit_config, run_cli

from whyload.errors import UsageError
from whyload.probe.load import run_load


def _clean(stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-2000:]


def _json_report(stdout: str) -> dict[str, object]:
    report: dict[str, object] = json.loads(stdout)
    assert report["schema"] == "whyload.report/2" and report["command"] == "load"
    assert isinstance(report["facts"], dict) and "outcome" in report["facts"]
    return report


@pytest.mark.parametrize("args", [
    ["--timeout", "nan"], ["--timeout", "inf"], ["--timeout", "-1"], ["--timeout", "0"],
    ["--memory-limit", "-5G"], ["--memory-limit", "0"], ["--memory-limit", "1e3"],
    ["--memory-limit", ""], ["--memory-limit", "lots"], ["--memory-limit", "1K"],
    ["--dtype", "odd"],
], ids=lambda a: " ".join(a) or "empty")
def test_nonsense_limits_are_usage_errors_before_any_load(args: list[str],
                                                          safetensors_model: Path) -> None:
    run = run_cli("load", str(safetensors_model), *args)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "real load" not in run.stdout, "nothing may be loaded for a usage error"
    _clean(run.stderr)


@pytest.mark.parametrize("limits", [{"timeout_s": math.nan}, {"timeout_s": 0.0},
                                    {"timeout_s": math.inf}, {"memory_limit": 0}])
def test_the_api_refuses_nonsense_limits(limits: dict[str, float], safetensors_model: Path
                                         ) -> None:
    with pytest.raises(UsageError):
        run_load(str(safetensors_model), **limits)  # type: ignore[arg-type]


def test_a_missing_path_is_exit_2(tmp_path: Path) -> None:
    run = run_cli("load", str(tmp_path / "nope"), "--format", "json")
    assert run.returncode == 2 and run.stdout == ""
    _clean(run.stderr)


def test_a_time_limit_that_fires_is_reported_in_json(safetensors_model: Path) -> None:
    run = run_cli("load", str(safetensors_model), "--timeout", "0.05", "--format", "json",
                  timeout=120)
    assert run.returncode == 1
    _clean(run.stderr)
    report = _json_report(run.stdout)
    assert report["facts"]["outcome"] == "timeout"  # type: ignore[index]
    [finding] = report["findings"]  # type: ignore[misc]
    assert finding["code"] == "WL551"
    assert "in 0 s" not in finding["title"], "a limit under a second is shown as it was"


@pytest.fixture(scope="module")
def remote_code_model(safetensors_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """auto_map pointing at code that leaves a mark beside itself when it is imported."""
    folder = tmp_path_factory.mktemp("remote") / "model"
    shutil.copytree(safetensors_model, folder)
    edit_config(folder, model_type="markbert", architectures=["MarkModel"],
                auto_map={"AutoConfig": "configuration_mark.MarkConfig",
                          "AutoModel": "modeling_mark.MarkModel"})
    code = ("import pathlib\npathlib.Path(__file__).with_name('CODE_RAN').write_text('1')\n"
            "from transformers import BertConfig, BertModel\n"
            "class MarkConfig(BertConfig):\n    model_type = 'markbert'\n"
            "class MarkModel(BertModel):\n    config_class = MarkConfig\n")
    for name in ("configuration_mark.py", "modeling_mark.py"):
        (folder / name).write_text(code)
    return folder


@pytest.mark.parametrize("extra", [[], ["--class", "AutoModel"]], ids=["default", "auto-class"])
def test_remote_code_is_refused_without_the_flag_and_never_imported(
        remote_code_model: Path, extra: list[str]) -> None:
    run = run_cli("load", str(remote_code_model), "--format", "json", *extra, timeout=180)
    assert not (remote_code_model / "CODE_RAN").exists(), "the model's code ran"
    assert run.returncode == 1, run.stderr[-2000:]
    _clean(run.stderr)
    report = _json_report(run.stdout)
    assert report["facts"]["outcome"] == "exception"  # type: ignore[index]
    first = report["findings"][0]  # type: ignore[index]
    assert first["code"] == "WL430" and first["severity"] == "error", report["findings"]
    assert "trust_remote_code" in first["fix"]


def test_a_device_map_transformers_rejects_is_not_blamed_on_accelerate(
        safetensors_model: Path) -> None:
    run = run_cli("load", str(safetensors_model), "--device-map", "weird", "--format", "json",
                  timeout=180)
    assert run.returncode == 1
    _clean(run.stderr)
    report = _json_report(run.stdout)
    found = [f["code"] for f in report["findings"]]  # type: ignore[attr-defined, index]
    assert "WL554" not in found, report["findings"]
    assert "weird" in json.dumps(report["findings"])


def test_a_class_that_does_not_exist_is_named_in_text(safetensors_model: Path) -> None:
    run = run_cli("load", str(safetensors_model), "--class", "BertForSequenceClasification",
                  timeout=180)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "did you mean BertForSequenceClassification" in run.stderr


def test_a_config_json_target_loads_its_folder(safetensors_model: Path) -> None:
    run = run_cli("load", str(safetensors_model / "config.json"), "--format", "json",
                  timeout=180)
    assert run.returncode == 0, run.stdout[-2000:]
    _clean(run.stderr)
    assert _json_report(run.stdout)["facts"]["outcome"] == "loaded"  # type: ignore[index]


def test_a_cap_larger_than_the_kernel_takes_still_loads(safetensors_model: Path) -> None:
    """RLIMIT_AS refuses it; the load goes on under the watch on resident memory."""
    run = run_cli("load", str(safetensors_model), "--memory-limit", "99999999T", "--format",
                  "json", timeout=180)
    _clean(run.stderr)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _json_report(run.stdout)["facts"]["outcome"] == "loaded"  # type: ignore[index]


def test_the_guarded_loader_refuses_a_dtype_torch_lacks(safetensors_model: Path) -> None:
    import whyload

    with pytest.raises(UsageError, match="not a torch dtype"), \
            whyload.load(str(safetensors_model), dtype="odd"):
        pass


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_stopping_whyload_stops_the_load_it_started(sig: str, safetensors_model: Path) -> None:
    """The child runs in a session of its own (the timeout kills its whole group), so Ctrl-C in
    the terminal reaches only whyload: the load must end with it, not hold memory alone."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    parent = subprocess.Popen(
        [sys.executable, "-m", "whyload", "load", str(safetensors_model)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    children: list[psutil.Process] = []
    while not children and time.monotonic() < deadline and parent.poll() is None:
        children = [c for c in psutil.Process(parent.pid).children(recursive=True)
                    if "whyload.probe.child" in " ".join(_cmdline(c))]
        time.sleep(0.05)
    assert children, "the load child never started"
    time.sleep(1)  # past its start: importing torch and loading take seconds more
    parent.send_signal(getattr(signal, sig))
    _, stderr = parent.communicate(timeout=60)
    _clean(stderr.decode())
    _, alive = psutil.wait_procs(children, timeout=2)
    alive = [p for p in alive if _status(p) not in (psutil.STATUS_ZOMBIE, None)]
    for process in alive:
        process.kill()
    assert not alive, f"{len(alive)} load processes outlived whyload"


def _cmdline(process: object) -> list[str]:
    import psutil

    try:
        return list(process.cmdline())  # type: ignore[attr-defined]
    except psutil.Error:
        return []


def _status(process: object) -> str | None:
    import psutil

    try:
        return str(process.status())  # type: ignore[attr-defined]
    except psutil.Error:
        return None


@pytest.mark.parametrize(("name", "said"), [
    ("train.log", "is not a model file"),  # check refuses it already
    ("backup.dat", "is not a weights file"),  # weights by its bytes, but not what loading reads
])
def test_a_file_that_is_not_the_model_is_refused_not_its_folder_loaded(
        safetensors_model: Path, tmp_path: Path, name: str, said: str) -> None:
    """`whyload load notes.txt` beside a model would have loaded the folder and said 'loaded'."""
    import whyload

    folder = tmp_path / "model"
    shutil.copytree(safetensors_model, folder)
    notes = folder / name
    if name.endswith(".log"):
        notes.write_text("step 1 loss=0.7\n")
    else:
        shutil.copy(folder / "model.safetensors", notes)
    run = run_cli("load", str(notes))
    assert run.returncode == 2 and said in run.stderr, run.stderr
    assert run.stdout == ""
    _clean(run.stderr)
    with pytest.raises(whyload.errors.TargetError), whyload.load(str(notes)):
        pass


@pytest.mark.parametrize("name", ["BertTokenizer", "AutoConfig"])
def test_a_class_that_is_not_a_model_is_named_before_from_pretrained(
        name: str, safetensors_model: Path) -> None:
    """Both have from_pretrained: they used to 'load' and fail unpacking the result (WL441).
    Now --class is checked against transformers' model classes before anything loads."""
    import whyload

    with pytest.raises(whyload.UsageError, match="is not a model class"):
        run_load(str(safetensors_model), model_class=name)
    with pytest.raises(whyload.UsageError, match="is not a model class"), \
            whyload.load(str(safetensors_model), cls=name):
        pass
