"""Integrity: what `whyload verify` proves by reading every byte (hashes, zip CRCs, tensor values)
and what a whyload.lock records."""

from __future__ import annotations

from whyload.checks.registration import declare
from whyload.report import Category

FILES = Category.FILES
VERSION = Category.VERSION

SHA256_MISMATCH = declare("WL170", "sha256-mismatch", FILES, """
    A file's sha256 differs from the hash it was downloaded or published under
    The reference is the HF cache blob name (LFS files are stored under their sha256), the oid of
    a Git LFS pointer, the etag `hf download --local-dir` recorded, or `--sha256 FILE=HEX`. The
    bytes are not the ones that were saved: a bit flip on disk, a cut or mixed-up copy, a proxy
    that rewrote them. safetensors and torch read most such files without error and return wrong
    weights. Fix: download that one file again (the finding gives the command).
    """, command="verify")
GIT_SHA1_MISMATCH = declare("WL171", "git-blob-mismatch", FILES, """
    A small file differs from the git blob the HF cache stored it under
    Files that are not in Git LFS (config.json, tokenizer files, the shard index) are stored in
    the cache under their git blob id, sha1("blob <size>\\0" + content). A different id means the
    file was edited in the cache or damaged. Fix: download it again.
    """, command="verify")
ZIP_CRC_MISMATCH = declare("WL172", "zip-crc-mismatch", FILES, """
    A member of a torch zip checkpoint fails its CRC32
    Every member of a `.bin` written by torch >= 1.6 carries a CRC32 of its bytes; a mismatch
    proves corruption without any outside reference. torch.load does not check it (torch 2.13
    loads the damaged tensor silently). Fix: download or copy the file again.
    """, command="verify")
CHANGED_SINCE_LOCK = declare("WL173", "changed-since-lock", FILES, """
    A file differs from the whyload.lock recorded for this model
    Its size or sha256 is not what `whyload lock` recorded. If it was changed on purpose, record
    the new state with `whyload lock --force`; otherwise restore it from where it came from.
    """, command="verify")
REMOVED_SINCE_LOCK = declare("WL174", "removed-since-lock", FILES, """
    A file recorded in whyload.lock is missing
    The lock lists a file that is no longer there: an incomplete copy or download.
    """, command="verify")
ADDED_SINCE_LOCK = declare("WL175", "added-since-lock", FILES, """
    A file is present that whyload.lock does not list
    Usually harmless (a README, a new tokenizer file), but a new weights file changes what
    from_pretrained loads.
    """, command="verify")
NAN_VALUES = declare("WL176", "nan-values", FILES, """
    Tensors hold NaN values (verify --deep)
    A model with NaN weights loads without error and outputs NaN: a diverged training run, an
    overflow when converting to float16, or corrupted bytes.
    """, command="verify")
INF_VALUES = declare("WL177", "inf-values", FILES, """
    Tensors hold infinite values (verify --deep)
    Weights are never infinite in a healthy model (a few attention-mask buffers are); infinities
    turn into NaN at the first matrix product. Often a float16 conversion overflowed.
    """, command="verify")
ZERO_TENSOR = declare("WL178", "all-zero-tensor", FILES, """
    A weight matrix is all zeros (verify --deep)
    A zero bias is normal; a zero matrix is not: a ZeRO-3 save without gathering, a failed
    conversion, or a preallocated file the download never filled. The layer outputs nothing.
    """, command="verify")
NOT_SCANNED = declare("WL179", "values-not-scanned", FILES, """
    Some tensors' values were not scanned (verify --deep)
    Legacy (torch < 1.6) pickles, compressed zip members, and dtypes numpy cannot read (float8,
    4-bit) are not scanned; the finding lists them.
    """, command="verify")
INTERRUPTED = declare("WL180", "verify-interrupted", FILES, """
    Verification was interrupted: only part of the files were read
    The report covers the files that were read to their end; run verify again for the rest.
    """, command="verify")
UNREADABLE = declare("WL181", "not-verifiable", FILES, """
    A file could not be read, so it was not verified
    A dangling link, a FIFO or device where a file should be, or a permission error.
    """, command="verify")
NO_REFERENCE = declare("WL182", "no-reference", FILES, """
    Files were hashed but nothing was found to compare them with
    A plain folder carries no record of what its files should be. `whyload lock` records it now,
    so that later copies can be verified; `--sha256 FILE=HEX` checks a published hash.
    """, command="verify")
LOCK_UNREADABLE = declare("WL183", "lock-unreadable", FILES, """
    The whyload.lock beside the model cannot be used
    It is not JSON, or not a whyload lock of a schema this version reads, so nothing was compared
    with it. Fix: write it again with `whyload lock --force` from a copy you trust.
    """, command="verify")
ZIP_UNREADABLE = declare("WL184", "zip-crcs-unchecked", FILES, """
    A zip checkpoint whose members could not all be found, so its CRCs were not checked
    A member whose local header is not where the zip's directory says is damage: torch.load
    fails reading it ("PytorchStreamReader failed reading file data/3: invalid header"), and
    the headers `whyload check` reads may still look fine; re-download the file. A directory
    that is missing or too large is what `whyload check` explains (WL130).
    """, command="verify")
LOCK_REFUSED = declare("WL185", "lock-refused", FILES, """
    No lock was written: the files are already known to be damaged
    A lock records what a healthy model is; locking a copy that fails its own CRCs or its cache
    hashes would make the damage the reference. Fix the files first.
    """, command="lock")
VERSION_MAJOR_DRIFT = declare("WL220", "locked-version-major-drift", VERSION, """
    A library's major version differs from the environment that wrote whyload.lock
    transformers 4 -> 5 and torch 1 -> 2 changed how checkpoints load (weights_only, renamed
    weights, dtype defaults). The model may still load; if it misbehaves, install the locked
    version: `pip install "<package>==<locked version>"`.
    """, command="verify")
VERSION_MINOR_DRIFT = declare("WL221", "locked-version-drift", VERSION, """
    A library's version differs from the environment that wrote whyload.lock (same major)
    Usually harmless; listed so that a behaviour change can be traced to it.
    """, command="verify")
MISSING_HERE = declare("WL192", "listed-remotely-missing-here", FILES, """
    A file the remote repository lists is missing from the local copy
    `whyload verify DIR --against hf://org/name` compares the folder with the Hub's listing of
    that revision: a file it lists (weights, config, tokenizer) that the folder lacks is a
    download that did not finish or a copy that left it out. Fix: download it again.
    """, command="verify")
