"""`whyload fix`: a repair plan for a broken checkpoint, written only into a new folder.

plan() reads what check reads (headers and JSON) and says what it would write, from what, why,
and which findings that answers — or why it refuses. RepairPlan.apply() builds the new folder
beside the output, renames it into place when complete, then checks it and loads it for real.
"""

from __future__ import annotations

from whyload.repair.plan import RepairPlan, plan
from whyload.repair.types import ApplyResult, LoadProof, Refusal, Step

__all__ = ["ApplyResult", "LoadProof", "Refusal", "RepairPlan", "Step", "plan"]
