"""The registry owns the relations between checks: requires, superseded_by and named groups are
declared data, validated against the registered codes, and shown by `whyload rules`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from whyload.checks.registration import Group, Problem, Rule
from whyload.pipeline import check
from whyload.registry import GROUPS, RULES, all_rules, group_codes, relation_errors
from whyload.render.rules import render_rules
from whyload.report import Category
from whyload.snapshot import Snapshot


def _never(snap: Snapshot) -> Iterator[Problem]:
    yield from ()


def _rule(code: str, requires: tuple[str, ...] = (), superseded_by: tuple[str, ...] = ()) -> Rule:
    return Rule(code, code.lower(), Category.FILES, requires, _never, superseded_by=superseded_by)


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.code: r for r in rules}


def test_the_registered_relations_hold() -> None:
    assert relation_errors(RULES, GROUPS) == []


@pytest.mark.parametrize(("rules", "groups", "error"), [
    (_rules(_rule("WL900", requires=("WL9O1",))), {},
     "WL900 requires 'WL9O1', which is no registered code or group"),
    (_rules(_rule("WL900", superseded_by=("no-such-group",))), {},
     "WL900 superseded_by 'no-such-group', which is no registered code or group"),
    (_rules(_rule("WL900")), {"g": Group("g", ("WL900", "WL999"), "")},
     "group 'g' names 'WL999', which is no registered code or group"),
    (_rules(_rule("WL900")), {"g": Group("g", ("h",), ""), "h": Group("h", ("g",), "")},
     "group 'g' contains itself"),
    (_rules(_rule("WL900", requires=("WL901",)), _rule("WL901", superseded_by=("WL900",))), {},
     "relations form a circle"),
    (_rules(_rule("WL900", requires=("WL900",))), {}, "WL900 requires itself"),
    (_rules(_rule("WL900", requires=("WL901",)),
            Rule("WL901", "found-by-verify", Category.FILES, (), None, command="verify")), {},
     "WL900 requires WL901, which `check` never runs (`whyload verify` reports it)"),
])
def test_a_broken_relation_is_an_error(rules: dict[str, Rule], groups: dict[str, Group],
                                       error: str) -> None:
    assert any(e.startswith(error) for e in relation_errors(rules, groups))


def test_a_single_code_is_not_taken_for_a_list_of_codes() -> None:
    from whyload.checks.registration import check as register

    with pytest.raises(TypeError, match="WL999"):
        register("WL999", "typo", Category.FILES, requires="WL100")


def test_groups_expand_into_codes_and_nest() -> None:
    assert group_codes("weights-incomplete") == {"WL124", "WL125", "WL141", "WL142"}
    assert group_codes("weights-incomplete") <= group_codes("structure")
    assert group_codes("bytes-not-weights") <= group_codes("unrecoverable-bytes")
    assert RULES["WL401"].requires == ("structure",)
    assert "WL206" in RULES["WL401"].required_codes
    with pytest.raises(KeyError):
        group_codes("no-such-group")


def test_a_superseded_finding_is_not_reported(tmp_path: Path) -> None:
    """Only TensorFlow and Flax weights: WL101 names the conversion, WL102 would repeat it."""
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "tf_model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    (tmp_path / "flax_model.msgpack").write_bytes(b"\x81\xa4bert\x80")
    codes = {f.code for f in check(tmp_path).findings}
    assert "WL101" in codes and "WL102" not in codes
    assert RULES["WL102"].superseded_by == ("WL101",)

    (tmp_path / "tf_model.h5").unlink()
    assert "WL102" in {f.code for f in check(tmp_path).findings}


def test_rules_json_shows_the_relations() -> None:
    listed = {r["code"]: r for r in json.loads(render_rules(all_rules(), "json"))}
    assert listed["WL401"]["requires"] == ["structure"]
    assert "WL420" in listed["WL401"]["requires_codes"]
    assert listed["WL102"]["superseded_by_codes"] == ["WL101"]
    assert "bytes-not-weights" in listed["WL110"]["groups"]
    assert listed["WL100"]["requires"] == [] and listed["WL100"]["title"]


def test_rules_text_and_markdown_show_the_relations() -> None:
    text = render_rules(all_rules(), "text")
    assert "superseded by WL101" in text and "requires structure" in text
    assert "  needs-invented-weights  WL401, WL402, WL404" in text
    markdown = render_rules(all_rules(), "markdown")
    assert "*Superseded by WL101.*" in markdown
    assert "| `needs-invented-weights` | WL401, WL402, WL404 |" in markdown
    with pytest.raises(ValueError, match="no rules format"):
        render_rules(all_rules(), "yaml")
