"""A plan and its result as plain text: what will be (or was) written, from what, why, what
fix refuses, and the check before and after."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from whyload.repair.types import ApplyResult
from whyload.report import Report

if TYPE_CHECKING:
    from whyload.repair.plan import RepairPlan

ACTIONS = {"write-config": "write", "rebuild-index": "rebuild", "rewrite-weights": "write"}


def _codes(report: Report) -> str:
    return " ".join(report.codes()) or "no findings"


def render_plan(plan: RepairPlan, *, applying: bool = False) -> str:
    lines = [f"whyload fix {plan.source} -> {plan.out}",
             f"  before: {plan.before.verdict.label} ({_codes(plan.before)})"]
    if plan.nothing_to_fix:
        lines.append("  nothing to fix: check finds nothing fix repairs"
                     + (" (and nothing was written)" if applying else ""))
    for n, step in enumerate(plan.steps, 1):
        lines.append(f"  {n}. {ACTIONS.get(step.action, step.action)} "
                     f"{', '.join(step.writes)}"
                     + (f"  from {', '.join(step.reads)}" if step.reads else ""))
        lines.append(f"     why: {step.why}")
        if step.answers:
            lines.append(f"     answers: {' '.join(step.answers)}")
        lines.extend(f"     note: {note}" for note in step.notes)
    if plan.steps and plan.copies:
        shown = ", ".join(plan.copies[:5]) + (f", … (+{len(plan.copies) - 5})"
                                              if len(plan.copies) > 5 else "")
        lines.append(f"  copied unchanged: {len(plan.copies)} file(s): {shown}")
    if plan.refusals:
        lines.append("  refused (nothing will be written):")
        for r in plan.refusals:
            lines.append(f"    ✗ {' '.join(r.codes)} {r.reason}".rstrip())
            lines.append(f"      -> {r.next_step}")
    if plan.unanswered:
        lines.append("  not repaired by fix (do these by hand):")
        lines.extend(f"    - {u}" for u in plan.unanswered)
    lines.extend(f"  note: {n}" for n in plan.notes)
    if plan.applicable and not applying:
        lines.append(f"  dry run: nothing written. Add --apply to write {plan.out}")
    return "\n".join(lines)


def render_result(result: ApplyResult) -> str:
    lines = [f"  wrote {result.out}: {', '.join(result.written)}; "
             f"copied {len(result.copied)} file(s) unchanged",
             f"  after:  {result.after.verdict.label} ({_codes(result.after)})"]
    for f in result.after.findings:
        lines.append(f"    {f.code} {f.severity.label}: {f.title}")
    load = result.load
    if load is None:
        lines.append(f"  load: not run ({result.load_skipped})")
    elif load.loaded:
        lines.append(f"  load: {load.model_class}.from_pretrained loaded it: "
                     f"{len(load.missing)} missing, {len(load.unexpected)} unexpected, "
                     f"{len(load.mismatched)} mismatched keys [{load.how}]")
        if load.missing:
            lines.append(f"    missing: {', '.join(load.missing[:5])}")
    else:
        lines.append(f"  load: {load.model_class}.from_pretrained failed: {load.error}")
    if result.ok:
        lines.append("  repaired")
    else:
        again = shlex.quote(str(result.out.with_name(result.out.name + "-2")))
        lines.append("  still broken: see the findings above (a repair can uncover the next "
                     f"problem: whyload fix {shlex.quote(str(result.out))} --out {again} shows "
                     "what fix can do)")
    return "\n".join(lines)
