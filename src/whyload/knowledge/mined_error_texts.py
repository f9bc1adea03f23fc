"""The message templates mined from the loading stack's releases, as matchable rows.

error_templates.json.gz is written by scripts/mine_error_texts.py (`make errors`): one entry per
distinct message template a raise site (or a logger/warnings call) of transformers, torch,
safetensors, tokenizers, huggingface_hub, accelerate, sentence-transformers, peft, bitsandbytes or
Lightning ever had, with the releases it was seen in, its source file and line, and the cause code
the script's rules gave it (or `not_loading`). Here each template becomes a regex: its literal
text escaped (runs of white space may wrap), its placeholders lazy groups.

Matching stays cheap on long logs: each template is filed under one literal word of its own (the
rarest in the table), a line's words select the few templates worth trying, and a template's regex
is compiled the first time a line could hold it. When several templates match one line, the one
with the most literal text wins (the most specific message), whatever its code.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Any

TABLE = "error_templates.json.gz"
# a template line with less literal text, or fewer whole words, cannot be told from others
# ("{name} is not supported." would name every such message of every library)
MIN_LITERAL = 16
MIN_WORDS = 3
# templates whose code explain's reader of transformers' loading report gives (from the key
# names it lists): no row of their own, which would answer before that reader
DECIDED_ELSEWHERE = "loading report reader"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Template:
    """One mined template: what it means and where it came from."""

    library: str
    exception: str
    template: str
    code: str | None
    fallback: bool
    source: str
    first: str
    last: str
    decided_by: str
    warning: bool  # reported through logging or warnings.warn: loading goes on
    match_line: str = ""  # the line to match by, when the table names one

    @cached_property
    def line(self) -> str:
        return self.match_line or message_line(self.template)

    @cached_property
    def literal_length(self) -> int:
        return len(literal_of(self.line))

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(regex_source(self.line))


def literal_of(template: str) -> str:
    """A template's text without its placeholders (literal braces as themselves)."""
    return _FIELD.sub(lambda f: f.group(0)[0] if f.group(1) is None else "", template)


def message_line(template: str) -> str:
    """The line of a template that a log shows it by: its first line (an exception's header,
    a logging record's line) when that one is recognisable, else the line with the most
    literal text among those that follow it up to a blank line (where explain stops reading
    a message), else the first recognisable line after it ("404 Client Error.", a blank line,
    then "Revision Not Found for url: ...", which explain reads for its trigger words)."""
    lines = template.split("\n")
    if recognisable(lines[0]):
        return lines[0]
    block: list[str] = []
    for line in lines:
        if block and not line.strip():
            break
        block.append(line)
    candidates = [x for x in block if recognisable(x)]
    if candidates:
        return max(candidates, key=lambda x: len(literal_of(x).strip()))
    # past the blank line: the first line that says something (what follows it is advice)
    return next((x for x in lines if recognisable(x)), lines[0])


def recognisable(line: str) -> bool:
    """Whether a template line holds enough literal text to be told from other messages."""
    return len(literal_of(line).strip()) >= MIN_LITERAL and len(whole_words(line)) >= MIN_WORDS


_WHOLE_WORD = re.compile(r"(?<![\w\x00])[A-Za-z_][A-Za-z0-9_]{2,}(?![\w\x00])")


def whole_words(template: str) -> set[str]:
    """The words a message of this template always holds whole: its literal words that no
    placeholder touches (in '{name}Config' the message's word is 'BertConfig', not 'Config')."""
    marked = _FIELD.sub(lambda f: f.group(0)[0] if f.group(1) is None else "\x00", template)
    return set(_WHOLE_WORD.findall(marked))


def regex_source(template: str) -> str:
    """The regex that recognises a template line: literal text escaped, white space free to
    wrap or repeat, each placeholder a lazy group named after it (the last one greedy up to
    the end of a word, so that it still captures something)."""
    parts: list[str] = []
    names: set[str] = set()
    position = 0
    fields = [f for f in _FIELD.finditer(template) if f.group(1) is not None]
    for index, found in enumerate(fields):
        parts.append(_literal_regex(template[position:found.start()]))
        name = re.sub(r"\W", "_", found.group(1)) or "value"
        name = name if name[0].isalpha() else "v_" + name
        last = index == len(fields) - 1 and not literal_of(template[found.end():]).strip()
        body = r"\S+" if last else ".*?"
        if name in names:
            parts.append(f"(?:{body})")
        else:
            names.add(name)
            parts.append(f"(?P<{name}>{body})")
        position = found.end()
    parts.append(_literal_regex(template[position:]))
    return "".join(parts).strip()


def _literal_regex(text: str) -> str:
    text = text.replace("{{", "{").replace("}}", "}")
    pieces = _SPACE.split(text)
    return r"\s+".join(re.escape(p) for p in pieces) if text.strip() else \
        (r"\s*" if text else "")


def render(template: str) -> str:
    """The template as a message: each placeholder filled with a realistic value."""
    def value(found: re.Match[str]) -> str:
        if found.group(0) in ("{{", "}}"):
            return found.group(0)[0]
        return sample_value(found.group(1) or "value")

    # a pickle global named in pieces ("GLOBAL {module}.{name}") reads as one real dotted name
    template = template.replace("{module}.{name}", "argparse.Namespace")
    return _FIELD.sub(value, template)


_SAMPLES: tuple[tuple[str, str], ...] = (
    (r"full_path|global", "argparse.Namespace"),  # a pickle global, as torch names it
    (r"keys|params", "['bert.encoder.layer.0.output.dense.weight', "
                     "'bert.encoder.layer.0.output.dense.bias']"),
    (r"shape", "torch.Size([768, 768])"),
    (r"url|endpoint", "https://huggingface.co/bert-base-uncased/resolve/main/config.json"),
    (r"repo|model_id|hub_id|identifier", "bert-base-uncased"),
    (r"revision|commit", "main"),
    (r"file|path|dir|folder|archive|location|checkpoint|ckpt|cache", "./models/bert-finetuned"),
    (r"key|param|module|layer|tensor|weight", "encoder.layer.0.attention.self.query.weight"),
    (r"class|cls|name|arch|model|config", "BertModel"),
    (r"type", "bert"),
    (r"dtype", "torch.float16"),
    (r"device", "cuda:0"),
    (r"version", "4.30.0"),
    (r"size|num|count|len|bytes|line|column|char|index|idx|bits|code|errno|step|id$|total|"
     r"free|max|min", "12"),
)


def sample_value(name: str) -> str:
    """A realistic value for a placeholder named after the expression it came from."""
    for pattern, value in _SAMPLES:
        if re.search(pattern, name):
            return value
    return "value"



_LOG_LEVELS = ("WARNING", "ERROR")


def is_warning(exception: str) -> bool:
    """Whether a template was reported through logging or warnings.warn (loading goes on)."""
    return exception in _LOG_LEVELS or exception.endswith("Warning")


def as_log(exception: str, message: str) -> str:
    """A message as a log shows it: a raised exception after its traceback, a logging record
    with its level and logger, a warning with the place that warned, a bare line otherwise."""
    if exception in _LOG_LEVELS:
        return f"{exception}:transformers.modeling_utils:{message}\n"
    if exception.endswith("Warning"):
        return (f"/opt/venv/lib/python3.11/site-packages/transformers/modeling_utils.py:812: "
                f"{exception}: {message}\n  warnings.warn(\n")
    if not exception:
        return message + "\n"
    return ("Traceback (most recent call last):\n  File \"/home/user/train.py\", line 12, in "
            "<module>\n    model = AutoModel.from_pretrained(\"./models/bert-finetuned\")\n"
            f"{exception}: {message}\n")


def table_rows(*, mapped_only: bool = False) -> Iterator[dict[str, Any]]:
    """The rows of error_templates.json.gz (JSON Lines: a header, the rows with a code, then
    the others); with `mapped_only`, reading stops at the first row without a code."""
    table = resources.files("whyload.knowledge").joinpath(TABLE)
    try:
        stream = table.open("rb")
    except FileNotFoundError:  # before the first `make errors`
        return
    with stream, gzip.open(stream, "rt", encoding="utf-8") as lines:
        next(lines, None)  # the header
        for line in lines:
            row: dict[str, Any] = json.loads(line)
            if mapped_only and not row.get("code"):
                return
            yield row


def load_templates() -> tuple[Template, ...]:
    """The mined templates that name a cause and can be recognised, in table order."""
    templates = []
    for row in table_rows(mapped_only=True):
        if row["decided_by"] == DECIDED_ELSEWHERE:
            continue
        template = Template(library=row["library"], exception=row["exception"],
                            template=row["template"], code=row["code"],
                            fallback=bool(row.get("fallback")), source=row["source"],
                            first=row["first"], last=row["last"],
                            decided_by=row["decided_by"],
                            warning=is_warning(row["exception"]),
                            match_line=row.get("line", ""))
        if recognisable(template.line):
            templates.append(template)
    return tuple(templates)


class TemplateIndex:
    """All mined templates, filed by one literal word each; says which template (if any) best
    recognises a line, remembering the answer for the last line asked about."""

    def __init__(self, templates: tuple[Template, ...]) -> None:
        self.templates = templates
        frequency: Counter[str] = Counter()
        words_of = [whole_words(t.line) for t in templates]
        for words in words_of:
            frequency.update(words)
        self.words_of = [frozenset(words) for words in words_of]
        self.by_word: dict[str, list[int]] = {}
        for index, words in enumerate(words_of):
            if words:
                anchor = min(words, key=lambda w: (frequency[w], -len(w), w))
                self.by_word.setdefault(anchor, []).append(index)
        self._last: tuple[str, tuple[int, re.Match[str]] | None] = ("\0", None)

    def best(self, text: str) -> tuple[int, re.Match[str]] | None:
        """(template index, match) of the template with the most literal text that matches
        `text`; None when none does."""
        if self._last[0] == text:
            return self._last[1]
        found: tuple[int, re.Match[str]] | None = None
        words = set(_WORD.findall(text))
        for word in words:
            for index in self.by_word.get(word, ()):
                if found is not None and (self.templates[index].literal_length
                                          <= self.templates[found[0]].literal_length):
                    continue
                if not self.words_of[index] <= words:  # a word of the template is not there
                    continue
                hit = self.templates[index].regex.search(text)
                if hit is not None:
                    found = (index, hit)
        self._last = (text, found)
        return found


class TemplateSet:
    """The templates of one code (and kind) as one table row's pattern: `search` answers for a
    line only when the index's best template for it is one of this set's."""

    def __init__(self, index: TemplateIndex, members: frozenset[int]) -> None:
        self.index = index
        self.members = members

    def search(self, text: str) -> re.Match[str] | None:
        best = self.index.best(text)
        if best is None or best[0] not in self.members:
            return None
        return best[1]

    @property
    def pattern(self) -> str:
        """One regex for every template of the set (what a single-regex matcher would run)."""
        return "|".join("(?:" + re.sub(r"\(\?P<\w+>", "(?:", self.index.templates[i].regex.pattern)
                        + ")" for i in sorted(self.members))

    def examples(self) -> list[Template]:
        return [self.index.templates[i] for i in sorted(self.members)]
