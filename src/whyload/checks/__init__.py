"""Checks, one module per family of failure, plus the codes other commands report (integrity:
verify, loading: load, logs: explain). Importing this package registers them all; the registry
(whyload.registry) imports it and validates the relations between them."""

from whyload.checks import (  # noqa: F401
    adapters,
    architecture,
    audit,
    config,
    environment,
    formats,
    groups,
    hf_cache,
    integrity,
    layout,
    loading,
    logs,
    not_weights,
    other_tools,
    quantization,
    remote,
    security,
    sentence_transformers,
    shards,
    tokenizer,
    unreadable,
    version,
)
