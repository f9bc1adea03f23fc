"""Named groups of codes: the relations between checks, and the sets other commands act on,
declared once. `requires=`/`superseded_by=` name them; verify, lock and fix read them from the
registry (`registry.group_codes`)."""

from __future__ import annotations

from whyload.checks.registration import group

BYTES_NOT_WEIGHTS = group("bytes-not-weights", """
    The bytes are not the weights at all: an LFS pointer, an error page, an empty, zero-filled or
    cut file, a header that is not one. No hash can prove such a file right, so verify and lock
    report these too.
    """, "WL110", "WL111", "WL112", "WL113", "WL114", "WL115", "WL120", "WL121", "WL122", "WL124",
    "WL130", "WL131", "WL132")

WEIGHTS_INCOMPLETE = group("weights-incomplete", """
    Tensors are missing from the weights (zero-size or no tensors, a missing shard, an index that
    disagrees with its shards): sizes read from the weights cannot be compared with config.json.
    """, "WL124", "WL125", "WL141", "WL142")

STRUCTURE = group("structure", """
    What must be explained before the key diff: a wrapper's prefix, another family's weights,
    config sizes that contradict the weights, incomplete weights. The key diff below them would
    be twenty findings for one cause.
    """, "WL410", "WL411", "WL412", "WL420", "WL421", "WL422", "WL310", "WL311", "WL312",
    WEIGHTS_INCOMPLETE, "WL206")

NEEDS_INVENTED_WEIGHTS = group("needs-invented-weights", """
    Weights the checkpoint does not have (a head, missing tensors, a different shape): a fix
    would have to make them up, which is training, not repair.
    """, "WL401", "WL402", "WL404")

UNRECOVERABLE_BYTES = group("unrecoverable-bytes", """
    The file's bytes are not (all) the weights that were saved, and no rewrite brings them back:
    download the file again.
    """, BYTES_NOT_WEIGHTS, "WL125", "WL160")

NO_PYTORCH_WEIGHTS = group("no-pytorch-weights", """
    There are no PyTorch weights to repair from: none at all, only TensorFlow, Flax or another
    format, an adapter, a pickled object, a missing shard.
    """, "WL100", "WL101", "WL102", "WL103", "WL104", "WL106", "WL134", "WL141")

SIZES_UNREADABLE = group("sizes-unreadable", """
    config.json does not parse, one of its values has the wrong type, or tensors are missing from
    the weights: a size read from either side would be wrong, so it is not compared.
    """, "WL301", "WL304", WEIGHTS_INCOMPLETE)
