"""`python -m whyload.repair.load_child`: from_pretrained on a repaired folder, in a child
process; prints transformers' loading info as one JSON line."""

from __future__ import annotations

import json
import sys
from typing import Any


def load(path: str, model_class: str | None) -> dict[str, Any]:
    import transformers

    cls = getattr(transformers, model_class, None) if model_class else transformers.AutoModel
    if not isinstance(cls, type) or not hasattr(cls, "from_pretrained"):
        return {"class": model_class, "loaded": False,
                "error": f"transformers {transformers.__version__} has no model class "
                f"{model_class!r}"}
    try:
        _, info = cls.from_pretrained(path, output_loading_info=True)
    except Exception as exc:  # the result to report, not a crash
        return {"class": cls.__name__, "loaded": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"class": cls.__name__, "loaded": True,
            "missing": sorted(map(str, info.get("missing_keys", ()))),
            "unexpected": sorted(map(str, info.get("unexpected_keys", ()))),
            "mismatched": sorted(str(k[0] if isinstance(k, tuple) else k)
                                 for k in info.get("mismatched_keys", ()))}


def main() -> None:
    request = json.loads(sys.stdin.read())
    sys.stdout.write(json.dumps(load(request["path"], request.get("model_class"))) + "\n")


if __name__ == "__main__":
    main()
