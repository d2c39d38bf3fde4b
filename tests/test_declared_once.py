"""Every face is generated from the configuration models and the stage registry.

A field added to a stage's configuration model must show up as a CLI flag (with its
help, default and choices), in the GUI's form, in ``parameters.yaml`` and in the runs
table, with no other edit. These tests add one to a subclass of a stage's model, put
that model into a copy of the stage registry, and look at every face.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Literal

import pandas as pd
import pytest
import typer
import yaml
from pydantic import Field
from typer.testing import CliRunner

from gennie import cli
from gennie.config import STAGES, TrainConfig, build_config
from gennie.config.options import ADVANCED_PANEL, LEVELS, option, options, shown_when
from gennie.runs import StageResult, run_folder


class WarmupTrainConfig(TrainConfig):
    """A dataset folder → a trained model bundle, with a warm-up (a test's new option)."""

    warmup_epochs: int = Field(3, ge=0, le=50, description="Epochs of learning-rate warm-up.")
    warmup_shape: Literal["linear", "cosine"] = Field(
        "linear",
        description="How the learning rate rises during warm-up.",
        json_schema_extra={"when": {"warmup_epochs": True}, "level": "advanced"},
    )


def no_problems(config: WarmupTrainConfig) -> list:
    """Stands in for the train stage's check."""
    return []


def fake_train(config: WarmupTrainConfig) -> StageResult:
    """Stands in for the train stage: makes a run folder and reports the new option."""
    with run_folder(config) as run:
        run.summary["warmup_seen"] = config.warmup_epochs
        return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)


@pytest.fixture
def stages() -> dict:
    """A copy of the registry whose train stage has the extended model."""
    extended = dataclasses.replace(
        STAGES["train"],
        config=WarmupTrainConfig,
        function=f"{__name__}:fake_train",
        check=f"{__name__}:no_problems",
    )
    return {**STAGES, "train": extended}


def app_for(stages: dict) -> typer.Typer:
    app = typer.Typer(add_completion=False)
    cli.add_stage_commands(app, stages)
    return app


def test_new_field_is_a_flag_with_help_default_and_choices(stages):
    result = CliRunner().invoke(app_for(stages), ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--warmup-epochs" in text
    assert "Epochs of learning-rate warm-up. (default: 3)" in text
    assert "--warmup-shape" in text
    assert "One of: linear, cosine. (default: linear)" in text


def test_new_field_reaches_parameters_yaml_and_the_runs_table(stages, tmp_path):
    args = ["train", "--warmup-epochs", "5", "--warmup-shape", "cosine", "--out", tmp_path]
    result = CliRunner().invoke(app_for(stages), [str(a) for a in args])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    saved = yaml.safe_load((run_dir / "parameters.yaml").read_text())
    assert saved["warmup_epochs"] == 5 and saved["warmup_shape"] == "cosine"
    table = pd.read_csv(tmp_path / "train_parameters.tsv", sep="\t")
    assert table.loc[0, "warmup_epochs"] == 5
    assert table.loc[0, "warmup_shape"] == "cosine"
    assert table.loc[0, "warmup_seen"] == 5


def test_new_field_is_validated_by_the_model_through_the_cli(stages, tmp_path):
    args = ["train", "--warmup-epochs", "99", "--out", str(tmp_path), "--json"]
    result = CliRunner().invoke(app_for(stages), args)
    assert result.exit_code == 2
    assert "warmup_epochs" in result.output
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_new_field_is_a_form_field_with_its_visibility_rule():
    names = [opt.name for opt in options(WarmupTrainConfig)]
    assert names[-2:] == ["warmup_epochs", "warmup_shape"]
    shape = options(WarmupTrainConfig)[-1]
    assert (shape.kind, shape.choices, shape.default) == ("choice", ("linear", "cosine"), "linear")
    rule = shown_when(WarmupTrainConfig)["warmup_shape"]
    assert rule({"warmup_epochs": 2}) and not rule({"warmup_epochs": 0})


def test_every_field_of_every_stage_has_a_flag_or_is_listed_as_yaml_only():
    app = app_for(STAGES)
    for stage in STAGES.values():
        words = list(stage.command)
        result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "250"})
        assert result.exit_code == 0, words
        text = " ".join(result.output.split())
        for opt in options(stage.config):
            if opt.cli:
                assert f"--{stage.flags.get(opt.name, opt.flag)}" in text, (stage.name, opt.name)
            else:
                assert "YAML only" in text and opt.name in text, (stage.name, opt.name)


def test_flag_names_kept_from_the_hand_written_cli():
    # Names scripts rely on (see SPEC section 2) and that differ from the field names.
    assert STAGES["preprocess"].flags == {"classes": "class"}
    assert STAGES["predict"].flags == {"sequences": "sequence"}
    parameters = inspect.signature(cli.stage_command(STAGES["preprocess"])).parameters
    assert {"strand", "cache", "classes", "chromosomes", "reduce", "as_json", "config"} <= set(
        parameters
    )


def test_option_kinds_from_annotations():
    fields = TrainConfig.model_fields
    assert option("lr", fields["lr"]).kind == "float"
    assert option("preset", fields["preset"]).kind == "choice"
    assert option("branches", fields["branches"]).kind == "branches"
    assert option("architecture", fields["architecture"]).kind == "yaml"
    assert option("early_stopping", fields["early_stopping"]).kind == "bool"
    assert option("lr", fields["lr"]).minimum == 0 and option("lr", fields["lr"]).maximum == 10


def test_build_config_accepts_a_model_class():
    config = build_config(WarmupTrainConfig, None, {"warmup_epochs": 1})
    assert isinstance(config, WarmupTrainConfig) and config.warmup_epochs == 1


def test_new_field_is_on_the_gui_page_and_validated_there(stages, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from gennie.gui import fields
    from gennie.gui.pages import page_of

    monkeypatch.setitem(STAGES, "train", stages["train"])
    monkeypatch.setenv("GENNIE_WORKSPACE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    fields._rules.cache_clear()
    try:
        assert "warmup_epochs" in [opt.name for opt in fields.stage_options("train")]
        assert not fields.visible("train", "warmup_shape", {"warmup_epochs": 0})
        check = fields.validate_page("train", {"warmup_epochs": 4}, tmp_path)
        assert check.ok and check.config.warmup_epochs == 4
        check = fields.validate_page("train", {"warmup_epochs": 60}, tmp_path)
        assert "warmup_epochs" in check.errors

        def page(url: str) -> None:
            from gennie.gui.navigation import render_page

            render_page(url)

        at = AppTest.from_function(page, args=(page_of("train").url,), default_timeout=60).run()
        assert not at.exception
        assert at.session_state["train.warmup_epochs"] == 3
        assert at.session_state["train.warmup_shape"] == "linear"
        # its level puts it into the Advanced options expander, beside the others
        (advanced,) = [e for e in at.expander if e.label == ADVANCED_PANEL]
        inside = [w.key for w in advanced.selectbox] + [w.key for w in advanced.number_input]
        assert "train.warmup_shape" in inside and "train.mask" in inside
        assert "train.warmup_epochs" not in inside and "train.lr" not in inside
    finally:
        fields._rules.cache_clear()


def test_a_rule_on_a_list_field_matches_any_value_that_is_set():
    from gennie.config import PreprocessConfig

    rules = shown_when(PreprocessConfig)
    if "label_column" in rules:
        assert rules["label_column"]({"input": ["a.tsv"]})
        assert not rules["label_column"]({"input": []})
    assert rules["conservation"]({"branches": ["seq", "cons"]})
    assert not rules["conservation"]({"branches": ["seq"]})


def _help_sections(app: typer.Typer, words: list[str]) -> tuple[str, str]:
    """The text of a command's help before and after the "Advanced options" heading."""
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    basic, heading, advanced = result.output.partition(ADVANCED_PANEL)
    assert heading, f"no {ADVANCED_PANEL} heading in the help of {' '.join(words)}"
    return basic, advanced


def _flags(text: str) -> set[str]:
    """The flags that open a row of a help table (not those named in help texts)."""
    return set(re.findall(r"^\W\s+(--[a-z][a-z0-9-]*)", text, flags=re.MULTILINE))


def test_every_field_has_a_level_and_the_help_groups_them(stages):
    app = app_for(STAGES)
    for stage in STAGES.values():
        opts = options(stage.config)
        assert {o.level for o in opts} == set(LEVELS), stage.name  # both kinds, nothing else
        basic, advanced = _help_sections(app, list(stage.command))
        for opt in opts:
            if not opt.cli:
                continue
            flag = f"--{stage.flags.get(opt.name, opt.flag)}"
            assert flag in _flags(advanced if opt.advanced else basic), (stage.name, opt.name)
            assert flag not in _flags(basic if opt.advanced else advanced), (stage.name, opt.name)
    # a new field's level reaches the help with no other edit
    basic, advanced = _help_sections(app_for(stages), ["train"])
    assert "--warmup-shape" in _flags(advanced) and "--warmup-epochs" in _flags(basic)


def test_what_a_first_time_user_sets_is_basic():
    def levels(stage: str) -> dict[str, str]:
        return {o.name: o.level for o in options(STAGES[stage].config)}

    train = levels("train")
    for name in ("dataset", "branches", "preset", "epochs", "lr", "batch_size", "class_weights"):
        assert train[name] == "basic", name
    for name in ("out", "name", "threads"):
        assert train[name] == "basic", name
    for name in (
        "centre_networks",
        "mask",
        "ema_decay",
        "label_smoothing",
        "shift",
        "precision",
        "lr_schedule",
    ):
        assert train[name] == "advanced", name
    preprocess = levels("preprocess")
    for name in ("classes", "input", "genome", "branches", "window", "label_pattern", "label_map"):
        assert preprocess[name] == "basic", name
    for name in ("placement", "unknown_bases", "cache", "fold_temperature", "strand_column"):
        assert preprocess[name] == "advanced", name
    assert levels("evaluate")["steps"] == levels("predict")["device"] == "advanced"
    assert levels("tune")["sampler"] == "advanced" and levels("tune")["n_trials"] == "basic"


def test_a_level_outside_the_list_is_refused():
    bad = Field(1, json_schema_extra={"level": "expert"})
    with pytest.raises(ValueError, match="level 'expert' is not one of basic, advanced"):
        option("x", bad)
