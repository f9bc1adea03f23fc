"""Failures only a log shows (`whyload explain`): errors raised at run time, network and hub
errors.

A failure that `check` can also see keeps `check`'s code (an LFS pointer is WL110 whether a log or
the bytes show it); the codes here are the causes no snapshot holds.
"""

from __future__ import annotations

from whyload.checks.registration import declare
from whyload.report import Category

HUB_CONSISTENCY = declare("WL190", "hub-consistency-check-failed", Category.FILES, """
    A download that ended with fewer (or more) bytes than the Hub said the file has

    huggingface_hub compares the size it received with the size the Hub announced; a cut
    transfer, or a proxy or mirror that answered with an error page, leaves a file of the wrong
    size and the download fails. Fix: download again with force_download=True, and check the
    proxy and HF_ENDPOINT.
    """, command="explain")

POSITION_IDS_KEY = declare("WL230", "position-ids-buffer", Category.VERSION, """
    A strict load_state_dict that trips over the `embeddings.position_ids` buffer

    The buffer became persistent in transformers 3.1 and non-persistent again in 4.31, so a state
    dict saved on one side of either change has one key too many (or too few) for the other. It is
    a constant arange: drop it, or load with strict=False.
    """, command="explain")

TORCH_TOO_OLD_FOR_ZIP = declare("WL231", "torch-too-old-for-zip", Category.VERSION, """
    A torch zip checkpoint (torch >= 1.6) read by an older torch

    torch < 1.6 cannot read the zip serialization: it says the file 'is a zip archive (did you
    mean to use torch.jit.load()?)' or that the file's version is above the maximum it supports.
    Fix: upgrade torch, or save again with _use_new_zipfile_serialization=False.
    """, command="explain")

PICKLED_CLASS_MOVED = declare("WL232", "pickled-class-moved", Category.VERSION, """
    A pickled object whose module or class no longer exists where the pickle says

    torch.save(model) stores import paths; transformers 4 moved its modules to
    transformers.models.*, so unpickling an old whole-model file fails with 'No module named' or
    'Can't get attribute'. Fix: load it with the transformers that saved it and export it with
    save_pretrained.
    """, command="explain")

SAFETENSORS_UNSUPPORTED = declare("WL233", "safetensors-unknown-to-transformers",
                                  Category.VERSION, """
    transformers looked only for .bin/.h5/.msgpack weights although safetensors files are there

    transformers releases before safetensors support (or an environment without the safetensors
    package) do not list model.safetensors among the files they look for. Fix: upgrade
    transformers and install safetensors.
    """, command="explain")

API_CHANGED = declare("WL234", "loading-argument-unsupported", Category.VERSION, """
    A from_pretrained argument the installed transformers does not accept

    ignore_mismatched_sizes arrived in 4.x, dtype replaced torch_dtype in 4.56, and from_tf /
    from_flax are gone in transformers 5; passed to the wrong release, the argument reaches the
    model's __init__ and raises TypeError. Fix: use the argument the installed release knows, or
    change the transformers version.
    """, command="explain")

GAMMA_BETA_RENAMED = declare("WL235", "gamma-beta-renamed", Category.VERSION, """
    Parameters named gamma/beta renamed to weight/bias on load: custom ones stay random

    transformers 4.4x renamed every `gamma`/`beta` key at load time; a custom module whose
    parameters really are called gamma or beta then finds nothing and keeps its random
    initialization, silently. Fix: rename the parameters (or load with a release after PR
    #35615, which only renames LayerNorm's).
    """, command="explain")

CONFIG_ATTRIBUTE_MISSING = declare("WL350", "config-attribute-missing", Category.CONFIG, """
    Code asks the config for an attribute it does not have

    Custom model code (or an old API) reads config.<name> that config.json never set, or a class
    attribute transformers removed. Fix: add the key to config.json, or use the code's matching
    transformers version.
    """, command="explain")

TOKENIZER_FILE_NONE = declare("WL351", "tokenizer-file-not-found", Category.CONFIG, """
    A slow tokenizer got None for its vocabulary file

    The tokenizer class picked for this model expects a vocabulary file the folder does not have
    (Multilingual-MiniLM is a BERT with an XLM-R sentencepiece tokenizer), so its path is None and
    os.stat fails. Old releases masked an SSL failure the same way. Fix: load the tokenizer class
    the files belong to (set tokenizer_class in tokenizer_config.json).
    """, command="explain")

PATH_SENT_TO_HUB = declare("WL570", "path-sent-to-hub", Category.ENVIRONMENT, """
    A local path that does not exist, so transformers sent it to the Hub as a repo id

    from_pretrained treats a string that is not an existing folder as a hub id; a path then fails
    validation ('Repo id must be in the form ...') or is looked up online. Fix: correct the path
    (it is relative to the working directory) or use an absolute one.
    """, command="explain")

REPO_NOT_FOUND = declare("WL571", "repo-not-found-or-gated", Category.ENVIRONMENT, """
    The Hub refused the repository: it does not exist, is private, or is gated

    A 401/403/404 from the Hub: a mistyped id, a private repo without a token, or a gated model
    whose terms were not accepted. Fix: check the id, run `hf auth login`, accept the gate on the
    model page.
    """, command="explain")

TOKENIZER_BACKEND_MISSING = declare("WL572", "tokenizer-backend-missing", Category.ENVIRONMENT, """
    The tokenizer needs sentencepiece or protobuf, which are not installed

    ALBERT, DeBERTa-v2/v3, XLM-R and T5 checkpoints may ship only a sentencepiece model; building
    the tokenizer (or converting it to a fast one) needs the sentencepiece and protobuf packages.
    Fix: pip install sentencepiece protobuf, then restart the Python process.
    """, command="explain")

HUB_UNREACHABLE = declare("WL573", "hub-unreachable-not-cached", Category.ENVIRONMENT, """
    The Hub could not be reached and the files are not in the local cache

    Without a network (or behind a firewall) from_pretrained falls back to the cache; the files
    are not there (another HF_HOME or user, another revision, only part of the repo cached). Fix:
    download once where there is a network (`hf download <id>`), keep HF_HOME the same, then set
    HF_HUB_OFFLINE=1.
    """, command="explain")

SSL_PROXY = declare("WL574", "ssl-certificate-or-proxy", Category.ENVIRONMENT, """
    TLS verification failed on the way to the Hub: a proxy or a missing CA bundle

    A corporate proxy that re-signs traffic, or a CA bundle Python does not know, makes every Hub
    request fail with CERTIFICATE_VERIFY_FAILED. Fix: set REQUESTS_CA_BUNDLE / SSL_CERT_FILE to
    the proxy's CA (and HTTPS_PROXY), or download elsewhere and copy the cache.
    """, command="explain")

SYMLINKS_UNSUPPORTED = declare("WL575", "symlinks-unsupported", Category.ENVIRONMENT, """
    The cache's file system (or Windows without Developer Mode) cannot create symlinks

    huggingface_hub then stores files in a degraded layout that duplicates blobs, and other tools
    fail with WinError 1314. Fix: enable Developer Mode on Windows, or download with local_dir.
    """, command="explain")

CUDA_DEVICE_ASSERT = declare("WL576", "cuda-device-side-assert", Category.ENVIRONMENT, """
    A CUDA kernel failed an assertion (device-side assert triggered)

    Almost always an index out of range on the GPU: token ids beyond the embedding matrix, labels
    beyond num_labels, token_type_ids of 1 for a model with one token type. The error surfaces at a
    later, unrelated call. Fix: rerun with CUDA_LAUNCH_BLOCKING=1 (or on CPU) to see the real
    IndexError, then resize the embeddings or fix the labels.
    """, command="explain")

PROCESS_KILLED = declare("WL577", "process-killed", Category.ENVIRONMENT, """
    The process was killed by a signal other than an out-of-memory kill

    A SIGSEGV, SIGBUS or SIGABRT during loading comes from native code: a torch or driver build
    that does not match, a file truncated under an mmap (SIGBUS), or two libraries with different
    OpenMP runtimes. Fix: rerun `whyload env`, and `whyload verify` on the model files.
    """, command="explain")

REFUSED_GLOBAL_RUNS_CODE = declare("WL630", "refused-global-runs-code", Category.SECURITY, """
    torch's weights_only refused a global that runs code: the file would run it when loaded

    torch.load with weights_only=True stops at the first global outside its allowlist and names
    it ("Unsupported global: GLOBAL posix.system", "unsupported GLOBAL builtins.eval whose
    module builtins is blocked"). When that global runs commands or code (os/posix.system, eval,
    exec, getattr, pickle.loads, subprocess, runpy, cProfile.run, timeit.timeit ...),
    weights_only did its job: loading the same file with weights_only=False would call it. Fix:
    do not load the file; `whyload check` on it lists every call its pickle makes; get the
    weights as safetensors from a source you trust.
    """, command="explain")

NO_WEIGHT_NAME_MATCHES = declare("WL470", "no-weight-name-matches", Category.ARCHITECTURE, """
    No weight name of the checkpoint matches the model's: every weight was newly initialized

    transformers' loading report (or transformers 4's "Some weights of X were not initialized"
    and "were not used" warnings) lists the whole model as missing and the checkpoint's keys as
    unexpected, and no common prefix explains the difference: the checkpoint was saved by other
    code (another architecture, a framework's own names, a renamed module). The model that
    loads is entirely random. Fix: load the class and library the checkpoint was saved with, or
    convert its names with that project's conversion script.
    """, command="explain")

# --- causes named by the templates mined from the libraries' sources (knowledge/error_templates)

ADAPTER_FILES_MISSING = declare("WL145", "adapter-files-missing", Category.FILES, """
    A PEFT adapter whose adapter_config.json or adapter weights are not where peft looked

    peft reads adapter_config.json, then adapter_model.safetensors (or .bin), from the folder or
    hub id given to PeftModel.from_pretrained / load_adapter; one of them is missing (a wrong
    path, a subfolder, a full model saved where the adapter was expected). Fix: point at the
    folder that holds adapter_config.json, or pass subfolder=.
    """, command="explain")

WEIGHTS_CONVERSION_FAILED = declare("WL146", "weights-conversion-failed", Category.FILES, """
    Converting the checkpoint's weights to this model's layout failed

    The weights come in another framework's or tool's layout (TensorFlow, Flax, GGUF, an older
    key naming that transformers renames on load) and the conversion stopped: a format the
    installed release cannot convert, or a checkpoint from another architecture. Fix: convert
    with the release (and framework) the checkpoint was written for, then save_pretrained.
    """, command="explain")

LIBRARY_TOO_OLD = declare("WL207", "library-too-old", Category.VERSION, """
    A library is older than what loading asks for

    The checkpoint or the call needs a feature of a newer torch, transformers, accelerate,
    safetensors, peft or quantization library than the one installed, and the library says so.
    Fix: upgrade the library the message names to the version it names.
    """, command="explain")

OPTION_DEPRECATED = declare("WL208", "loading-option-deprecated", Category.VERSION, """
    A loading option, argument or file layout that this release deprecates or removed

    The call (or the checkpoint) uses something the installed release renamed or dropped
    (use_auth_token, torch_dtype, from_tf, a legacy cache layout); a deprecation only warns,
    a removal raises. Fix: use the replacement the message names, or the release the code was
    written for.
    """, command="explain")

TOKENIZER_LOAD_FAILED = declare("WL209", "tokenizer-load-failed", Category.VERSION, """
    The tokenizer's files could not be turned into a tokenizer by this release

    tokenizer_config.json, the vocabulary or the added/special tokens name something the
    installed transformers or tokenizers cannot build (another release's format, a slow-to-fast
    conversion it cannot do, inconsistent special tokens). Fix: load with the release that wrote
    the files, or with use_fast=False / True, or regenerate the tokenizer files.
    """, command="explain")

LOADING_ARGUMENTS_INVALID = declare("WL560", "loading-arguments-invalid", Category.ENVIRONMENT, """
    The loading call's arguments are invalid or contradict each other

    from_pretrained (or torch.load, load_state_dict, a quantization or device_map option) refused
    an argument value or a combination of arguments before reading the weights. The message names
    the argument. Fix: change the call as the message says; the checkpoint itself is not at fault.
    """, command="explain")

LIBRARY_MISSING = declare("WL561", "library-missing", Category.ENVIRONMENT, """
    A library that loading needs is not installed (or its native part does not load)

    The checkpoint, the tokenizer or an option of the call needs a package that the interpreter
    does not have, or whose compiled library failed to load. Fix: pip install the package the
    message names, in the environment that runs the load, then restart the process.
    """, command="explain")

DEVICE_UNUSABLE = declare("WL562", "device-unusable", Category.ENVIRONMENT, """
    The device loading asked for is missing or unusable

    The call names a GPU (or MPS/XPU) device that this process cannot use: an index beyond the
    visible devices, a device busy or in a failed state, or a backend that is not available.
    Fix: check CUDA_VISIBLE_DEVICES and nvidia-smi, use a device that exists, or load on cpu.
    """, command="explain")

QUANTIZATION_SETTINGS_INVALID = declare("WL563", "quantization-settings-invalid",
                                        Category.ENVIRONMENT, """
    The quantization settings are invalid, or this machine cannot run the method

    quantization_config (from the call or from config.json) holds values the method refuses, or
    the method needs hardware, a dtype or a device map that this load does not have. Fix: change
    the quantization_config as the message says, or load on hardware the method supports.
    """, command="explain")

HUB_REQUEST_FAILED = declare("WL564", "hub-request-failed", Category.ENVIRONMENT, """
    The Hub answered with an error: a revision or file that does not exist, a rate limit, a
    server error

    The repository was reachable, but the request for a revision, a file or metadata failed with
    an HTTP error. Fix: check the revision and file names; retry later for 429 and 5xx answers;
    for a mirror, check HF_ENDPOINT.
    """, command="explain")

CHECKPOINT_INCONSISTENT = declare("WL147", "checkpoint-inconsistent", Category.FILES, """
    A checkpoint whose own metadata contradicts its data

    The loader found chunks out of bounds or overlapping, sizes that the metadata and the saved
    tensors disagree on, or a storage index beyond its storage: a distributed checkpoint written
    by a failed or mixed run, or files from two saves put together. Fix: save the checkpoint
    again (or consolidate the distributed one with the run that wrote it).
    """, command="explain")

FILE_NOT_FOUND = declare("WL148", "file-not-found", Category.FILES, """
    A file that the load names does not exist

    The path given to the loader (or a file it looked for inside a folder or repository) is not
    there: a typo, a relative path from another working directory, a file not downloaded, or
    one that the repository does not have. Fix: check the path and the working directory, or
    download the file.
    """, command="explain")
