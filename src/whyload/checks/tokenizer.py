"""WL330, WL332, WL352 - the tokenizer: files AutoTokenizer cannot parse, and ids or lengths
the model's embeddings cannot hold. The model may load; its first input fails."""

from __future__ import annotations

from collections.abc import Iterator

from whyload.checks.config import CONFIG, config_values, embedding_rows
from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.modelview import model_view
from whyload.report import Effect, Severity
from whyload.snapshot import Snapshot

VERY_LARGE_INTEGER = int(1e30)  # tokenizer_config's "no limit" sentinel


@check("WL352", "tokenizer-file-invalid-json", CONFIG, requires=["WL110", "WL111", "WL112",
                                                                  "WL113"])
def tokenizer_file_invalid(snap: Snapshot) -> Iterator[Problem]:
    """tokenizer.json (or tokenizer_config.json) is not valid JSON

    A download cut short or a hand edit that broke the syntax: AutoTokenizer.from_pretrained
    raises ("Expecting value …", "data did not match any variant of untagged enum
    ModelWrapper"), although the model's weights may load fine.
    """
    for name in ("tokenizer.json", "tokenizer_config.json"):
        doc = snap.documents.get(name)
        if doc is None or (doc.ok and isinstance(doc.value, dict)):
            continue
        where = f" at line {doc.line}, column {doc.column}" if doc.line else ""
        error = doc.error or f"a JSON {type(doc.value).__name__}, not an object"
        yield Problem(
            title=f"{name} is not valid JSON: {error}{where}",
            severity=Severity.WARNING,
            detail="The model loads; its tokenizer does not: AutoTokenizer.from_pretrained "
            "raises on this file.",
            evidence={"file": name, "error": error, "line": doc.line, "column": doc.column},
            fix=(fix_commands.hub_download(snap.artifact.cache.repo_id,
                                           snap.artifact.cache.revision, name, force=True)
                 if snap.artifact.cache else
                 f"download {fix_commands.quoted(snap.artifact.root / name)} again from the "
                 "model's source")
            + f", or fix it{where}",
            file=name)


@check("WL330", "tokenizer-exceeds-embeddings", CONFIG, requires=["WL301"])
def tokenizer_exceeds(snap: Snapshot) -> Iterator[Problem]:
    """The tokenizer produces ids beyond the embedding matrix: inference fails, loading does not

    Tokens added to the tokenizer without resize_token_embeddings, or a tokenizer from another
    model: from_pretrained loads every weight intact, and the first input holding such a token
    fails with "IndexError: index out of range in self" (or a CUDA device-side assert). A
    warning about inference, not a broken load.
    """
    tok = snap.tokenizer
    rows = embedding_rows(snap)
    if tok is None or rows is None or tok.size <= rows[0]:
        return
    beyond = [(i, t) for i, t in tok.added if i >= rows[0]]
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE,
        title=f"the tokenizer has {tok.size:,} ids, the embedding matrix {rows[0]:,} rows",
        detail=f"The model loads intact; inference does not: {tok.source} can produce ids up "
        f"to {tok.size - 1:,}, {rows[1]} has {rows[0]:,} rows. Any input containing those ids "
        "fails at the forward pass"
        + (f" (added tokens: {', '.join(repr(t) for _, t in beyond[:5])})." if beyond else "."),
        evidence={"tokenizer_ids": tok.size, "embedding_rows": rows[0], "source": tok.source,
                  "added_beyond": [{"id": i, "token": t} for i, t in beyond[:20]]},
        fix=f"model.resize_token_embeddings({tok.size}) after loading, then save_pretrained",
    )


# RoBERTa-style embeddings number positions from padding_idx + 1
POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "mpnet": 2}


@check("WL332", "max-length-beyond-positions", CONFIG, requires=["WL301"])
def max_length(snap: Snapshot) -> Iterator[Problem]:
    """The tokenizer allows longer inputs than the model has position embeddings

    An input longer than max_position_embeddings fails with "index out of range in self" (or a
    size mismatch in the position ids) — usually only in production, on the first long text.
    """
    view = model_view(snap)
    values = config_values(snap)
    tok_config = snap.document("tokenizer_config.json")
    if values is None or not isinstance(tok_config, dict):
        return
    limit = tok_config.get("model_max_length")
    positions = values.get("max_position_embeddings")
    if not isinstance(limit, (int, float)) or not isinstance(positions, int):
        return
    if values.get("relative_attention") and values.get("position_biased_input") is False:
        return  # DeBERTa v2/v3: relative positions only, no absolute position table to overrun
    usable = positions - POSITION_OFFSET.get(view.family or "", 0)
    if limit >= VERY_LARGE_INTEGER:
        yield Problem(
            severity=Severity.INFO, effect=Effect.NONE,
            title="tokenizer_config.json sets no model_max_length",
            detail=f"Without it the tokenizer never truncates; the model takes {usable} tokens.",
            evidence={"model_max_length": None, "max_positions": usable},
            fix=f"set \"model_max_length\": {usable} in tokenizer_config.json, or tokenize with "
            f"truncation=True, max_length={usable}", file="tokenizer_config.json",
        )
        return
    if limit > usable:
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE,
            title=f"model_max_length {int(limit)} exceeds the model's {usable} positions",
            detail="Inputs longer than the model's positions are not truncated and fail at the "
            "forward pass.",
            evidence={"model_max_length": int(limit), "max_position_embeddings": positions,
                      "usable_positions": usable},
            fix=f"set \"model_max_length\": {usable} in tokenizer_config.json",
            file="tokenizer_config.json",
        )
