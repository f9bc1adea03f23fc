"""What a real load in a child process (`whyload load`) showed: how it ended, what it loaded.

Only the codes no static check can give are declared here. When the load shows a cause that a
check already names (a head created at random: WL401, base weights missing: WL402, unused
weights: WL403, a shape mismatch: WL404, CUDA on a CPU-only torch: WL510), the load reports that
code, with what it observed as evidence.
"""

from __future__ import annotations

from whyload.checks.registration import declare
from whyload.report import Category

ENV = Category.ENVIRONMENT
ARCH = Category.ARCHITECTURE

LOAD_OUT_OF_MEMORY = declare("WL550", "load-out-of-memory", ENV, """
    The load ran out of memory: killed at the memory cap, or MemoryError

    The child's resident memory passed the cap (`--memory-limit`, or the machine's memory:
    the kernel killed it with SIGKILL, exit 137), or an allocation failed inside torch. The
    peak seen is in the evidence; transformers needs about the weights' size once more while
    it loads, plus ~0.5 GB for torch and transformers themselves.
    """, command="load")

LOAD_TIMEOUT = declare("WL551", "load-timeout", ENV, """
    The load did not finish within the time limit

    The child was killed after `--timeout` seconds. A slow disk or network file system, a huge
    checkpoint converted on load, or swap thrashing under memory pressure are the usual causes.
    """, command="load")

LOAD_SIGNAL = declare("WL552", "load-killed-by-signal", ENV, """
    The load process died from a signal (a crash, not a Python exception)

    SIGSEGV, SIGBUS or SIGABRT while loading point at native code: a torch build that does not
    match the CPU or the C library, a weights file changed while it was memory-mapped, or a
    corrupt file read through mmap.
    """, command="load")

LOAD_NO_RESULT = declare("WL553", "load-no-result", ENV, """
    The load process exited without saying how the load went

    The child could not start Python, import whyload, or write its result; its last output is
    the evidence.
    """, command="load")

DEVICE_MAP_NEEDS_ACCELERATE = declare("WL554", "device-map-needs-accelerate", ENV, """
    device_map (or a device context) was asked for, and accelerate is not installed

    "Using a `device_map` … requires `accelerate`": transformers places the weights on
    devices through accelerate, so from_pretrained raises before it reads anything.
    """, command="load")

CLASS_NOT_FOUND = declare("WL440", "load-class-not-found", ARCH, """
    The model class to load into does not exist in the installed transformers

    `--class` (or config.json's `architectures`) names a class transformers does not have:
    a typo, a class from a newer release, or a class that lives in remote code.
    """, command="load")

LOAD_RAISED = declare("WL441", "load-raised", ARCH, """
    from_pretrained raised an error that no known cause explains

    The exception's type, message and traceback are the evidence; `whyload check` beside it
    may name the cause.
    """, command="load")
