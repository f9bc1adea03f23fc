"""The fixed sample of differential runs (benchmarks/differential.py --sample): architectures x
head classes x breakages saved with real transformers, loaded for real in a child process, and
whyload's verdict and cause compared with what happened. `make bench` runs the full sweep."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import differential

from whyload.knowledge import specs


@pytest.fixture(scope="module")
def outcomes() -> list[differential.Outcome]:
    import importlib.metadata

    installed = importlib.metadata.version("transformers")
    if specs.version_for(installed) != installed:
        pytest.skip(f"the shipped specs describe transformers {specs.version_for(installed)}")
    return differential.run(sample=True, limit_types=list(differential.SAMPLE_TYPES))


def test_the_sample_is_a_few_hundred_real_loads(outcomes: list[differential.Outcome]) -> None:
    assert len(outcomes) >= 200
    assert len({o.scenario.model_type for o in outcomes}) >= 20
    assert {o.real for o in outcomes} == {"loads", "fails", "loads_broken"}


def test_no_false_alarm_on_a_healthy_model(outcomes: list[differential.Outcome]) -> None:
    alarms = [(o.scenario.name, o.whyload, o.codes) for o in outcomes if o.false_alarm]
    assert not alarms


def test_whyload_agrees_with_transformers(outcomes: list[differential.Outcome]) -> None:
    """Each disagreement is a regression: the verdict transformers' real load gives, and a
    finding that names the breakage."""
    wrong = [(o.scenario.name, o.real, differential._summary(o.observed), o.whyload, o.codes)
             for o in outcomes if not (o.right_verdict and o.right_cause)]
    assert not wrong



# disagreements the full sweep found, each fixed: they stay fixed
REGRESSIONS = [
    # a fused Wqkv split on load into q/k/v (a one-to-many converter): all three are present
    differential.Scenario("nomic_bert", "NomicBertModel", "AutoModel", "healthy"),
    # exaone's AutoModel is LlamaModel built from an ExaoneConfig: exaone's spec, not llama's
    differential.Scenario("exaone", "LlamaForCausalLM", "AutoModelForCausalLM", "healthy"),
    # an expert missing from a stacked MoE projection: transformers' conversion fails
    differential.Scenario("qwen3_moe", "Qwen3MoeForCausalLM", "AutoModelForCausalLM",
                          "weight-missing"),
    differential.Scenario("mixtral", "MixtralForCausalLM", "AutoModelForCausalLM",
                          "weight-missing"),
    # YOLOS keeps a position embedding per layer: a layer count edit raises, not just drops
    differential.Scenario("yolos", "YolosModel", "AutoModel", "config-more-layers"),
    # layer_types no longer lists every layer: transformers refuses the config
    differential.Scenario("qwen2", "Qwen2ForCausalLM", "AutoModelForCausalLM",
                          "config-fewer-layers"),
    # T5ForQuestionAnswering holds T5's encoder and decoder without its base_model_prefix
    differential.Scenario("t5", "T5Model", "AutoModelForQuestionAnswering", "head-random"),
    differential.Scenario("t5", "T5Model", "AutoModelForQuestionAnswering", "head-random",
                          finetune=True),
]


def test_what_the_full_sweep_found_stays_fixed() -> None:
    if specs.version_for(None) != _installed():
        pytest.skip("the shipped specs describe another transformers")
    outcomes = differential.run_scenarios(REGRESSIONS)
    assert len(outcomes) == len(REGRESSIONS)
    wrong = [(o.scenario.name, o.real, differential._summary(o.observed), o.whyload, o.codes)
             for o in outcomes if not (o.right_verdict and o.right_cause)]
    assert not wrong


def _installed() -> str:
    import importlib.metadata

    return importlib.metadata.version("transformers")
