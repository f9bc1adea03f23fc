"""What `whyload fix` will not repair, and the step that does: bytes that are not the weights
(download them again), Git LFS pointers (git lfs pull), pickles that would run code (get a
trusted copy), and anything that would need weights the checkpoint does not have (training)."""

from __future__ import annotations

from whyload.checks.groups import NEEDS_INVENTED_WEIGHTS, NO_PYTORCH_WEIGHTS, UNRECOVERABLE_BYTES
from whyload.registry import group_codes
from whyload.repair.types import Refusal
from whyload.report import Category, Finding, Severity


def refusals(findings: tuple[Finding, ...], planned: frozenset[str]) -> list[Refusal]:
    """The findings fix refuses to repair. `planned` are the files from_pretrained would read:
    a broken copy it never reads is not in the way."""
    unrecoverable = group_codes(UNRECOVERABLE_BYTES)
    invented = group_codes(NEEDS_INVENTED_WEIGHTS)
    not_here = group_codes(NO_PYTORCH_WEIGHTS)
    out: list[Refusal] = []
    for f in findings:
        if f.severity is not Severity.ERROR and f.category is not Category.SECURITY:
            continue
        in_the_way = f.file is None or f.file in planned or f.file.endswith(".json")
        if f.code == "WL110" and in_the_way:
            out.append(Refusal(reason=f"{f.file} is a Git LFS pointer: the weights were never "
                               "downloaded", next_step=f.fix or
                               f"git lfs pull --include {f.file}", codes=(f.code,),
                               file=f.file))
        elif f.code in unrecoverable and in_the_way:
            out.append(Refusal(reason=f"{f.title}: the bytes are not the weights that were "
                               "saved, and no rewrite can bring them back",
                               next_step=f"download {f.file or 'the file'} again"
                               + (f" ({f.fix})" if f.fix else ""), codes=(f.code,),
                               file=f.file))
        elif f.category is Category.SECURITY and f.file is not None and \
                not f.file.endswith(".py"):
            out.append(Refusal(reason=f"{f.title}: fix loads the pickle to convert it, and "
                               "will not load a file the security scan flags",
                               next_step=f.fix or "get the weights from a trusted source, as "
                               "safetensors", codes=(f.code,), file=f.file))
        elif f.code in invented:
            out.append(Refusal(reason=f"{f.title}: repairing it would mean inventing weights "
                               "(a missing head is trained, not repaired)",
                               next_step=f.fix or "load the class the weights were saved "
                               "with, or fine-tune the head", codes=(f.code,), file=f.file))
        elif f.code in not_here:
            out.append(Refusal(reason=f"{f.title}: there are no loadable weights to repair "
                               "from", next_step=f.fix or "get the model's PyTorch weights",
                               codes=(f.code,), file=f.file))
    return out
