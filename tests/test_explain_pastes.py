"""whyload explain on logs as people paste them. Each failure is made here by the real libraries
(torch refusing a pickle, transformers' loading report, a broken cache link, a kill), its real
output captured, then wrapped the ways it reaches an issue tracker: a Jupyter cell with colours,
a rich traceback, a Windows machine with CRLF, logging and torchrun prefixes, a paste cut short,
several attempts in one log. The advice must stay safe: no weights_only=False for a file that
would run code, ignore_mismatched_sizes only last and with its warning, the real path in the fix.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import TINY_BERT, codes, only

from whyload.logs import explain
from whyload.logs.lines import without_prefix
from whyload.report import Category, Report, Severity, Verdict

OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "warning",
           "COLUMNS": "100",  # `python` in a fix is this interpreter, as in the user's venv
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
ANSI_RED, ANSI_GREEN, ANSI_RESET = "\x1b[0;31m", "\x1b[0;32m", "\x1b[0m"

SETUP = """
    import argparse, os, torch, numpy
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel, BertForSequenceClassification
    torch.manual_seed(0)
    config = BertConfig(**TINY)
    base = BertModel(config)
    base.save_pretrained("base")
    sd = base.state_dict()
    os.makedirs("ddp"); config.save_pretrained("ddp")
    torch.save({"module." + k: v for k, v in sd.items()}, "ddp/pytorch_model.bin")
    os.makedirs("foreign"); config.save_pretrained("foreign")
    save_file({f"layer_{i}.w": v.contiguous() for i, v in enumerate(sd.values())},
              "foreign/model.safetensors", metadata={"format": "pt"})
    BertForSequenceClassification(BertConfig(**{**TINY, "num_labels": 3})).save_pretrained("cls3")
    class Shell:
        def __reduce__(self):
            return (os.system, ("true",))
    class Evaluate:
        def __reduce__(self):
            return (eval, ("1 + 1",))
    torch.save({"w": torch.zeros(2), "hook": Shell()}, "system.bin")
    torch.save({"w": torch.zeros(2), "hook": Evaluate()}, "eval.bin")
    torch.save({"w": torch.zeros(2), "args": argparse.Namespace(lr=1e-3)}, "args.bin")
    torch.save({"w": torch.zeros(2), "best": numpy.float64(0.5)}, "metric.bin")
    with open("keys.json", "w") as out:
        json_keys = list(sd)
        import json; json.dump(json_keys, out)
"""

SCRIPTS = {
    "system": 'import torch\nckpt = torch.load("system.bin")\n',
    "eval": 'import torch\nckpt = torch.load("eval.bin")\n',
    "args": 'import torch\nckpt = torch.load("args.bin")\n',
    "metric": 'import torch\nckpt = torch.load("metric.bin")\n',
    "ddp": 'from transformers import AutoModel\nmodel = AutoModel.from_pretrained("ddp")\n',
    "foreign": 'from transformers import AutoModel\nmodel = AutoModel.from_pretrained("foreign")\n',
    "labels": ("from transformers import AutoModelForSequenceClassification\n"
               "model = AutoModelForSequenceClassification.from_pretrained("
               '"cls3", num_labels=5)\n'),
    "cached": ("from transformers import AutoModel\n"
               'model = AutoModel.from_pretrained("acme/tiny-bert")\n'),
}
# the same load printed by rich (a notebook or CLI that installs rich's traceback handler) and
# by a script that logs its failure with logging.exception
RICH = ("import sys\nfrom rich.console import Console\ntry:\n{body}except Exception:\n"
        "    Console(file=sys.stderr, width=100, color_system=None).print_exception()\n"
        "    sys.exit(1)\n")
LOGGED = ("import logging\nlogging.basicConfig(format='%(asctime)s - %(name)s - %(levelname)s - "
          "%(message)s')\ntry:\n{body}except Exception:\n"
          "    logging.getLogger('loader').exception('loading failed')\n")


def _indented(code: str) -> str:
    return textwrap.indent(code, "    ")


def _cache_with_broken_link(folder: Path, base: Path) -> Path:
    """acme/tiny-bert in an HF cache under `folder`, its model.safetensors blob deleted."""
    repo = folder / "hub" / "models--acme--tiny-bert"
    commit = "a" * 40
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for i, f in enumerate(sorted(base.iterdir())):
        blob = repo / "blobs" / f"{i:064x}"
        shutil.copy(f, blob)
        (snap / f.name).symlink_to(os.path.relpath(blob, snap))
    (snap / "model.safetensors").resolve().unlink()
    return folder / "hub"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The checkpoints, and the real output of each failing script (stdout and stderr together,
    as `2>&1 | tee` keeps them), plain, through rich, and through logging."""
    folder = tmp_path_factory.mktemp("pastes")
    setup = "TINY = " + repr(TINY_BERT | {"num_labels": 2}) + "\n" + textwrap.dedent(SETUP)
    _run(folder, "setup", setup, check=True)
    hub = _cache_with_broken_link(folder, folder / "base")
    outputs: dict[str, str] = {}
    for name, code in SCRIPTS.items():
        outputs[name] = _run(folder, name, code, hub=hub)
    for name in ("system", "cached"):
        outputs[f"{name}-rich"] = _run(folder, f"{name}_rich",
                                       RICH.format(body=_indented(SCRIPTS[name])), hub=hub)
        outputs[f"{name}-logged"] = _run(folder, f"{name}_logged",
                                         LOGGED.format(body=_indented(SCRIPTS[name])), hub=hub)
    narrow = RICH.format(body=_indented(SCRIPTS["cached"])).replace("width=100", "width=50")
    outputs["cached-rich-narrow"] = _run(folder, "cached_rich_narrow", narrow, hub=hub)
    keys = json.loads((folder / "keys.json").read_text())
    return {"folder": folder, "hub": hub, "out": outputs, "keys": keys}


def _run(folder: Path, name: str, code: str, *, hub: Path | None = None,
         check: bool = False) -> str:
    script = folder / f"{name}.py"
    script.write_text(code)
    env = {**OFFLINE, **({"HF_HUB_CACHE": str(hub)} if hub else {})}
    run = subprocess.run([sys.executable, script.name], cwd=folder, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
    text = run.stdout.decode("utf-8", "replace")
    assert (run.returncode == 0) == check or name.endswith(("ddp", "foreign")) or \
        name.endswith("logged"), text[-2000:]
    return text


def _out(world: dict[str, object], name: str) -> str:
    outputs = world["out"]
    assert isinstance(outputs, dict)
    return str(outputs[name])


def _explain(text: str, world: dict[str, object], *, check: bool = False,
             monkeypatch: pytest.MonkeyPatch | None = None) -> Report:
    """explain as run in the folder the user ran the script in."""
    if monkeypatch is not None:
        monkeypatch.chdir(Path(str(world["folder"])))
    return explain(io.StringIO(text), run_check=check)


# --- the ways a traceback is pasted ------------------------------------------------------------


def jupyter(plain: str, cell: str, *, cell_number: int = 3) -> str:
    """A real traceback as IPython 8 prints it in a notebook: a coloured header with the
    exception's name, "Cell In[n], line k" with "---->" at the failing line, each library frame
    as "File path:line, in func", colour codes throughout."""
    lines = plain.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("Traceback (most recent"))
    before, frames = lines[:start], lines[start + 1:]
    body = [i for i, line in enumerate(frames) if not line.startswith(" ")]
    exception_at = body[0] if body else len(frames)
    exception, message = frames[exception_at].split(":", 1)[0], frames[exception_at:]
    out = [*before, ANSI_RED + "-" * 75 + ANSI_RESET,
           f"{ANSI_RED}{exception}{ANSI_RESET}{' ' * max(1, 42 - len(exception))}Traceback (most "
           "recent call last)"]
    cell_lines = cell.splitlines()
    out.append(f"Cell In[{cell_number}], line {len(cell_lines)}")
    for k, source in enumerate(cell_lines, start=1):
        marker = f"{ANSI_GREEN}---->{ANSI_RESET} {k}" if k == len(cell_lines) else f"      {k}"
        out.append(f"{marker} {source}")
    out.append("")
    frame = re.compile(r'^  File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
    for i, line in enumerate(frames[:exception_at]):
        found = frame.match(line)
        if found is None or (found["path"].endswith(".py") and "site-packages" not in \
                found["path"]):
            continue
        path = found["path"].replace(str(Path.home()), "~")
        out.append(f"File {ANSI_GREEN}{path}:{found['line']}{ANSI_RESET}, in "
                   f"{found['func']}(...)")
        source = frames[i + 1].strip() if i + 1 < exception_at else ""
        out.append(f"{ANSI_GREEN}-> {found['line']}{ANSI_RESET} {source}")
        out.append("")
    out.extend(ANSI_RED + m + ANSI_RESET if j == 0 else m for j, m in enumerate(message))
    return "\n".join(out) + "\n"


def windows(text: str, folder: Path) -> str:
    """The same output on a Windows machine: its paths, its line ends."""
    home = "C:\\Users\\ana\\project"
    text = text.replace(str(folder), home).replace(sys.prefix, "C:\\Users\\ana\\venv")
    text = re.sub(r'File "([^"]+)"', lambda m: 'File "' + m[1].replace("/", "\\") + '"', text)
    return text.replace("\n", "\r\n")


def prefixed(text: str, prefix: str) -> str:
    return "".join(prefix + line + "\n" for line in text.splitlines())


# --- Logs as people paste them -----------------------------------------------------------------


def test_real_weights_only_refusals_as_torch_prints_them(world: dict[str, object]) -> None:
    """torch 2.13's two texts: a denied module's 'unsupported GLOBAL posix.system whose module
    posix is blocked', and 'Unsupported global: GLOBAL eval was not an allowed global'."""
    assert "unsupported GLOBAL posix.system whose module posix is blocked" in _out(world,
                                                                                "system")
    assert "Unsupported global: GLOBAL eval was not an allowed global" in _out(world, "eval")
    for name, global_name in (("system", "posix.system"), ("eval", "builtins.eval")):
        report = _explain(_out(world, name), world)
        finding = only(report, "WL630")
        assert "WL210" not in codes(report)
        assert finding.category is Category.SECURITY and finding.severity is Severity.ERROR
        assert finding.evidence["global"] == global_name
        assert finding.evidence["file"] == f"{name}.bin"
        assert "run code when loaded" in finding.title
        assert "weights_only=False" not in finding.fix
        assert f"whyload check {name}.bin" in finding.fix


@pytest.mark.parametrize("shape", ["jupyter", "rich", "windows", "logged", "rank-prefixed",
                                   "docker-timestamps", "last-lines"])
def test_a_refused_global_that_runs_code_in_every_shape(shape: str,
                                                        world: dict[str, object]) -> None:
    plain = _out(world, "system")
    text = {
        "jupyter": lambda: jupyter(plain, "import torch\nckpt = torch.load(\"system.bin\")"),
        "rich": lambda: _out(world, "system-rich"),
        "windows": lambda: windows(plain, Path(str(world["folder"]))),
        "logged": lambda: _out(world, "system-logged"),
        "rank-prefixed": lambda: prefixed(plain, "[rank0]: "),
        "docker-timestamps": lambda: prefixed(plain, "2026-11-28T12:00:01.123456789Z stderr F "),
        "last-lines": lambda: "\n".join(plain.splitlines()[-6:]) + "\n",
    }[shape]()
    if shape == "rich":
        assert "╭" in text and "│" in text
    if shape == "logged":
        assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - loader - ERROR - loading failed",
                         text, re.M)
    report = _explain(text, world)
    finding = only(report, "WL630")
    assert finding.evidence["global"] == "posix.system"
    assert all("weights_only=False" not in (f.fix or "") for f in report.findings)
    if shape != "last-lines":  # the cut paste lost the line that named the file
        assert finding.evidence["file"] == "system.bin"


@pytest.mark.parametrize(("name", "global_name", "imported"), [
    ("args", "argparse.Namespace", "import argparse; "),
    ("metric", "numpy._core.multiarray.scalar", "from numpy._core.multiarray import scalar; "),
])
def test_a_data_global_gets_add_safe_globals_that_works(
        name: str, global_name: str, imported: str, world: dict[str, object],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fix names the exact global and the real file, and running it loads the file with
    weights_only=True (the re-save writes a new .safetensors beside it)."""
    report = _explain(jupyter(_out(world, name), f'ckpt = torch.load("{name}.bin")'), world)
    finding = only(report, "WL210")
    assert finding.evidence["global"] == global_name
    assert imported in finding.fix and f"'{name}.bin'" in finding.fix
    assert "weights_only=False" not in finding.fix
    folder = Path(str(world["folder"]))
    for command in re.findall(r'python -c "[^"]+"', finding.fix):
        run = subprocess.run(command, shell=True, cwd=folder, capture_output=True, text=True,
                             env=OFFLINE, timeout=120)
        assert run.returncode == 0, (command, run.stderr[-1500:])
    assert (folder / f"{name}.safetensors").is_file()


def test_a_weights_only_refusal_without_the_global_never_says_weights_only_false(
        world: dict[str, object]) -> None:
    """A paste cut before torch named the global: check the file first, never unpickle it."""
    lines = _out(world, "args").splitlines()
    cut = [line for line in lines if "Unsupported global" not in line]
    finding = only(_explain("\n".join(cut) + "\n", world), "WL210")
    assert "weights_only=False" not in finding.fix
    assert "whyload check args.bin" in finding.fix


def test_a_paste_cut_to_its_first_lines_is_explained_by_the_file_it_names(
        world: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the head of the traceback: the message is gone, but the code line names the file,
    and check on that file finds the pickle that runs code."""
    head = "\n".join(_out(world, "system").splitlines()[:3]) + "\n"
    assert "torch.load(\"system.bin\")" in head and "GLOBAL" not in head
    report = _explain(head, world, check=True, monkeypatch=monkeypatch)
    assert report.facts["code_calls"] == [{"target": "system.bin", "class": "torch.load"}]
    security = [f for f in report.findings if f.category is Category.SECURITY]
    assert security and security[0].severity is Severity.ERROR
    assert security[0].evidence["checked"] == "system.bin"


# --- every key reported missing -----------------------------------------------------------------


@pytest.mark.parametrize("shape", ["plain", "jupyter", "windows", "logged-prefix"])
def test_a_wrapper_prefix_is_named_with_a_fix_that_works(
        shape: str, world: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _out(world, "ddp")
    assert "LOAD REPORT" in plain and "module.embeddings.word_embeddings.weight" in plain
    text = {"plain": plain,
            "jupyter": plain + "\n",  # a warning in a notebook is the same text
            "windows": windows(plain, Path(str(world["folder"]))),
            "logged-prefix": prefixed(plain, "INFO:transformers.modeling_utils:")}[shape]
    finding = only(_explain(text, world), "WL410")
    assert finding.evidence["prefix"] == "module."
    assert finding.evidence["all_missing"] is True
    assert "'ddp'" in finding.fix and "removeprefix('module.')" in finding.fix
    if shape == "plain":
        _run_fix_and_load(finding.fix, Path(str(world["folder"])), "ddp-module-stripped")


def _run_fix_and_load(fix: str, folder: Path, out: str) -> None:
    """Run the fix's command where the user ran the script; the new folder loads every key."""
    (command,) = re.findall(r'python -c "[^"]+"', fix)
    run = subprocess.run(command, shell=True, cwd=folder, capture_output=True, text=True,
                         env=OFFLINE, timeout=240)
    assert run.returncode == 0, run.stderr[-1500:]
    from transformers import AutoModel

    _, info = AutoModel.from_pretrained(folder / out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert (folder / "ddp" / "pytorch_model.bin").is_file()  # the original stays


def _v4_warnings(path: str, keys: list[str], prefix: str) -> str:
    """The sentences transformers 4 printed for the same load (its logger's format), with the
    real key names of the model."""
    unused = [prefix + k for k in keys]
    return (
        f"Some weights of the model checkpoint at {path} were not used when initializing "
        f"BertModel: {unused}\n"
        "- This IS expected if you are initializing BertModel from the checkpoint of a model "
        "trained on another task or with another architecture (e.g. initializing a "
        "BertForSequenceClassification model from a BertForPreTraining model).\n"
        "- This IS NOT expected if you are initializing BertModel from the checkpoint of a "
        "model that you expect to be exactly identical (initializing a "
        "BertForSequenceClassification model from a BertForSequenceClassification model).\n"
        f"Some weights of BertModel were not initialized from the model checkpoint at {path} and "
        f"are newly initialized: {keys}\n"
        "You should probably TRAIN this model on a down-stream task to be able to use it for "
        "predictions and inference.\n")


@pytest.mark.parametrize(("prefix", "code"), [("module.", "WL410"), ("model.", "WL411")])
def test_transformers_4_sentences_name_the_prefix(prefix: str, code: str,
                                                  world: dict[str, object]) -> None:
    keys = world["keys"]
    assert isinstance(keys, list)
    log = prefixed(_v4_warnings("./ddp", keys, prefix),
                   "2021-06-01 10:00:00,000 - transformers.modeling_utils - WARNING - ")
    finding = only(_explain(log, world), code)
    assert finding.evidence["prefix"] == prefix
    assert "'./ddp'" in finding.fix and f"removeprefix({prefix!r})" in finding.fix


def test_names_that_match_nothing_say_so(world: dict[str, object]) -> None:
    """A checkpoint saved under other names: every weight random, no prefix to strip."""
    report = _explain(_out(world, "foreign"), world)
    finding = only(report, "WL470")
    assert finding.severity is Severity.ERROR and finding.evidence["all_missing"] is True
    assert finding.evidence["prefix"] is None
    assert "whyload check foreign" in finding.fix
    assert "WL410" not in codes(report) and "WL402" not in codes(report)


# --- use what the log names ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["plain", "rich", "logged", "jupyter-windows"])
def test_a_cached_repo_with_a_broken_link_names_the_link(
        shape: str, world: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _out(world, "cached")
    assert "acme/tiny-bert does not appear to have a file named" in plain
    hub = Path(str(world["hub"]))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    text = {"plain": lambda: plain, "rich": lambda: _out(world, "cached-rich"),
            "logged": lambda: _out(world, "cached-logged"),
            "jupyter-windows": lambda: windows(jupyter(plain, SCRIPTS["cached"]),
                                               Path(str(world["folder"])))}[shape]()
    report = _explain(text, world, check=True)
    assert report.findings[0].code == "WL150", [(f.code, f.title) for f in report.findings]
    link = report.findings[0]
    assert link.file == "model.safetensors" and link.evidence["checked"] == "acme/tiny-bert"
    assert link.fix.startswith("hf download acme/tiny-bert model.safetensors")
    symptom = [f for f in report.findings if f.code != "WL150"]
    assert all(f.severity is Severity.INFO and f.evidence["explained_by"] == ["WL150"]
               for f in symptom)
    assert report.facts["checked"][0]["class"] == "AutoModel"  # type: ignore[index]


def test_a_hub_id_not_in_the_cache_is_reported_unchecked(hf_cache: Path) -> None:
    log = ("model = AutoModel.from_pretrained('acme/not-here')\n"
           "OSError: acme/not-here does not appear to have a file named config.json.\n")
    report = explain(io.StringIO(log))
    assert report.facts["checked"] == []
    assert [u["target"] for u in report.facts["not_checked"]] == ["acme/not-here"]  # type: ignore


def test_a_message_rich_wrapped_mid_phrase_is_read_whole(world: dict[str, object]) -> None:
    """rich wraps the exception's message at the terminal's width: at 50 columns the phrase
    that names the failure is cut in two lines, and no single line holds it."""
    text = _out(world, "cached-rich-narrow")
    assert not any("does not appear to have a file named" in line for line in text.splitlines())
    header = next(i for i, line in enumerate(text.splitlines(), 1)
                  if line.startswith("OSError: acme/tiny-bert"))
    report = _explain(text, world)
    assert report.findings and report.findings[0].evidence["line"] == header
    assert report.findings[0].code == only(_explain(_out(world, "cached"), world),
                                           report.findings[0].code).code


# --- advice never riskier than the problem ------------------------------------------------------


def test_torch_s_own_size_mismatch_puts_the_labels_before_random_weights() -> None:
    """torch's load_state_dict text (what transformers 3 and 4 raised for a head of another
    size), made here by torch itself."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    three = BertForSequenceClassification(BertConfig(**TINY_BERT))
    five = BertForSequenceClassification(BertConfig(**{**TINY_BERT, "num_labels": 5}))
    with pytest.raises(RuntimeError) as raised:
        five.load_state_dict(three.state_dict())
    assert isinstance(raised.value, RuntimeError) and torch.__version__
    text = f"RuntimeError: {raised.value}\n"
    assert "size mismatch for classifier.weight" in text
    finding = explain(io.StringIO(text), run_check=False).by_code("WL310")[0]
    fix = finding.fix
    assert "3 labels" in fix and fix.index("num_labels=3") < fix.index("ignore_mismatched_sizes")
    assert "random" in fix[fix.index("ignore_mismatched_sizes"):]


def test_a_head_of_another_size_is_fixed_by_the_labels_before_random_weights(
        world: dict[str, object]) -> None:
    finding = only(_explain(_out(world, "labels"), world), "WL310")
    fix = finding.fix
    assert fix.startswith("the checkpoint's head has 3 labels: load it without num_labels")
    assert fix.index("num_labels=3") < fix.index("ignore_mismatched_sizes=True")
    assert "random" in fix[fix.index("ignore_mismatched_sizes=True"):]


def test_ignore_mismatched_sizes_is_never_advised_for_a_quantized_checkpoint() -> None:
    """bitsandbytes 4-bit weights read without the quantizer: the packed shapes mismatch."""
    log = ("BertModel LOAD REPORT from: acme/bert-4bit\n"
           "Key | Status | Details\n"
           "encoder.layer.0.attention.self.query.weight | MISMATCH | Reinit due to size mismatch "
           "- ckpt: torch.Size([512, 1]) vs model:torch.Size([32, 32])\n"
           "encoder.layer.0.attention.self.query.weight.absmax | UNEXPECTED | \n"
           "encoder.layer.0.attention.self.query.weight.quant_map | UNEXPECTED | \n"
           "encoder.layer.0.attention.self.query.weight.quant_state.bitsandbytes__nf4 | "
           "UNEXPECTED | \n")
    report = explain(io.StringIO(log), run_check=False)
    assert {"WL361", "WL362"} & set(codes(report)), codes(report)
    for finding in report.findings:
        fix = finding.fix or ""
        assert "ignore_mismatched_sizes=True" not in fix or \
            re.search(r"(?:never|do not) pass ignore_mismatched_sizes=True", fix), fix


def test_placeholders_get_the_model_the_log_names() -> None:
    log = ('model = AutoModel.from_pretrained("acme/bert-ft")\n'
           "OSError: acme/bert-ft does not appear to have a file named pytorch_model.bin, "
           "model.safetensors, tf_model.h5, model.ckpt or flax_model.msgpack.\n")
    report = explain(io.StringIO(log), run_check=False)
    assert report.findings
    for finding in report.findings:
        assert not re.search(r"<(?:model|repo id|folder|path)>", finding.fix or ""), finding.fix
    assert any("acme/bert-ft" in (f.fix or "") for f in report.findings)


# --- several attempts, kills ---------------------------------------------------------------------


def test_several_attempts_diagnose_the_last_and_mention_the_others(
        world: dict[str, object]) -> None:
    log = ("$ python load.py\n" + _out(world, "args") + "$ vim load.py && python load.py\n"
           + _out(world, "labels"))
    report = _explain(log, world)
    assert report.facts["attempts"] == 2
    assert report.findings[0].code == "WL310" and report.findings[0].severity is Severity.ERROR
    earlier = only(report, "WL210")
    assert earlier.severity is Severity.INFO and earlier.evidence["attempt"] == "earlier"
    assert earlier.title.startswith("An earlier attempt")
    assert report.verdict is Verdict.FAILS


def test_a_kill_after_an_error_is_the_last_attempt(world: dict[str, object]) -> None:
    log = _out(world, "args") + "$ python load.py --no-args\nLoading weights: 10%\nKilled\n"
    report = _explain(log, world)
    assert report.facts["attempts"] == 2
    assert [(f.code, f.severity) for f in report.findings] == [
        ("WL500", Severity.ERROR), ("WL210", Severity.INFO)]


def test_a_chained_traceback_is_one_attempt(world: dict[str, object]) -> None:
    """transformers 5 raises from inside huggingface_hub's error ("The above exception was the
    direct cause"): one attempt, not two."""
    text = _out(world, "cached")
    chained = "The above exception was the direct cause" in text or \
        "During handling of the above exception" in text
    report = _explain(text, world)
    assert report.facts["attempts"] == 1, chained
    assert all(f.evidence.get("attempt") != "earlier" for f in report.findings)


def test_kills_as_shells_and_tools_report_them(tmp_path: Path) -> None:
    """Real SIGKILLs: bash's job notice, subprocess's CalledProcessError, and the one-word
    'Killed'; each is the out-of-memory kill."""
    kill = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    bash = subprocess.run(["bash", "-c", f"{sys.executable} -c '{kill}'; true"],
                          capture_output=True, text=True, timeout=60)
    assert "Killed" in bash.stderr
    called = subprocess.run([sys.executable, "-c", "import subprocess, sys; subprocess.run("
                             f"[sys.executable, '-c', {kill!r}], check=True)"],
                            capture_output=True, text=True, timeout=60)
    assert "non-zero exit status -9" in called.stderr or "died with" in called.stderr
    for text in (bash.stderr, called.stderr, "Killed\n",
                 "Process finished with exit code 137 (interrupted by signal 9: SIGKILL)\n"):
        report = explain(io.StringIO("Loading checkpoint shards: 50%\n" + text), run_check=False)
        assert codes(report) == ["WL500"], text


def test_the_normalised_shapes_read_as_python_writes_them() -> None:
    assert without_prefix("OSError                                   Traceback (most recent "
                          "call last)") == "Traceback (most recent call last):"
    assert without_prefix("Cell In[3], line 5").startswith("  ")
    assert without_prefix("File ~/.venv/lib/x.py:12, in f(a)").startswith("  ")
    assert without_prefix("╭──── Traceback (most recent call last) ────╮").startswith("Traceback")
    assert without_prefix("│ ❱ 5 x = 1   │") == "  5 x = 1"
    assert without_prefix("2024-05-01 12:00:00,123 - ERROR - OSError: x") == "OSError: x"
    assert without_prefix("INFO:root:OSError: x") == "OSError: x"
    assert without_prefix("2024-05-01 12:00:00.123 | ERROR    | m:f:12 - OSError: x") == \
        "OSError: x"
    assert without_prefix("2023 was a good year") == "2023 was a good year"


@pytest.mark.parametrize(("module", "name", "args", "global_name"), [
    ("builtins", "getattr", (1, "real"), "builtins.getattr"),
    ("builtins", "exec", ("x = 1",), "builtins.exec"),
    ("pickle", "loads", (b"N.",), "pickle.loads"),
    ("cProfile", "run", ("1",), "cProfile.run"),
    ("timeit", "timeit", ("1",), "timeit.timeit"),
    ("subprocess", "call", (["true"],), "subprocess.call"),
    ("runpy", "run_path", ("x.py",), "runpy.run_path"),
])
def test_every_global_that_runs_code_is_a_security_finding(
        module: str, name: str, args: tuple[object, ...], global_name: str,
        tmp_path: Path) -> None:
    """torch refuses each before calling it (nothing runs here); explain reads torch's real
    text and classifies the global with whyload's own pickle-global table."""
    import importlib
    import traceback

    import torch

    function = getattr(importlib.import_module(module), name)

    class Hook:
        def __reduce__(self) -> tuple[object, ...]:
            return (function, args)

    path = tmp_path / "hook.pt"
    torch.save({"w": torch.zeros(1), "hook": Hook()}, path)
    with pytest.raises(Exception) as raised:
        torch.load(path)
    text = "ckpt = torch.load('hook.pt')\n" + "".join(
        traceback.format_exception(raised.value))
    assert "GLOBAL" in text, text[-600:]
    report = explain(io.StringIO(text), run_check=False)
    finding = only(report, "WL630")
    assert finding.evidence["global"] == global_name, text[-600:]
    assert all("weights_only=False" not in (f.fix or "") for f in report.findings)
