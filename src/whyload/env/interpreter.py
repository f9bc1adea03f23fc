"""The Python that will load the model, and what is installed in it.

whyload often runs in a venv of its own (pipx, uvx, pre-commit) while the model is loaded by
the user's training Python: the versions that matter are that one's. The choice is made here
and nowhere else: --python when given, else the active virtual environment, else the active
conda environment, else the interpreter whyload runs in. An active venv comes before conda
because it is what `python` means in that shell. Another interpreter answers for itself in a
short child process that runs env/versions.py's text: stdlib only, nothing imported from the
packages it reports, no torch in whyload's process. Its environment is the user's (PYTHONPATH
and user site-packages included), so it sees what their `python train.py` would see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from whyload.env import versions
from whyload.env.versions import ANSWER_PREFIX, TorchBuild, runtime_facts
from whyload.errors import UsageError

THIS_PROCESS = "this process"
ACTIVE_ENVIRONMENTS = ("VIRTUAL_ENV", "CONDA_PREFIX")  # the first one set decides
EXECUTABLES_IN_ENVIRONMENT = ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe")
ANSWER_TIMEOUT_S = 20.0
HINT = "--python takes the interpreter that loads the model: /path/to/venv/bin/python, or the " \
    "venv or conda folder"


@dataclass(frozen=True)
class Interpreter:
    path: str  # as given (venv executables are symlinks: resolving would leave the venv)
    chosen_by: str  # "--python", "VIRTUAL_ENV", "CONDA_PREFIX" or "this process"
    this_process: bool  # whyload's own interpreter: its facts are read in-process


@dataclass(frozen=True)
class Runtime:
    """What an interpreter can load with."""

    python: str
    platform: str
    versions: dict[str, str | None]
    torch_build: TorchBuild | None
    model_types: frozenset[str] | None  # what its transformers knows


def target_interpreter(python: str | None,
                       environ: Mapping[str, str] | None = None) -> Interpreter:
    """The interpreter that will load the model. UsageError when the one named does not exist
    or is no executable (whether it is a Python is known once it answers: read_runtime)."""
    environ = os.environ if environ is None else environ
    if python:
        return _named(python, "--python")
    for variable in ACTIVE_ENVIRONMENTS:
        folder = environ.get(variable)
        if not folder:
            continue
        if _same_path(folder, sys.prefix):
            break
        return _named(folder, variable)
    return this_interpreter()


def this_interpreter() -> Interpreter:
    return Interpreter(sys.executable, THIS_PROCESS, this_process=True)


def _named(text: str, chosen_by: str) -> Interpreter:
    where = f"{text} (from {chosen_by})" if chosen_by != "--python" else text
    path = Path(text).expanduser()
    if not path.exists():
        raise UsageError(f"{where} does not exist", hint=HINT)
    if path.is_dir():
        found = next((path / name for name in EXECUTABLES_IN_ENVIRONMENT
                      if (path / name).is_file()), None)
        if found is None:
            raise UsageError(f"{where} is a folder without bin/python: not a virtual or conda "
                             "environment", hint=HINT)
        path = found
    if not path.is_file() or not os.access(path, os.X_OK):
        raise UsageError(f"{where} is not an executable Python interpreter", hint=HINT)
    executable = os.path.abspath(path)
    return Interpreter(executable, chosen_by, this_process=_is_this_process(Path(executable)))


def _same_path(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _is_this_process(executable: Path) -> bool:
    venv = executable.parent.parent
    if (venv / "pyvenv.cfg").is_file():  # a venv has one interpreter: its folder says which
        return _same_path(venv, sys.prefix)
    return sys.prefix == sys.base_prefix and _same_path(executable, sys.executable)


def read_runtime(interpreter: Interpreter, timeout_s: float = ANSWER_TIMEOUT_S) -> Runtime:
    """The interpreter's versions, torch build and transformers model types: read in this
    process for whyload's own interpreter, else asked of the interpreter. UsageError when it
    does not answer like a Python."""
    if interpreter.this_process:
        return _runtime(runtime_facts())
    source = Path(versions.__file__).read_text("utf-8")
    try:
        done = subprocess.run([interpreter.path, "-c", source], capture_output=True, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired:
        raise UsageError(f"{interpreter.path} did not answer within {timeout_s:.0f} s",
                         hint=HINT) from None
    except OSError as exc:
        raise UsageError(f"{interpreter.path} cannot be run: {exc.strerror or exc}",
                         hint=HINT) from None
    answer = next((line[len(ANSWER_PREFIX):] for line in reversed(done.stdout.splitlines())
                   if line.startswith(ANSWER_PREFIX)), None)
    try:
        facts = json.loads(answer) if answer is not None else None
    except ValueError:
        facts = None
    if not isinstance(facts, dict):
        said = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise UsageError(f"{interpreter.path} is not a Python interpreter whyload can ask "
                         f"(it answered: {said[:200]})", hint=HINT)
    return _runtime(facts)


def _runtime(facts: Mapping[str, object]) -> Runtime:
    build = facts.get("torch_build")
    types = facts.get("model_types")
    found = facts.get("versions")
    return Runtime(
        python=str(facts.get("python") or "?"),
        platform=str(facts.get("platform") or "?"),
        versions={str(k): (str(v) if v is not None else None)
                  for k, v in (found.items() if isinstance(found, dict) else ())},
        torch_build=TorchBuild(str(build.get("version")), _text(build.get("cuda")),
                               _text(build.get("hip"))) if isinstance(build, dict) else None,
        model_types=frozenset(str(t) for t in types) if isinstance(types, list) else None,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)

