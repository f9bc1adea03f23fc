"""WL2xx — versions: what the installed libraries accept that this checkpoint needs."""

from __future__ import annotations

from collections.abc import Iterator

from whyload.knowledge.torch_pickle import (
    canonical,
    describe,
    rejected_globals,
    rejected_opcodes,
    runs_code,
)
from whyload.registry import Problem, check
from whyload.report import Category, Effect, Severity
from whyload.snapshot import Snapshot

VERSION = Category.VERSION


@check("WL210", "weights-only-rejects", VERSION, requires=["WL134"])
def weights_only(snap: Snapshot) -> Iterator[Problem]:
    """A .bin pickle that torch.load(weights_only=True) refuses

    Since torch 2.6 weights_only=True is the default, and transformers always uses it: "Weights
    only load failed … Unsupported global: GLOBAL numpy.core.multiarray.scalar was not an
    allowed global by default". A global that runs code (os.system, eval) means the file is
    hostile: loading it with weights_only=False would execute it.
    """
    for f in snap.weights():
        t = f.torch
        if t is None or (t.pickled_object is not None and t.tensors):
            continue  # WL134: a whole pickled module
        globals_ = [canonical(g) for g in rejected_globals(list(t.globals))]
        opcodes = rejected_opcodes(list(t.opcodes))
        if not globals_ and not opcodes:
            continue
        dangerous = [g for g in globals_ if runs_code(g)]
        needed = snap.in_plan(f.name) or snap.plan.format is None
        if dangerous:
            yield Problem(
                effect=Effect.RAISES, file=f.name,
                title=f"{f.name} would run code when unpickled: it calls "
                f"{', '.join(dangerous[:3])}",
                detail="torch >= 2.6 refuses it (weights_only=True); with weights_only=False, or "
                "an older torch, loading it executes that call. Treat the file as hostile.",
                evidence={"file": f.name, "runs_code": dangerous, "rejected": globals_[:20]},
                fix=f"do not load {f.name}; get the weights from a trusted source (prefer "
                "safetensors, which cannot run code)",
            )
            continue
        what = {g: describe(g) for g in globals_[:10]}
        yield Problem(
            severity=Severity.ERROR if needed else Severity.WARNING,
            effect=Effect.RAISES if needed else Effect.NONE, file=f.name,
            title=f"{f.name} needs weights_only=False: "
            + (f"it pickles {', '.join(globals_[:3])}" if globals_ else
               f"its pickle uses opcodes {', '.join(opcodes[:3])}"),
            detail="torch.load(weights_only=True) — the default since torch 2.6, always used by "
            "transformers — accepts tensors and a few containers only. "
            + ("; ".join(f"{g}: {w}" for g, w in what.items()) if what else
               f"Opcodes {', '.join(opcodes)} come from pickle protocol >= 4 "
               "(pickle.dump instead of torch.save)") + ".",
            evidence={"file": f.name, "rejected_globals": globals_[:50],
                      "rejected_opcodes": opcodes},
            fix=("if you trust the file: torch.serialization.add_safe_globals([...]) for "
                 f"{', '.join(globals_[:3])}, or re-save only the tensors: "
                 if globals_ else "if you trust the file, re-save only the tensors: ")
            + "python -c \"import torch; sd = torch.load('" + f.name + "', weights_only=False);"
            " torch.save({k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}, "
            f"'{f.name}')\"",
        )
