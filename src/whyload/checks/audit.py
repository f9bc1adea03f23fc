"""Audit: what `whyload audit` reports about a target that it could not check to the end.

Each is a row of its own in the audit's results, with the verdict `unknown`: the target was not
assessed, which is not the same as healthy. The rest of the fleet is checked as usual.
"""

from __future__ import annotations

from whyload.checks.registration import declare
from whyload.report import Category

ENV = Category.ENVIRONMENT

NOT_EXAMINED = declare("WL590", "audit-target-not-examined", ENV, """
    The target could not be examined at all: missing, unreadable, or no model location

    The same error `whyload check` stops with (exit 2), kept as a row so the audit goes on: a
    path that vanished since it was listed, a hub id that is not in the cache, a scheme (s3://,
    hf://) the installed resolver cannot open. The evidence holds the message and the hint.
    """, command="audit")

CHECK_CRASHED = declare("WL591", "audit-check-crashed", ENV, """
    The check raised an unexpected exception on this target

    A bug in whyload (readers never raise on bad bytes, so an exception is never the model's
    fault alone). The exception and the last frames of its traceback are the evidence; `whyload
    check TARGET` with WHYLOAD_DEBUG=1 shows it whole. Please report it with the evidence.
    """, command="audit")

CHECK_TIMEOUT = declare("WL592", "audit-check-timeout", ENV, """
    The check did not finish within --timeout

    A check reads headers and JSON only and takes well under a second; one that runs past the
    limit waits on storage (a stalled network file system, a bucket that throttles) or on a
    pathological file. The audit gives up on the target, and replaces the worker's stuck thread
    by restarting that worker where the cluster allows it.
    """, command="audit")

WORKER_DIED = declare("WL593", "audit-worker-died", ENV, """
    The worker process checking this target died, again on each retry

    The process was killed (out of memory, SIGKILL, a segfault in a native library) while it held
    this target, as many times as the cluster allows (distributed.scheduler.allowed-failures):
    the target itself is the likely cause. Check it alone with `whyload check TARGET`.
    """, command="audit")

VERIFY_FAILED = declare("WL594", "audit-verify-not-run", ENV, """
    --verify could not read this target's bytes

    The check ran, but the byte-level verify did not (no regular file to read, a lock that
    cannot be used, an error while hashing): the bytes are unverified, not intact. The
    evidence holds why; `whyload verify TARGET` shows it alone.
    """, command="audit")
