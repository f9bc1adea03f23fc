"""Generate src/whyload/knowledge/model_classes.json from the installed transformers.

The classes, their model_types and heads, and every Auto class's model_type -> class mapping are
read from transformers' sources with ast (whyload.knowledge.transformers_sources, the reader
`check` also runs on another installed version). With --cross-check, transformers is
imported and every recorded class is compared with the real one: it exists, its
config_class.model_type and base_model_prefix are the recorded ones, and each Auto class's
mapping names the recorded classes.

    .venv/bin/python scripts/gen_model_classes.py [--cross-check] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from whyload.knowledge.model_classes import DATA_FILE, ModelClasses, dump_json  # noqa: E402
from whyload.knowledge.transformers_sources import (  # noqa: E402
    read_transformers_sources,
    transformers_version_in,
)

OUT = ROOT / "src/whyload/knowledge" / DATA_FILE
READ = ("models/auto/auto_mappings.py", "models/auto/configuration_auto.py",
        "models/auto/modeling_auto.py", "models/*/configuration_*.py (model_type)",
        "models/*/modeling_*.py (__all__, class bases, config, base_model_prefix)")


def installed_transformers() -> Path:
    """The installed transformers package folder, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("transformers")
    if spec is None or spec.origin is None:
        raise SystemExit("transformers is not installed in this interpreter")
    return Path(spec.origin).parent


def generate(package: Path, generated_on: str | None = None) -> ModelClasses:
    version = transformers_version_in(package)
    source: dict[str, Any] = {
        "transformers_version": version,
        "script": "scripts/gen_model_classes.py",
        "read": list(READ),
    }
    if generated_on is not None:
        source["generated"] = generated_on
    return read_transformers_sources(package, source=source)


def cross_check(data: ModelClasses) -> list[str]:
    """Differences between the recorded data and transformers imported."""
    import transformers
    from transformers.models.auto import modeling_auto

    problems: list[str] = []
    unavailable: list[str] = []
    if transformers.__version__ != data.transformers_version:
        problems.append(f"version {transformers.__version__} != {data.transformers_version}")
    for name, recorded in sorted(data.classes.items()):
        try:
            cls = getattr(transformers, name)
            config_class = getattr(cls, "config_class", None)
        except ImportError:  # a dummy: the model needs a library not installed (torchaudio)
            unavailable.append(name)
            continue
        except AttributeError:
            problems.append(f"{name}: not in transformers")
            continue
        if recorded.is_auto:
            continue
        real_type = getattr(config_class, "model_type", None) or None
        if real_type != recorded.model_type:
            problems.append(f"{name}: model_type {real_type!r} recorded {recorded.model_type!r}")
        prefix = getattr(cls, "base_model_prefix", None) or None
        if prefix != recorded.base_model_prefix:
            problems.append(f"{name}: base_model_prefix {prefix!r} recorded "
                            f"{recorded.base_model_prefix!r}")
    for auto_name, mapping in data.auto_mappings.items():
        auto_class = getattr(modeling_auto, auto_name)
        names = auto_class._model_mapping._model_mapping
        real = {mt: (t,) if isinstance(t, str) else tuple(t) for mt, t in names.items()}
        if real != dict(mapping):
            problems.append(f"{auto_name}: mapping differs from transformers'")
    if unavailable:
        print(f"not cross-checked (a library they need is not installed): {unavailable}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cross-check", action="store_true",
                        help="import transformers and compare every class with the data")
    args = parser.parse_args()
    package = installed_transformers()
    data = generate(package, generated_on=datetime.date.today().isoformat())
    args.out.write_text(dump_json(data), encoding="utf-8")
    models = sum(not c.is_auto for c in data.classes.values())
    print(f"{args.out}: transformers {data.transformers_version}, {models} model classes, "
          f"{len(data.auto_mappings)} Auto classes, {len(data.model_type_modules)} model types, "
          f"{args.out.stat().st_size} bytes")
    if args.cross_check:
        problems = cross_check(data)
        print("\n".join(problems) or "cross-check: every class agrees with transformers")
        if problems:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
