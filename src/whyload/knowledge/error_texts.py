"""The one table of error texts: exception type + regex -> cause, code and fix.

`whyload explain`, `whyload load` and the CLI's own error output all read this table. It is data,
from two sources, in this order:

- HAND_ROWS: rows that say more than a message template can: named evidence groups that fill the
  title and fix, one byte of a message that tells an LFS pointer from an HTML page, texts of
  releases that were never mined. Each says which exception types it applies to (none: any line
  of a log) and carries a real error text that a test feeds back through the table.
- the mined rows: every message template of the loading stack's releases
  (error_templates.json.gz, written by scripts/mine_error_texts.py, one row per cause code), with
  the title, cause and fix of the code's hand row or of CODE_MEANINGS. The script maps a template
  to a code by running its rendered message through HAND_ROWS first, so the two never disagree.

Rows are in order, most specific first; a row marked `fallback` names a generic wrapper (an
OSError around the real cause) and counts only when no other row matched the same error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from whyload.knowledge.fix_commands import load_on_cpu
from whyload.knowledge.mined_error_texts import (
    Template,
    TemplateIndex,
    TemplateSet,
    as_log,
    load_templates,
    render,
)
from whyload.report import Effect, Severity


class TextPattern(Protocol):
    """What a row recognises its text with: a compiled regex, or a set of mined templates."""

    @property
    def pattern(self) -> str: ...

    def search(self, string: str) -> re.Match[str] | None: ...


@dataclass(frozen=True, kw_only=True)
class ErrorText:
    """One recognisable error text and what it means."""

    code: str
    pattern: TextPattern
    title: str  # str.format template over the pattern's named groups
    cause: str
    fix: str  # str.format template over the pattern's named groups
    types: tuple[str, ...] = ()  # exception class names (last dotted part); () = any line
    severity: Severity = Severity.ERROR
    effect: Effect = Effect.RAISES
    fallback: bool = False
    refined_by: tuple[str, ...] = ()  # check codes that say more precisely what the file is
    context: re.Pattern[str] | None = None  # another line of the same error must match it
    example: str = ""


def _row(code: str, pattern: str, title: str, cause: str, fix: str, *,
         types: tuple[str, ...] = (), severity: Severity = Severity.ERROR,
         effect: Effect = Effect.RAISES, fallback: bool = False,
         refined_by: tuple[str, ...] = (), context: str | None = None,
         example: str) -> ErrorText:
    return ErrorText(code=code, pattern=re.compile(pattern), title=title, cause=cause, fix=fix,
                     types=types, severity=severity, effect=effect, fallback=fallback,
                     refined_by=refined_by, context=re.compile(context) if context else None,
                     example=example)


# what `check` can tell about a file that an error message cannot: what its bytes really are
WHAT_THE_BYTES_ARE = ("WL110", "WL111", "WL112", "WL113", "WL114", "WL115", "WL120", "WL121",
                      "WL122", "WL130", "WL131", "WL132", "WL133", "WL160")


_SHAPE = r"torch\.Size\(\[(?P<{}>[^\]]*)\]\)"
_SIZE_MISMATCH = (r"size mismatch for (?P<key>[\w.]*{key}[\w.]*): copying a param with shape "
                  + _SHAPE.format("checkpoint_shape") + r" from checkpoint, the shape in current "
                  r"model is " + _SHAPE.format("model_shape"))
_OOM_FIX = ("load with low_cpu_mem_usage=True / device_map='auto' and dtype=torch.float16, or "
            "give the process more memory; `whyload check <model>` predicts the peak")

HAND_ROWS: tuple[ErrorText, ...] = (
    # --- files: what the bytes really are -------------------------------------------------
    _row("WL110", r"invalid load key, 'v'|Unsupported operand 118|cloned a repository without "
         r"having git-lfs installed|version https://git-lfs\.github\.com/spec",
         "A Git LFS pointer was read as the weights",
         "The weights file is a ~130-byte Git LFS pointer ('version https://git-lfs...'): the "
         "repository was cloned without git-lfs, so the real file was never fetched.",
         "git lfs install && git lfs pull   (or: hf download <repo id>)",
         example="_pickle.UnpicklingError: invalid load key, 'v'."),
    _row("WL111", r"invalid load key, '<'|invalid load key, '\{'|Unsupported operand (?:60|123)\b",
         "An HTML or JSON page was saved in place of the weights",
         "The weights file starts with '<' or '{': an error page (Google Drive quota, proxy "
         "login, a mirror's 404, curl without -L) was saved instead of the checkpoint.",
         "download the file again with a client that follows redirects (hf download, curl -L)",
         example="_pickle.UnpicklingError: invalid load key, '<'."),
    _row("WL131", r"file in archive is not in a subdirectory: (?P<member>\S+)"
         r"|PytorchStreamReader failed locating file (?P<missing_member>\S+)",
         "A zip file that is not a torch checkpoint",
         "torch found a zip archive without the layout torch.save writes (<name>/data.pkl, "
         "<name>/version): another program's zip under a weights name, or a broken export.",
         "`whyload check <model>` lists what the zip holds; fetch or export the real checkpoint",
         refined_by=WHAT_THE_BYTES_ARE,
         example="RuntimeError: [enforce fail at inline_container.cc:180] . file in archive is "
                 "not in a subdirectory: hello.txt"),
    _row("WL130", r"PytorchStreamReader failed reading zip archive"
         r"|failed finding central directory",
         "The torch checkpoint is truncated: its zip central directory is missing",
         "A torch zip checkpoint cut short (interrupted download or copy, full disk): the "
         "central directory at its end is missing. transformers may re-raise it as 'Unable to "
         "load weights from pytorch checkpoint file ... from_tf=True', which is misleading.",
         "delete the file (or pass force_download=True) and download it again",
         example="RuntimeError: PytorchStreamReader failed reading zip archive: failed finding "
                 "central directory"),
    _row("WL130", r"\[Errno 22\] Invalid argument",
         "The torch checkpoint is truncated: its zip directory points past the end",
         "torch's zip reader seeks to the central directory the file's end record promises; in "
         "a file cut short that offset is gone and the seek fails with EINVAL (torch 2.x). An "
         "interrupted download or copy, or a full disk.",
         "delete the file (or pass force_download=True) and download it again",
         types=("OSError",), context="PyTorchFileReader|_open_zipfile_reader",
         example="  File \"torch/serialization.py\", line 807, in __init__\n"
                 "    super().__init__(torch._C.PyTorchFileReader(name_or_buffer))\n"
                 "OSError: [Errno 22] Invalid argument"),
    _row("WL132", r"invalid load key, '(?P<byte>[^v<{]|\\x[0-9a-f]{2})'"
         r"|pickle data was truncated|Ran out of input|unpickling stack underflow"
         r"|Unsupported operand (?P<opcode>\d+)",
         "The checkpoint's pickle is corrupt or cut short",
         "torch.load read bytes that are not a valid pickle stream: a corrupted or truncated "
         "file, or a file in another format under a .bin name.",
         "download the file again; `whyload check <model>` says what the bytes really are",
         types=("UnpicklingError", "EOFError", "RuntimeError"), refined_by=WHAT_THE_BYTES_ARE,
         example="_pickle.UnpicklingError: invalid load key, '\\x00'."),
    _row("WL120", r"MetadataIncompleteBuffer|incomplete metadata, file not fully covered"
         r"|InvalidHeaderLength|header too small",
         "A safetensors file is shorter than its header promises",
         "safetensors read the header, and the file ends before the tensors it lists: a "
         "partial download or copy, or a full disk.",
         "download the file again (force_download=True); compare its size with the Hub's",
         refined_by=WHAT_THE_BYTES_ARE,
         example="safetensors_rust.SafetensorError: Error while deserializing header: "
                 "MetadataIncompleteBuffer"),
    _row("WL115", r"HeaderTooLarge|header too large",
         "A .safetensors file that is not safetensors (header length out of range)",
         "Its first 8 bytes, read as the header length, exceed safetensors' 100 MB limit: the "
         "file is really an LFS pointer, an HTML page or a pickle/zip renamed .safetensors.",
         "`whyload check <model>` says what the file really is; then fetch it again (git lfs "
         "pull, hf download)", refined_by=WHAT_THE_BYTES_ARE,
         example="safetensors_rust.SafetensorError: Error while deserializing header: "
                 "HeaderTooLarge"),
    _row("WL122", r"InvalidOffset|TensorInvalidInfo|MisalignedSlice",
         "Tensor offsets in the safetensors header that do not tile the file",
         "The header's data_offsets overlap, leave gaps or disagree with a tensor's dtype and "
         "shape: a file written by a buggy tool or edited by hand.",
         "save the tensors again with safetensors' save_file / save_pretrained",
         refined_by=WHAT_THE_BYTES_ARE,
         example="safetensors_rust.SafetensorError: Error while deserializing header: "
                 "InvalidOffset(\"bert.embeddings.word_embeddings.weight\")"),
    _row("WL121", r"InvalidHeaderDeserialization|invalid JSON in header|InvalidHeader\b",
         "A safetensors header that is not a valid tensor map",
         "The header JSON does not parse, or describes no tensors: often an empty or "
         "metadata-only file written under DeepSpeed ZeRO-3.",
         "save again from consolidated (gathered) parameters; or download the file again",
         example="safetensors_rust.SafetensorError: Error while deserializing header: "
                 "InvalidHeaderDeserialization"),
    _row("WL123", r"does not contain the valid metadata|'NoneType' object has no attribute 'get'",
         "A safetensors file without the {{\"format\": \"pt\"}} metadata",
         "It was written with save_file but without metadata={'format': 'pt'} (mlx, hand "
         "edits, a Trainer saving a non-PreTrainedModel); older transformers refuse it.",
         "save again with metadata={'format': 'pt'}, or upgrade transformers",
         example="OSError: The safetensors archive passed at model.safetensors does not contain "
                 "the valid metadata. Make sure you save your model with the save_pretrained "
                 "method."),
    _row("WL124", r"size mismatch for (?P<key>[\w.]+): copying a param with shape "
         r"torch\.Size\(\[0\]\) from checkpoint",
         "{key} was saved with shape [0]: ZeRO-3 partitions never gathered",
         "DeepSpeed ZeRO-3 saved each rank's partition placeholder (shape [0]) instead of the "
         "gathered parameters.",
         "run zero_to_fp32.py on the checkpoint folder, or set "
         "stage3_gather_16bit_weights_on_model_save=true and save again",
         example="size mismatch for encoder.layer.3.attention.self.query.weight: copying a param "
                 "with shape torch.Size([0]) from checkpoint, the shape in current model is "
                 "torch.Size([768, 768])."),
    _row("WL190", r"Consistency check failed: file should be of size (?P<expected_size>\d+) but "
         r"has size (?P<size>\d+)(?: \((?P<file>[^)]+)\))?",
         "The download of {file} stopped at {size} of {expected_size} bytes",
         "huggingface_hub received a different number of bytes than the Hub announced: a cut "
         "transfer, or a proxy or mirror that returned an error body.",
         "retry with force_download=True; check the proxy and HF_ENDPOINT",
         example="OSError: Consistency check failed: file should be of size 440449768 but has "
                 "size 4122356 (model.safetensors)."),
    _row("WL150", r"unable to open file <?(?P<file>[^>\s]+)>? in read-only mode: No such file",
         "{file} vanished while it was opened: a dangling cache link",
         "The cache's symlink points at a blob that is not there: several processes downloading "
         "into one cache at once, or a cache copied without its links.",
         "download once before starting workers (snapshot_download), then load with "
         "local_files_only=True; copy caches with cp -L",
         example="RuntimeError: unable to open file </root/.cache/huggingface/hub/models--bert-"
                 "base-uncased/snapshots/abc/model.safetensors> in read-only mode: No such file "
                 "or directory (2)"),
    _row("WL141", r"No such file or directory: '?(?P<file>[^'\s]*-\d{5}-of-\d{5}[^'\s]*?)'?$",
         "The shard {file} named by the index is missing",
         "model.*.index.json maps weights to a shard file that is not there: a partial download "
         "or a re-sharded repository with a stale index.",
         "fetch the missing shards (hf download <repo id>), or rebuild the index from the shards",
         example="FileNotFoundError: [Errno 2] No such file or directory: "
                 "'./model/model-00001-of-00004.safetensors'"),
    _row("WL101", r"there is a file for TensorFlow weights|requires both PyTorch and TensorFlow",
         "Only TensorFlow weights: transformers 5 cannot load them",
         "The folder has tf_model.h5 but no PyTorch weights; transformers 5 removed TF loading.",
         "in a transformers 4.x environment with TensorFlow: from_pretrained(path, "
         "from_tf=True).save_pretrained(out)",
         example="OSError: bert does not appear to have a file named pytorch_model.bin but there "
                 "is a file for TensorFlow weights. Use `from_tf=True` to load this model from "
                 "those weights."),
    _row("WL302", r"Can't load config for '(?P<file>[^']*bert_config\.json)'",
         "An original Google BERT release: bert_config.json, not config.json",
         "The google-research/bert layout (bert_config.json without model_type, a TF "
         "checkpoint) is not a transformers folder.",
         "convert it with a transformers 4.x `transformers-cli convert --model_type bert ...`; "
         "rename the config to config.json and add \"model_type\": \"bert\"",
         example="OSError: Can't load config for './uncased_L-12_H-768_A-12/bert_config.json'."),
    _row("WL233", r"Error no file named pytorch_model\.bin, tf_model\.h5",
         "transformers did not look for model.safetensors",
         "Its list of weight names has no model.safetensors: a transformers release that "
         "predates safetensors support, or no safetensors package installed.",
         "pip install -U transformers safetensors",
         example="OSError: Error no file named pytorch_model.bin, tf_model.h5, model.ckpt.index "
                 "or flax_model.msgpack found in directory ./model."),
    _row("WL100", r"Error no file named .* found in directory (?P<file>\S+?)\.?$"
         r"|does not appear to have a file named (?P<wanted>[\w.\-]+)",
         "No weights file that from_pretrained looks for",
         "The folder holds no model.safetensors / pytorch_model.bin: only config and tokenizer "
         "files, weights under another name (model.pt), the parent of checkpoint-N/, or "
         "files renamed by a browser.",
         "save with save_pretrained, or rename the weights to model.safetensors; "
         "`whyload check <folder>` lists what is there",
         types=("OSError", "EnvironmentError", "FileNotFoundError"),
         example="OSError: Error no file named pytorch_model.bin, model.safetensors, tf_model.h5, "
                 "model.ckpt.index or flax_model.msgpack found in directory ./model."),
    _row("WL541", r"No space left on device|Not enough free disk space",
         "The disk is full",
         "Writing the download or the converted weights ran out of space; a later 'Can't load' "
         "error may only be its echo.",
         "free space, or point HF_HOME at a larger disk",
         example="OSError: [Errno 28] No space left on device"),
    # --- version -----------------------------------------------------------------------------
    _row("WL210", r"Unsupported global: GLOBAL (?P<global_name>[\w.]+)",
         "torch.load with weights_only=True refuses the global {global_name}",
         "Since torch 2.6 torch.load defaults to weights_only=True, which only rebuilds tensors "
         "and plain containers; this pickle also holds {global_name} (a whole pickled model, "
         "TrainingArguments, numpy RNG state).",
         "for a file you trust: torch.serialization.add_safe_globals([{global_name}]) or "
         "weights_only=False; better, re-save the state_dict as safetensors",
         example="_pickle.UnpicklingError: Weights only load failed. WeightsUnpickler error: "
                 "Unsupported global: GLOBAL belt_nlp.bert.BertNN was not an allowed global by "
                 "default."),
    _row("WL210", r"Weights only load failed",
         "torch.load with weights_only=True refuses this pickle",
         "Since torch 2.6 torch.load defaults to weights_only=True, and this pickle holds "
         "something other than tensors.",
         "for a file you trust: weights_only=False; better, re-save the state_dict as "
         "safetensors", fallback=True,
         example="_pickle.UnpicklingError: Weights only load failed. In PyTorch 2.6, we changed "
                 "the default value of the weights_only argument in torch.load"),
    _row("WL204", r"CVE-2025-32434|require users to upgrade torch to at least v2\.6",
         "transformers refuses .bin weights on torch < 2.6",
         "Since transformers PR #37785, torch.load of .bin files needs torch >= 2.6 "
         "(CVE-2025-32434); safetensors weights are not affected.",
         "pip install -U 'torch>=2.6', or convert the weights to safetensors",
         example="ValueError: Due to a serious vulnerability issue in torch.load, even with "
                 "weights_only=True, we now require users to upgrade torch to at least v2.6 in "
                 "order to use the function. CVE-2025-32434"),
    _row("WL230", r"(?:Unexpected|Missing) key\(s\) in state_dict:.*position_ids",
         "A strict load_state_dict trips over embeddings.position_ids",
         "The position_ids buffer was persistent between transformers 3.1 and 4.31: the state "
         "dict comes from the other side of that change.",
         "drop the key (sd.pop('...embeddings.position_ids')) or load with strict=False",
         example='Unexpected key(s) in state_dict: "bert.embeddings.position_ids".'),
    _row("WL231", r"is a zip archive \(did you mean to use torch\.jit\.load\(\)\?\)"
         r"|Attempted to read a PyTorch file with version \d+, but the maximum supported",
         "A torch zip checkpoint read by torch < 1.6",
         "The file uses the zip serialization of torch >= 1.6, which this torch cannot read.",
         "upgrade torch, or save again with _use_new_zipfile_serialization=False",
         example="RuntimeError: pytorch_model.bin is a zip archive (did you mean to use "
                 "torch.jit.load()?)"),
    _row("WL232", r"No module named '(?P<module>transformers\.(?:configuration|modeling|"
         r"tokenization)_\w+)'|Can't get attribute '(?P<attribute>\w+)' on <module "
         r"'(?P<module_of_attribute>[\w.]+)'",
         "A pickled object refers to a module or class that has moved",
         "torch.save(model) stored import paths; transformers 4 moved its modules to "
         "transformers.models.*, so unpickling the old file fails.",
         "load it with the transformers that saved it, then export with save_pretrained",
         example="ModuleNotFoundError: No module named 'transformers.configuration_bert'"),
    _row("WL234", r"unexpected keyword argument '(?P<argument>ignore_mismatched_sizes|dtype|"
         r"torch_dtype|from_tf|from_flax|low_cpu_mem_usage|device_map)'",
         "from_pretrained argument {argument} is unknown to this transformers",
         "The argument belongs to another transformers release (dtype since 4.56, from_tf and "
         "from_flax removed in 5, ignore_mismatched_sizes added in 4.x).",
         "drop or rename {argument} for the installed release, or change the transformers "
         "version", types=("TypeError",),
         example="TypeError: __init__() got an unexpected keyword argument "
                 "'ignore_mismatched_sizes'"),
    _row("WL235", r"A (?:pretrained model|parameter name) that contains '?`?(?P<name>gamma|beta)`?"
         r"'? will be renamed",
         "Parameters named {name} are renamed on load: custom ones stay random",
         "transformers renamed gamma/beta keys to weight/bias; a custom parameter with that "
         "name finds nothing and keeps its random initialization.",
         "rename the custom parameters (not gamma/beta), or use a transformers with PR #35615",
         severity=Severity.WARNING, effect=Effect.SILENT,
         example="A parameter name that contains `gamma` will be renamed internally to "
                 "`weight`."),
    _row("WL201", r"model type [`'\"]?(?P<model_type>[\w\-]+)[`'\"]? but Transformers does not "
         r"recognize this architecture",
         "The installed transformers does not know model_type {model_type}",
         "The architecture is newer than the installed transformers.",
         "pip install -U transformers",
         example="ValueError: The checkpoint you are trying to load has model type `modernbert` "
                 "but Transformers does not recognize this architecture."),
    _row("WL201", r"^KeyError: '(?P<model_type>[\w\-]+)'",
         "The installed transformers does not know model_type {model_type}",
         "Releases before the clearer message (PR #27976) raised a bare KeyError from the "
         "config mapping for a model type they did not know.",
         "pip install -U transformers", types=("KeyError",),
         context=r"configuration_auto|CONFIG_MAPPING",
         example="  File \"transformers/models/auto/configuration_auto.py\", line 710, in "
                 "__getitem__\n    raise KeyError(key)\nKeyError: 'llama'"),
    _row("WL202", r"TokenizersBackend does not exist",
         "tokenizer_config.json names TokenizersBackend (written by transformers 5)",
         "transformers 5 writes tokenizer_class TokenizersBackend, which 4.x cannot resolve.",
         "upgrade to transformers 5, or set tokenizer_class to a concrete class "
         "(BertTokenizerFast)",
         example="ValueError: Tokenizer class TokenizersBackend does not exist or is not "
                 "currently imported."),
    _row("WL203", r"did not match any variant of untagged enum (?P<enum>\w+)",
         "tokenizer.json was written by a newer tokenizers ({enum})",
         "The installed tokenizers cannot parse the file's format (BPE merges stored as pairs "
         "since tokenizers 0.20).",
         "pip install -U tokenizers, or load with use_fast=False",
         example="Exception: data did not match any variant of untagged enum ModelWrapper at "
                 "line 250373 column 3"),
    # --- config --------------------------------------------------------------------------------
    _row("WL300", r"file (?P<file>\S*config\.json) not found|does not appear to have a file "
         r"named config\.json",
         "config.json is missing",
         "The folder has weights but no config.json, which from_pretrained needs first.",
         "copy config.json from the base model the weights were trained from",
         example="OSError: file ./model/config.json not found"),
    _row("WL301", r"config file at '(?P<file>[^']+)' is not a valid JSON file",
         "{file} is not valid JSON",
         "transformers could not parse config.json: a cut download, a hand edit that left a "
         "trailing comma or a missing brace, or an HTML page saved under its name.",
         "`whyload check <model>` shows where the JSON breaks; fix the file or download it again",
         example="OSError: It looks like the config file at './model/config.json' is not a valid "
                 "JSON file."),
    _row("WL304", r"Field '(?P<field>\w+)' expected (?P<expected>[\w\[\], |]+?), got "
         r"(?P<got>\w+)",
         "config.json's {field} is a {got}, where transformers expects {expected}",
         "transformers 5 validates config values by type: a number written as a string "
         "(\"hidden_size\": \"768\"), a float layer count, or a list where one value belongs.",
         "write {field} in config.json as {expected} (for a number: no quotes)",
         example="    TypeError: Field 'hidden_size' expected int, got str (value: '32')"),
    _row("WL320", r"hidden size \((?P<hidden_size>\d+)\) is not a multiple of the number of "
         r"attention heads \((?P<heads>\d+)\)",
         "hidden_size {hidden_size} is not a multiple of num_attention_heads {heads}",
         "Each attention head gets hidden_size / num_attention_heads dimensions; config.json's "
         "values do not divide, so the model cannot be built (a config from another model, or "
         "an edit to one of the two).",
         "take config.json from the checkpoint the weights come from; `whyload check <model>` "
         "shows which value the weights support",
         example="ValueError: The hidden size (32) is not a multiple of the number of attention "
                 "heads (5)"),
    _row("WL352", r"(?:Expecting (?:value|property name|',' delimiter|':' delimiter)|"
         r"Unterminated string|Extra data|expected value|EOF while parsing)"
         r"[^\n]*line \d+ column \d+",
         "A tokenizer file is not valid JSON",
         "tokenizer.json (or tokenizer_config.json) does not parse: cut short, an LFS pointer "
         "or an HTML page saved under its name, or a broken hand edit.",
         "download the tokenizer files again: hf download <repo id> --include 'tokenizer*'",
         types=("JSONDecodeError", "Exception"),
         context=r"tokenization_\w+\.py|tokenizer(?:_config)?\.json|Tokenizer\.from_file",
         example="  File \"transformers/tokenization_utils_base.py\", line 1947, in "
                 "_from_pretrained\njson.decoder.JSONDecodeError: Expecting value: line 1 "
                 "column 1 (char 0)"),
    _row("WL303", r"Unrecognized model in (?P<file>\S+?)\.? Should have a [`']?model_type",
         "config.json has no model_type (or there is no config.json)",
         "Auto classes pick the architecture from config.json's model_type; this folder's "
         "config has none (or the folder has no config.json at all).",
         "add \"model_type\": \"bert\" (or the right family) to config.json, or load with the "
         "concrete class",
         refined_by=("WL300",),
         example="ValueError: Unrecognized model in ./finbert. Should have a `model_type` key in "
                 "its config.json, or contain one of the following strings in its name: bert"),
    _row("WL422", _SIZE_MISMATCH.format(key="rel_embeddings"),
         "DeBERTa v2/v3 weights in a DeBERTa (v1) class, or the reverse",
         "{key} has shape [{checkpoint_shape}] in the checkpoint and [{model_shape}] in the "
         "model: the relative-position table differs between DeBERTa v1 and v2/v3.",
         "load with AutoModel (or the DebertaV2* classes for v2/v3)",
         example="size mismatch for deberta.encoder.rel_embeddings.weight: copying a param with "
                 "shape torch.Size([512, 1536]) from checkpoint, the shape in current model is "
                 "torch.Size([1024, 1536])."),
    _row("WL310", _SIZE_MISMATCH.format(key=""),
         "{key} is [{checkpoint_shape}] in the checkpoint, [{model_shape}] in the model",
         "The model built from the config expects another shape than the checkpoint holds: "
         "the config contradicts the weights (num_labels for a classifier; vocab_size, "
         "max_position_embeddings or type_vocab_size for embeddings), often a default or foreign "
         "config.",
         "load the config from the same checkpoint and fix the size in config.json (num_labels "
         "via id2label); or, unless the checkpoint is quantized (its random values would "
         "replace quantized weights), pass ignore_mismatched_sizes=True to re-initialize {key}",
         example="size mismatch for classifier.weight: copying a param with shape "
                 "torch.Size([3, 768]) from checkpoint, the shape in current model is "
                 "torch.Size([2, 768]). You may consider adding ignore_mismatched_sizes=True"),
    _row("WL350", r"'(?P<config_class>\w*Config)' object has no attribute '(?P<attribute>\w+)'"
         r"|type object '(?P<config_type>\w*Config)' has no attribute '(?P<class_attribute>\w+)'",
         "The config has no attribute the code reads",
         "Custom model code (or an old API) reads a config attribute that config.json does "
         "not set, or a class attribute that transformers removed.",
         "add the missing key to config.json, or run the code with the transformers release it "
         "was written for", types=("AttributeError",),
         example="AttributeError: 'BertConfig' object has no attribute 'add_layers'"),
    _row("WL351", r"stat: path should be string, bytes, os\.PathLike or integer, not NoneType",
         "The tokenizer class found no vocabulary file (its path is None)",
         "The tokenizer class chosen for this model expects a vocabulary file the folder lacks "
         "(Multilingual-MiniLM: a BERT with an XLM-R tokenizer).",
         "load the tokenizer class the files belong to (XLMRobertaTokenizer), or set "
         "tokenizer_class in tokenizer_config.json",
         example="TypeError: stat: path should be string, bytes, os.PathLike or integer, not "
                 "NoneType"),
    _row("WL330", r"index out of range in self",
         "An index beyond an embedding matrix in the first forward",
         "A token id beyond vocab_size (tokens added without resize_token_embeddings), an input "
         "longer than max_position_embeddings, or token_type_ids of 1 for a model with one "
         "token type (RoBERTa).",
         "model.resize_token_embeddings(len(tokenizer)); tokenize with truncation=True; drop "
         "token_type_ids for RoBERTa", types=("IndexError",),
         example="IndexError: index out of range in self"),
    # --- architecture ---
    _row("WL410", r"(?:Unexpected|Missing) key\(s\) in state_dict: \"(?P<prefix>module\.|"
         r"_orig_mod\.)",
         "Every key carries the wrapper prefix {prefix}",
         "The state dict was saved from DataParallel/DDP (module.) or torch.compile "
         "(_orig_mod.), so no name matches the model's.",
         "strip the prefix: {{k.removeprefix('{prefix}'): v for k, v in sd.items()}}",
         example='RuntimeError: Error(s) in loading state_dict for BertModel: Unexpected key(s) '
                 'in state_dict: "module.bert.embeddings.word_embeddings.weight".'),
    _row("WL411", r"(?:Unexpected|Missing) key\(s\) in state_dict: \"(?P<prefix>model\.)"
         r"|pytorch-lightning_version",
         "A Lightning training checkpoint, not a model state dict",
         "Lightning nests the weights under 'state_dict' with a model. prefix.",
         "take ckpt['state_dict'], strip 'model.', then save_pretrained",
         example='Unexpected key(s) in state_dict: "model.roberta.embeddings.word_embeddings.'
                 'weight".'),
    _row("WL430", r"trust_remote_code=True|contains custom code which must be executed"
         r"|No module named '(?P<module>transformers_modules[\w.]*)'"
         r"|Could not locate the (?P<file>\w+\.py) inside",
         "The model needs its own code (auto_map): trust_remote_code",
         "config.json's auto_map points at Python files in the repository (or another one); "
         "transformers runs them only with trust_remote_code=True, and offline only if that "
         "code is cached too.",
         "review the code, then pass trust_remote_code=True (and cache the code repo for "
         "offline use)",
         example="ValueError: Loading bert requires you to execute the configuration file in "
                 "that repo on your local machine. Make sure you have read the code there to "
                 "avoid malicious use, then set the option `trust_remote_code=True` to remove "
                 "this error."),
    _row("WL406", r"Unrecognized configuration class <?(?:class )?'?(?P<config_class>[\w.]+)'?>? "
         r"for this kind of AutoModel: (?P<auto_class>\w+)",
         "{auto_class} has no model for this config",
         "The Auto class's task does not exist for this model type (an encoder with a "
         "generative task, say).",
         "use an Auto class this model type supports (AutoModel, "
         "AutoModelForSequenceClassification, AutoModelForMaskedLM)",
         example="ValueError: Unrecognized configuration class <class 'transformers.models."
                 "distilbert.configuration_distilbert.DistilBertConfig'> for this kind of "
                 "AutoModel: AutoModelForSeq2SeqLM."),
    _row("WL450", r"No sentence-transformers model found with name (?P<model>\S+)\. Creating a "
         r"new one with (?:mean|MEAN) pooling",
         "sentence-transformers fell back to mean pooling for {model}",
         "The folder has no modules.json / 1_Pooling: the embeddings are not the published ones.",
         "load the sentence-transformers export of the model (with modules.json)",
         severity=Severity.WARNING, effect=Effect.SILENT,
         example="No sentence-transformers model found with name answerdotai/ModernBERT-base. "
                 "Creating a new one with mean pooling."),
    _row("WL450", r"No modules\.json found for (?P<model>\S+?),? initializing a new "
         r"SentenceTransformer model",
         "sentence-transformers built a new model for {model}: no modules.json",
         "Without modules.json it wraps the transformer in a default mean pooling: saved "
         "pooling, Normalize and Dense modules are not used, and the embeddings differ.",
         "restore modules.json (the sentence-transformers export of the model)",
         severity=Severity.WARNING, effect=Effect.SILENT,
         example="No modules.json found for /models/minilm, initializing a new "
                 "SentenceTransformer model."),
    _row("WL402", r"Missing key\(s\) in state_dict: \"(?P<key>[^\"]+)\"",
         "Weights the model needs are not in the state dict ({key}, ...)",
         "load_state_dict(strict=True) found model parameters the checkpoint does not have.",
         "load with the class the checkpoint was saved from, or strict=False when the missing "
         "ones are meant to be trained",
         example='RuntimeError: Error(s) in loading state_dict for BertModel: Missing key(s) in '
                 'state_dict: "pooler.dense.weight".'),
    _row("WL403", r"Unexpected key\(s\) in state_dict: \"(?P<key>[^\"]+)\"",
         "The state dict has weights the model has no place for ({key}, ...)",
         "load_state_dict(strict=True) found checkpoint keys the model does not define.",
         "load with the class the checkpoint was saved from, or drop the extra keys",
         example='RuntimeError: Error(s) in loading state_dict for BertModel: Unexpected key(s) '
                 'in state_dict: "cls.predictions.bias".'),
    # --- environment ---
    _row("WL514", r"CUDA out of memory|CUDA error: out of memory|OutOfMemoryError"
         r"|CUBLAS_STATUS_ALLOC_FAILED"
         r"|HIP out of memory",
         "The GPU ran out of memory",
         "The weights (plus activations) need more GPU memory than is free: another process "
         "holds memory, or the dtype is float32.",
         "load with dtype=torch.float16 / bfloat16 and device_map='auto'; free the GPU "
         "(nvidia-smi); `whyload check <model> --device cuda` predicts the need",
         example="torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 "
                 "has a total capacity of 7.79 GiB of which 5.12 MiB is free."),
    _row("WL500", r"DefaultCPUAllocator: can't allocate memory(?:: you tried to allocate "
         r"(?P<bytes>\d+) bytes)?|^\s*Killed\s*$|exit(?:ed with)? (?:code|status) 137\b"
         r"|killed by signal 9\b|died with <Signals\.SIGKILL: 9>|signal 9 \(SIGKILL\)"
         r"|returncode=-9\b|Out of memory: Killed process|oom-kill|OOMKilled|(?<!\w)MemoryError\b"
         r"|Signal 9 \(SIGKILL\) received by PID|exitcode\s*: -9\b",
         "The process ran out of memory while loading",
         "The kernel (or the container's cgroup limit) killed the process, or an allocation "
         "failed: loading needs roughly 1-2x the model size in RAM. A reported allocation is "
         "only the last chunk, not the total.",
         _OOM_FIX,
         example="RuntimeError: [enforce fail at alloc_cpu.cpp:114] data. DefaultCPUAllocator: "
                 "can't allocate memory: you tried to allocate 268435456 bytes. Error code 12 "
                 "(Cannot allocate memory)"),
    _row("WL577", r"killed by signal (?P<signal>\d+)|Segmentation fault|core dumped"
         r"|Bus error|exit(?:ed with)? (?:code|status) 13[49]\b"
         r"|Signal (?P<signal_number>\d+) \((?P<signal_name>SIG[A-Z]+)\) received by PID"
         r"|exitcode\s*: -(?P<exit_signal>[1-8]|1[0-5])\b",
         "The process died from a signal during loading",
         "Native code crashed: a torch or driver build that does not match, a file truncated "
         "under an mmap (SIGBUS), or conflicting OpenMP runtimes.",
         "run `whyload env` and `whyload verify <model>`; rerun with PYTHONFAULTHANDLER=1",
         example="Segmentation fault (core dumped)"),
    _row("WL516", r"Attempting to deserialize object on (?:a )?CUDA device",
         "Tensors saved on a GPU, loaded on a machine without one",
         "The pickle stores 'cuda:N' locations and this torch sees no GPU.",
         load_on_cpu("<weights file>"),
         example="RuntimeError: Attempting to deserialize object on a CUDA device but "
                 "torch.cuda.is_available() is False. If you are running on a CPU-only machine, "
                 "please use torch.load with map_location=torch.device('cpu')"),
    _row("WL510", r"Torch not compiled with CUDA enabled",
         "The installed torch is a CPU-only build",
         "CUDA was requested but this torch has no CUDA support.",
         "install a CUDA build of torch (see pytorch.org for the index URL)",
         example="AssertionError: Torch not compiled with CUDA enabled"),
    _row("WL512", r"CUDA driver version is insufficient|driver on your system is too old",
         "The NVIDIA driver is older than torch's CUDA runtime",
         "torch was built for a newer CUDA than the installed driver supports.",
         "upgrade the NVIDIA driver, or install a torch wheel built for an older CUDA",
         example="RuntimeError: CUDA error: CUDA driver version is insufficient for CUDA runtime "
                 "version"),
    _row("WL513", r"no kernel image is available for execution on the device|CUDA capability "
         r"(?P<capability>sm_\d+) is not compatible",
         "torch has no kernels for this GPU's architecture",
         "The torch wheel's arch list does not include this GPU (too new or too old).",
         "install a torch wheel built for this GPU (a newer CUDA build for new GPUs)",
         example="RuntimeError: CUDA error: no kernel image is available for execution on the "
                 "device"),
    _row("WL511", r"Found no NVIDIA driver on your system|no CUDA GPUs are available",
         "No NVIDIA GPU is visible",
         "CUDA was requested but no GPU (or no driver) is visible to this process.",
         "check nvidia-smi and CUDA_VISIBLE_DEVICES (and --gpus in docker), or load on cpu",
         example="RuntimeError: Found no NVIDIA driver on your system."),
    _row("WL576", r"device-side assert triggered",
         "A CUDA kernel failed an assertion: usually an index out of range",
         "A token id, label or token type beyond its table, detected on the GPU; the error "
         "surfaces at a later call.",
         "rerun with CUDA_LAUNCH_BLOCKING=1 (or on CPU) to see the real IndexError",
         example="RuntimeError: CUDA error: device-side assert triggered"),
    _row("WL522", r"outgoing traffic has been disabled|OfflineModeIsEnabled|offline mode is "
         r"enabled", "Offline mode, and the files are not in the cache",
         "HF_HUB_OFFLINE (or local_files_only) forbids downloads, and this cache lacks the "
         "files: another HF_HOME or user, another revision, or a partial snapshot.",
         "download once with a network: hf download <repo id> (same HF_HOME), then run offline",
         example="huggingface_hub.errors.LocalEntryNotFoundError: Cannot find the requested "
                 "files in the disk cache and outgoing traffic has been disabled."),
    _row("WL570", r"Repo id must (?:be in the form|use alphanumeric chars)[^:]*: "
         r"'(?P<path>[^']+)'",
         "{path} is not an existing folder, so it was sent to the Hub",
         "from_pretrained treats a string that is not an existing directory as a hub id.",
         "correct the path (relative to the working directory) or use an absolute path",
         example="huggingface_hub.errors.HFValidationError: Repo id must be in the form "
                 "'repo_name' or 'namespace/repo_name': './pretrained_model/mt5-base'."),
    _row("WL570", r"(?P<path>\S+?)'? is not a local folder and is not a valid model identifier",
         "{path} is neither a folder here nor a model id the Hub knows",
         "from_pretrained found no such folder (the path is relative to the working "
         "directory), so it asked the Hub, which has no such repository either.",
         "correct the path or use an absolute one; for a hub id check its spelling and run "
         "`hf auth login` if it is private",
         example="OSError: ./models/my-bert is not a local folder and is not a valid model "
                 "identifier listed on 'https://huggingface.co/models'"),
    _row("WL521", r"make sure you don't have a local directory with the same name",
         "A local folder may shadow the hub id",
         "transformers found a folder named like the hub id in the working directory (often "
         "incomplete) and used it instead of the Hub or the cache.",
         "rename the folder, or use an absolute path or the org-qualified id",
         fallback=True,
         example="OSError: Can't load tokenizer for 'bert-base-uncased'. If you were trying to "
                 "load it from 'https://huggingface.co/models', make sure you don't have a local "
                 "directory with the same name."),
    _row("WL571", r"RepositoryNotFoundError|GatedRepoError|Repository Not Found for url"
         r"|private or gated repo|401 Client Error|403 Client Error",
         "The Hub refused the repository (missing, private or gated)",
         "A mistyped id, a private repo without a token, or a gated model whose terms were not "
         "accepted.", "check the id; run `hf auth login`; accept the gate on the model page",
         example="huggingface_hub.errors.RepositoryNotFoundError: 401 Client Error. Repository "
                 "Not Found for url: https://huggingface.co/api/models/gpt2-small. If you are "
                 "trying to access a private or gated repo, make sure you are authenticated."),
    _row("WL574", r"CERTIFICATE_VERIFY_FAILED|SSLError|SSLCertVerificationError",
         "TLS verification to the Hub failed: a proxy or a missing CA bundle",
         "A proxy re-signs the traffic, or Python does not know the CA.",
         "set REQUESTS_CA_BUNDLE / SSL_CERT_FILE to the proxy's CA (and HTTPS_PROXY), or "
         "pre-download the model elsewhere",
         example="requests.exceptions.SSLError: HTTPSConnectionPool(host='cdn-lfs.huggingface.co',"
                 " port=443): Max retries exceeded ([SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                 "verify failed)"),
    _row("WL573", r"We couldn't connect to '(?P<endpoint>[^']+)'",
         "The Hub was unreachable and the files are not cached",
         "No network (or a firewall), and the cache has no copy: another HF_HOME or user, "
         "another revision, or only part of the repo cached.",
         "download once where there is a network (hf download <repo id>), keep HF_HOME the "
         "same, then set HF_HUB_OFFLINE=1",
         fallback=True,
         example="OSError: We couldn't connect to 'https://huggingface.co' to load this file, "
                 "couldn't find it in the cached files and it looks like bert-base-uncased is not "
                 "the path to a directory containing a file named config.json."),
    _row("WL573", r"Failed to establish a new connection|Temporary failure in name resolution"
         r"|Max retries exceeded with url|ConnectTimeout|Network is unreachable",
         "The Hub could not be reached",
         "The request to the Hub failed before any answer: no network, a firewall, DNS, or a "
         "proxy that is not set. from_pretrained needs the Hub unless the files are cached.",
         "set HTTPS_PROXY if there is a proxy; or download where there is a network "
         "(hf download <repo id>) and run with HF_HUB_OFFLINE=1", fallback=True,
         example="requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', "
                 "port=443): Max retries exceeded with url: /bert-base-uncased/resolve/main/"
                 "config.json (Caused by NewConnectionError('Failed to establish a new "
                 "connection: [Errno 101] Network is unreachable'))"),
    _row("WL520", r"problem when trying to write in your cache folder|\[Errno 30\] Read-only "
         r"file system|PermissionError: \[Errno 13\][^\n]*(?:huggingface|\.cache)",
         "The Hugging Face cache is not writable",
         "A container's uid or HOME differs from the cache owner, or the file system is "
         "read-only; even a fully cached model may write (locks, refs).",
         "export HF_HOME to a writable folder (or HF_HUB_OFFLINE=1 with a populated cache), or "
         "chown the cache",
         example="OSError: [Errno 30] Read-only file system: '/nonexistent'"),
    _row("WL575", r"cache-system uses symlinks by default|WinError 1314",
         "The cache cannot create symlinks",
         "huggingface_hub falls back to a degraded layout that duplicates files.",
         "enable Developer Mode on Windows, or download with local_dir",
         severity=Severity.WARNING, effect=Effect.NONE,
         example="UserWarning: `huggingface_hub` cache-system uses symlinks by default to "
                 "efficiently store duplicated files but your machine does not support them"),
    _row("WL572", r"install(?:ed)? `?sentencepiece|`?sentencepiece`? installed"
         r"|requires the (?:protobuf|SentencePiece) library"
         r"|Couldn't instantiate the backend tokenizer|No module named '(?:sentencepiece|"
         r"google\.protobuf)'",
         "The tokenizer needs sentencepiece or protobuf",
         "This checkpoint ships a sentencepiece model (ALBERT, DeBERTa-v2/v3, XLM-R) and the "
         "packages to read or convert it are missing.",
         "pip install sentencepiece protobuf, then restart the Python process",
         example="ValueError: This tokenizer cannot be instantiated. Please make sure you have "
                 "`sentencepiece` installed in order to use this tokenizer."),
    # --- wrappers: only when nothing above explained the error ---
    _row("WL130", r"Unable to load weights from pytorch checkpoint file for '?(?P<file>[^'\s]+)'?",
         "transformers could not read the weights file {file}",
         "torch.load failed on the file; the hint about from_tf=True is misleading. Usually the "
         "file is truncated or not a torch checkpoint at all.",
         "`whyload check <model>` says what the file is; download it again", fallback=True,
         refined_by=WHAT_THE_BYTES_ARE,
         example="OSError: Unable to load weights from pytorch checkpoint file for "
                 "'pytorch_model-00039-of-00061.bin' at 'pytorch_model-00039-of-00061.bin'. If "
                 "you tried to load a PyTorch model from a TF 2.0 checkpoint, please set "
                 "from_tf=True."),
)

# What a code means when no hand row says it (codes only mined templates name); for the other
# codes the mined rows take the title, cause and fix of the code's first hand row.
CODE_MEANINGS: dict[str, tuple[str, str, str]] = {
    "WL145": ("The PEFT adapter's config or weights were not found",
              "peft found no adapter_config.json or adapter weights where it looked: a wrong "
              "path or subfolder, or a full model where the adapter was expected.",
              "point at the folder that holds adapter_config.json, or pass subfolder="),
    "WL146": ("Converting the checkpoint's weights to this model failed",
              "The weights are in another framework's or tool's layout (TensorFlow, Flax, GGUF, "
              "an older key naming) and the conversion stopped.",
              "convert with the release the checkpoint was written for, then save_pretrained"),
    "WL140": ("The shard index cannot be used",
              "model.*.index.json (the list of which shard holds which weight) is missing, not "
              "valid JSON, or has no weight_map.",
              "download the index again, or rebuild it from the shards"),
    "WL462": ("The adapter's target_modules are not in the base model",
              "peft could not find the modules the adapter config names in the base model: "
              "an adapter trained on another base model or architecture.",
              "load the adapter onto the base model named in adapter_config.json "
              "(base_model_name_or_path)"),
    "WL542": ("The quantization backend is not installed",
              "The checkpoint or the call asks for a quantization method whose package "
              "(bitsandbytes, auto-gptq/gptqmodel, autoawq, optimum, torchao, ...) is missing "
              "or too old in this interpreter.",
              "pip install the package the message names, in the environment that loads"),
    "WL554": ("device_map or low_cpu_mem_usage needs accelerate, which is not installed",
              "Placing weights on devices while loading (device_map, low_cpu_mem_usage, a "
              "device context, quantization) is done by accelerate.",
              "pip install accelerate (or load without device_map)"),
    "WL147": ("The checkpoint's metadata contradicts its data",
              "Chunks out of bounds or overlapping, sizes that disagree, an index beyond its "
              "storage: a checkpoint from a failed or mixed save.",
              "save the checkpoint again, or consolidate it with the run that wrote it"),
    "WL148": ("A file that the load names does not exist",
              "The path given to the loader, or a file it looked for in a folder or "
              "repository, is not there (a typo, another working directory, not downloaded).",
              "check the path and the working directory, or download the file"),
    "WL207": ("A library is older than what loading asks for",
              "The checkpoint or the call needs a newer release of the library the message "
              "names.", "upgrade the library the message names to the version it names"),
    "WL208": ("A loading option that this release deprecates or removed",
              "The call or the checkpoint uses an argument or layout that the installed release "
              "renamed or dropped.", "use the replacement the message names"),
    "WL209": ("The tokenizer files could not be turned into a tokenizer",
              "tokenizer_config.json, the vocabulary or the special tokens name something the "
              "installed transformers/tokenizers cannot build.",
              "load with the release that wrote the files, or try use_fast=False/True"),
    "WL407": ("transformers refuses to build the model from this config",
              "A value in config.json (or passed to the config) fails the config class's "
              "validation, so the model cannot be built.",
              "fix the value the message names in config.json; `whyload check <model>` "
              "compares the config with the weights"),
    "WL440": ("The class to load into does not exist in this transformers",
              "The config or the call names a class that the installed transformers does not "
              "have: a newer architecture, or a name from remote code.",
              "pip install -U transformers, or use the class the installed release has"),
    "WL441": ("Loading the state dict failed, and the log does not say why",
              "load_state_dict raised 'Error(s) in loading state_dict', and the lines that "
              "name the keys (missing, unexpected, size mismatch) are not in the log.",
              "look at the lines after 'Error(s) in loading state_dict' (or rerun and keep "
              "them); `whyload check <model> --class <ModelClass>` names the keys"),
    "WL560": ("The loading call's arguments are invalid or contradict each other",
              "from_pretrained (or torch.load, a quantization or device_map option) refused an "
              "argument before reading the weights; the message names it.",
              "change the call as the message says; the checkpoint is not at fault"),
    "WL561": ("A library that loading needs is not installed",
              "The checkpoint, the tokenizer or an option of the call needs a package this "
              "interpreter does not have (or whose native library does not load).",
              "pip install the package the message names, then restart the process"),
    "WL562": ("The device loading asked for is missing or unusable",
              "The call names a GPU/MPS/XPU device this process cannot use.",
              "check CUDA_VISIBLE_DEVICES and nvidia-smi, or load on cpu"),
    "WL563": ("The quantization settings are invalid, or this machine cannot run the method",
              "quantization_config holds values the method refuses, or the method needs "
              "hardware or options this load does not have.",
              "change quantization_config as the message says, or load on supported hardware"),
    "WL564": ("The Hub answered with an error",
              "The request for a revision, a file or metadata failed with an HTTP error (not "
              "found, rate limit, server error).",
              "check the revision and file names; retry later for 429/5xx; check HF_ENDPOINT"),
}

# what a hand row's {group} reads as where a mined template did not capture it
_NEUTRAL = {"file": "the file", "path": "the path", "key": "a weight", "model_type": "this "
            "model type", "global_name": "a global", "argument": "an argument", "model": "the "
            "model", "prefix": "the prefix", "enum": "a type", "field": "a field", "got": "another "
            "type", "expected": "another type", "auto_class": "this Auto class", "name": "it",
            "module": "a module", "size": "fewer", "expected_size": "the announced size"}
_GROUP = re.compile(r"\{\{|\}\}|\{(\w+)\}")


def _neutral(text: str) -> str:
    return _GROUP.sub(lambda f: f.group(0) if f.group(1) is None
                      else _NEUTRAL.get(f.group(1), "…"), text)


def _meaning_of(code: str) -> tuple[str, str, str, Severity, Effect, tuple[str, ...]]:
    """Title, cause, fix, severity, effect and refined_by of a code, for its mined rows."""
    if code in CODE_MEANINGS:
        title, cause, fix = CODE_MEANINGS[code]
        return title, cause, fix, Severity.ERROR, Effect.RAISES, ()
    row = min((r for r in HAND_ROWS if r.code == code),
              key=lambda r: (r.fallback, len(_GROUP.findall(r.title + r.fix))))
    return (_neutral(row.title), _neutral(row.cause), _neutral(row.fix), row.severity,
            row.effect, row.refined_by)


def mined_rows(templates: tuple[Template, ...]) -> tuple[ErrorText, ...]:
    """One row per code (and kind: raised or warned, fallback or not) of the mined templates,
    all sharing one index, so that the most specific template decides a line."""
    index = TemplateIndex(templates)
    kinds: dict[tuple[bool, str, bool], set[int]] = {}
    for number, template in enumerate(templates):
        assert template.code is not None
        kinds.setdefault((template.fallback, template.code, template.warning), set()).add(number)
    rows = []
    for (fallback, code, warning), members in sorted(kinds.items()):
        title, cause, fix, severity, effect, refined_by = _meaning_of(code)
        if warning and severity is Severity.ERROR:
            severity = Severity.WARNING
            effect = Effect.NONE if code == "WL208" else Effect.SILENT
        first = max((templates[i] for i in members), key=lambda t: t.literal_length)
        rows.append(ErrorText(code=code, pattern=TemplateSet(index, frozenset(members)),
                              title=title, cause=cause, fix=fix, severity=severity,
                              effect=effect, fallback=fallback, refined_by=refined_by,
                              example=_example(first.exception, render(first.line))))
    return tuple(rows)



def _example(exception: str, message: str) -> str:
    """A mined row's example: its most specific template's line, as a log shows it."""
    lines = as_log(exception, message).rstrip("\n").split("\n")
    return next(line for line in lines if message in line)


ERROR_TEXTS: tuple[ErrorText, ...] = (*HAND_ROWS, *mined_rows(load_templates()))
