"""WL45x — sentence-transformers exports: the pipeline SentenceTransformer(path) rebuilds.

WL450  a sentence-transformers export without modules.json
"""

from __future__ import annotations

from collections.abc import Iterator

from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.report import Category, Effect, Severity
from whyload.snapshot import Snapshot

# files only sentence-transformers writes beside the transformer's own
EXPORT_MARKERS = ("config_sentence_transformers.json", "sentence_bert_config.json")


@check("WL450", "sentence-transformers-mean-pooling", Category.ARCHITECTURE)
def modules_json_missing(snap: Snapshot) -> Iterator[Problem]:
    """sentence-transformers built a new model with mean pooling instead of the saved one

    SentenceTransformer(path) rebuilds the saved pipeline (pooling, Normalize, Dense layers) from
    modules.json. Without it, it wraps the plain transformer with a default mean pooling and only
    logs "No modules.json found … initializing a new SentenceTransformer model" (older releases:
    "Creating a new one with mean pooling"): the embeddings differ from the model's published
    ones, silently (all-MiniLM-L6-v2 loses its Normalize: norms of ~5.7 instead of 1).
    from_pretrained itself is not affected. Fix: restore modules.json from where the model came.
    """
    markers = [name for name in EXPORT_MARKERS if name in snap.files]
    if not markers or "modules.json" in snap.files or snap.artifact.focus is not None:
        return
    cache = snap.artifact.cache
    folder = fix_commands.quoted(snap.artifact.root)
    if cache is not None:
        fix = fix_commands.hub_download(cache.repo_id, cache.commit or cache.revision,
                                        "modules.json")
    else:  # config.json's _name_or_path is the base the export was trained from, not it
        fix = f"copy modules.json from where this model was downloaded into {folder}"
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE,
        title="a sentence-transformers export without modules.json: SentenceTransformer would "
        "build a new model with mean pooling",
        detail=f"{', '.join(markers)} say this folder was saved by sentence-transformers, but "
        "modules.json, which lists its modules (pooling, Normalize, Dense), is missing: "
        "SentenceTransformer wraps the transformer in a default mean pooling instead, with no "
        "error, and the embeddings differ from the saved model's.",
        evidence={"markers": markers, "missing": "modules.json"},
        fix=fix,
    )

