"""Configuration errors: what gennie.config (and the CLI's NAME=VALUE flags that feed
it) refuses, with the exact message, file, line, field and hint of the UserError.

Nothing here runs a stage: each rule is checked where it is declared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gennie.cli import flag_value
from gennie.config import (
    STAGES,
    PreprocessConfig,
    build_config,
    field_errors,
    load_run_config,
    read_yaml,
)
from gennie.config.options import options
from gennie.errors import UserError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def error_of(call) -> dict:
    """The ``to_dict()`` of the UserError that ``call()`` raises."""
    with pytest.raises(UserError) as err:
        call()
    return err.value.to_dict()


def problem(message: str, field: str | None, file: Path | None = None, **more) -> dict:
    """A UserError's dictionary without line (unless given) and hint (unless given)."""
    return {
        "error": message,
        "file": str(file) if file else None,
        "line": more.get("line"),
        "record": None,
        "field": field,
        "hint": more.get("hint"),
    }


# --------------------------------------------------------------------------- ratio


@pytest.mark.parametrize(
    ("ratio", "message"),
    [
        ("7:1", "'7:1' must have 3 or 4 parts train:validation:test[:blackbox], e.g. 7:1:1:1"),
        (
            "1:1:1:1:1",
            "'1:1:1:1:1' must have 3 or 4 parts train:validation:test[:blackbox], e.g. 7:1:1:1",
        ),
        ("a:b:c", "'a:b:c' must contain numbers only, e.g. 7:1:1:1"),
        ("0:1:1", "'0:1:1': train, validation and test parts must all be above 0"),
        ("7:1:0:1", "'7:1:0:1': train, validation and test parts must all be above 0"),
        ("7:1:1:-1", "'7:1:1:-1' has a negative part"),
    ],
)
def test_bad_ratio_flag(ratio, message):
    assert error_of(lambda: build_config("preprocess", overrides={"ratio": ratio})) == problem(
        f"{message} (got '{ratio}')", "ratio"
    )


def test_bad_ratio_in_yaml_blames_the_file(tmp_path):
    config = write(tmp_path / "pre.yaml", "ratio: '7:1'\n")
    assert error_of(lambda: build_config("preprocess", config)) == problem(
        "'7:1' must have 3 or 4 parts train:validation:test[:blackbox], e.g. 7:1:1:1 (got '7:1')",
        "ratio",
        config,
    )


def test_bad_ratio_flag_over_a_good_file_does_not_blame_the_file(tmp_path):
    config = write(tmp_path / "pre.yaml", "window: 100\n")
    error = error_of(lambda: build_config("preprocess", config, {"ratio": "1:1"}))
    assert (error["file"], error["field"]) == (None, "ratio")


@pytest.mark.parametrize(
    ("text", "ratio", "ratios"),
    [
        ("ratio: 7:1:1\n", "7:1:1", (7.0, 1.0, 1.0, 0.0)),  # not read as a base-60 number
        ("ratio: [8, 1, 1]\n", "8:1:1", (8.0, 1.0, 1.0, 0.0)),
        ("ratio: '3:1:1:0.5'\n", "3:1:1:0.5", (3.0, 1.0, 1.0, 0.5)),
    ],
)
def test_good_ratios_in_yaml(tmp_path, text, ratio, ratios):
    config = build_config("preprocess", write(tmp_path / "pre.yaml", text))
    assert (config.ratio, config.ratios) == (ratio, ratios)


# --------------------------------------------------------------------------- chromosomes


def test_overlapping_chromosome_lists():
    overrides = {
        "split": "chromosome",
        "chromosomes": {"train": ["chr1", "chr2"], "validation": ["chr2"], "test": ["chr3"]},
    }
    assert error_of(lambda: build_config("preprocess", overrides=overrides)) == problem(
        "chromosome 'chr2' is in both 'train' and 'validation'; each chromosome may belong "
        "to one split only",
        "chromosomes",
    )


def test_a_chromosome_split_needs_three_lists():
    overrides = {"split": "chromosome", "chromosomes": {"train": ["chr1"]}}
    assert error_of(lambda: build_config("preprocess", overrides=overrides)) == problem(
        "a chromosome split needs chromosome lists for validation, test "
        "(e.g. --chromosomes test=chr1,chr2)",
        "chromosomes",
    )


def test_chromosome_lists_are_unused_by_a_random_split():
    config = build_config("preprocess", overrides={"chromosomes": {"train": ["chr1"]}})
    assert config.split == "random" and config.chromosomes == {"train": ["chr1"]}


# --------------------------------------------------------------------------- YAML


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 'seed: 1' then an indented mapping: a syntax error on line 3.
        (
            "window: 100\nseed: 1\n  placement: center\n",
            {
                "error": "invalid YAML: mapping values are not allowed here",
                "line": 3,
                "record": None,
                "field": None,
                "hint": "fix the YAML syntax (indentation, colons, quotes)",
            },
        ),
        (
            "windw: 100\n",
            {
                "error": "unknown field 'windw'",
                "line": None,
                "record": None,
                "field": "windw",
                "hint": "did you mean 'window'?",
            },
        ),
        (
            "window: abc\n",
            {
                "error": "Input should be a valid integer, unable to parse string as an "
                "integer (got 'abc')",
                "line": None,
                "record": None,
                "field": "window",
                "hint": None,
            },
        ),
    ],
    ids=["syntax", "unknown-key", "wrong-type"],
)
def test_bad_yaml(tmp_path, text, expected):
    config = write(tmp_path / "bad.yaml", text)
    assert error_of(lambda: build_config("preprocess", config)) == {
        **expected,
        "file": str(config),
    }


def test_an_unknown_field_without_a_close_name(tmp_path):
    config = write(tmp_path / "bad.yaml", "zzz: 1\n")
    assert error_of(lambda: build_config("preprocess", config)) == problem(
        "unknown field 'zzz'", "zzz", config, hint="remove it; see 'gennie ... --help'"
    )


def test_an_unknown_flag_value_names_no_file():
    assert error_of(lambda: build_config("preprocess", overrides={"windw": 3})) == problem(
        "unknown field 'windw'", "windw", hint="did you mean 'window'?"
    )


def test_an_unknown_nested_field_is_matched_against_its_section(tmp_path):
    config = write(tmp_path / "train.yaml", "architecture:\n  branchs: {}\n")
    assert error_of(lambda: build_config("train", config)) == problem(
        "unknown field 'branchs'", "architecture.branchs", config, hint="did you mean 'branches'?"
    )


def test_a_value_out_of_bounds(tmp_path):
    config = write(tmp_path / "pre.yaml", "window: 2\n")
    assert error_of(lambda: build_config("preprocess", config)) == problem(
        "Input should be greater than or equal to 4 (got 2)", "window", config
    )


def test_a_file_for_another_stage(tmp_path):
    config = write(tmp_path / "train.yaml", "stage: train\nepochs: 1\n")
    assert error_of(lambda: build_config("preprocess", config)) == problem(
        "this file configures the 'train' stage, not 'preprocess'",
        "stage",
        config,
        hint="use 'gennie train --config ...' or 'gennie run FILE'",
    )


def test_read_yaml_of_a_missing_file(tmp_path):
    path = tmp_path / "absent.yaml"
    assert error_of(lambda: read_yaml(path)) == problem(
        "file not found", None, path, hint="check the path of the YAML file"
    )


def test_read_yaml_of_a_list(tmp_path):
    path = write(tmp_path / "list.yaml", "- a\n- b\n")
    assert error_of(lambda: read_yaml(path)) == problem(
        "the YAML file must hold a mapping of field: value", None, path
    )


def test_read_yaml_of_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"window: 100\nname: caf\xe9\n")
    assert error_of(lambda: read_yaml(path)) == problem(
        "not UTF-8 text: byte \\xe9 in 'name: caf\\xe9'",
        None,
        path,
        line=2,
        hint="save the file as UTF-8 (it may be Latin-1 or Windows-1252 text; "
        "e.g. iconv -f latin1 -t utf-8 FILE > NEW)",
    )


def test_read_yaml_of_a_binary_file(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"window: 100\n\x00\x01\x02\n")
    assert error_of(lambda: read_yaml(path)) == problem(
        "the file looks binary, not text: byte \\x00 in this line",
        None,
        path,
        line=2,
        hint="give a plain or gzip-compressed text file",
    )


def test_read_yaml_of_an_empty_file_is_an_empty_mapping(tmp_path):
    assert read_yaml(write(tmp_path / "empty.yaml", "")) == {}
    assert read_yaml(write(tmp_path / "comments.yaml", "# nothing\n")) == {}


def test_read_yaml_keeps_colon_numbers_as_text(tmp_path):
    path = write(tmp_path / "pre.yaml", "ratio: 7:1:1:1\nwindow: 120\nchromosomes: {test: [1:2]}\n")
    assert read_yaml(path) == {"ratio": "7:1:1:1", "window": 120, "chromosomes": {"test": ["1:2"]}}


@pytest.mark.parametrize(
    ("text", "shown"), [("stage: nothing\n", "'nothing'"), ("window: 100\n", "None")]
)
def test_a_run_file_without_a_known_stage(tmp_path, text, shown):
    path = write(tmp_path / "parameters.yaml", text)
    assert error_of(lambda: load_run_config(path)) == problem(
        f"unknown or missing stage {shown}",
        "stage",
        path,
        hint="a parameters.yaml starts with 'stage: ' and one of "
        "preprocess, train, evaluate, predict, variants, tune, motifs, ism",
    )


# --------------------------------------------------------------------------- classes


def test_two_class_files_with_the_same_default_name():
    overrides = {"classes": ["one/a.fa", "two/a.bed.gz"]}
    assert error_of(lambda: build_config("preprocess", overrides=overrides)) == problem(
        "two class files give the class name 'a'; name them explicitly "
        "(NAME=FILE, or a mapping in YAML)",
        "classes",
    )


def test_a_class_name_with_a_space(tmp_path):
    config = write(tmp_path / "pre.yaml", "classes:\n  a b: x.fa\n")
    assert error_of(lambda: build_config("preprocess", config)) == problem(
        "class name 'a b' may only contain letters, digits and . _ + -", "classes", config
    )


def test_a_reduction_of_an_unknown_class(tmp_path):
    config = write(tmp_path / "pre.yaml", "classes:\n  a: a.fa\nreduce:\n  c: 5\n")
    assert error_of(lambda: build_config("preprocess", config)) == problem(
        "reduction names class 'c', which is not among the classes", "reduce", config
    )


def test_field_errors_lists_every_problem_by_field():
    with pytest.raises(ValidationError) as err:
        PreprocessConfig(ratio="7:1", window=1)
    assert field_errors(err.value) == {
        "window": "Input should be greater than or equal to 4",
        "ratio": "'7:1' must have 3 or 4 parts train:validation:test[:blackbox], e.g. 7:1:1:1",
    }


# --------------------------------------------------------------------------- NAME=VALUE flags


def preprocess_flag(name: str) -> tuple:
    """The option of a preprocess field and the flag it is given with."""
    option = next(o for o in options(PreprocessConfig) if o.name == name)
    return option, STAGES["preprocess"].flags.get(name, option.flag)


@pytest.mark.parametrize("item", ["bound=", "=peaks.bed"], ids=["no-file", "no-name"])
def test_class_flag_with_an_empty_part(item):
    option, flag = preprocess_flag("classes")
    assert flag == "class"
    assert error_of(lambda: flag_value(option, flag, [item, "unbound=x.fa"])) == problem(
        f"'{item}' is not NAME=VALUE", "class", hint="write e.g. --class bound=peaks.bed"
    )


def test_class_name_given_twice():
    option, flag = preprocess_flag("classes")
    values = ["a=a1.fa", "a=a2.fa", "b=b.fa"]
    assert error_of(lambda: flag_value(option, flag, values)) == problem(
        "'a' is given twice", "class", hint="give each name once with --class"
    )


def test_class_flag_without_a_name_is_named_after_its_file():
    option, flag = preprocess_flag("classes")
    assert flag_value(option, flag, ["data/peaks.bed.gz", "b= b.fa "]) == {
        "peaks": "data/peaks.bed.gz",
        "b": "b.fa",
    }


def test_reduce_flag_needs_numbers():
    option, flag = preprocess_flag("reduce")
    assert error_of(lambda: flag_value(option, flag, ["a=many"])) == problem(
        "'many' is not a number", "reduce", hint="write a count (5000) or a ratio (0.5)"
    )
    assert flag_value(option, flag, ["a=5000", "b=0.5"]) == {"a": 5000.0, "b": 0.5}


def test_chromosomes_flag_splits_its_lists():
    option, flag = preprocess_flag("chromosomes")
    assert flag_value(option, flag, ["train=chr1, chr2,", "test=chr3"]) == {
        "train": ["chr1", "chr2"],
        "test": ["chr3"],
    }
    error = error_of(lambda: flag_value(option, flag, ["train"]))
    assert (error["error"], error["field"]) == ("'train' is not NAME=VALUE", "chromosomes")


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("chromosomes", "write e.g. --chromosomes test=chr1,chr2"),
        ("reduce", "write e.g. --reduce bound=5000"),
        ("classes", "write e.g. --class bound=peaks.bed"),
    ],
)
def test_name_value_hint_shows_an_example_of_its_own_flag(name, hint):
    option, flag = preprocess_flag(name)
    error = error_of(lambda: flag_value(option, flag, ["train="]))
    assert error["hint"] == hint


# --------------------------------------------------------------------------- hostile YAML


def billion_laughs(levels: int) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_the_alias_that_goes_too_far(tmp_path):
    # The aliases on lines 2-4 stand for 90 + 819 + 7380 = 8289 values (each value of a
    # list counts, and the list itself); the first alias on line 5 adds 7381 more.
    path = write(tmp_path / "bomb.yaml", billion_laughs(9))
    assert error_of(lambda: read_yaml(path)) == problem(
        "the aliases stand for more than 10,000 values (nested aliases expand to very large data)",
        None,
        path,
        line=5,
        hint="write the values out, or use fewer aliases (*name)",
    )


def test_anchors_aliases_and_merge_keys_within_bounds_still_work(tmp_path):
    path = write(
        tmp_path / "shared.yaml",
        "base: &b {x: 1, y: [1, 2]}\nother:\n  <<: *b\n  x: 3\nsame: *b\n" + billion_laughs(3),
    )
    data = read_yaml(path)
    assert data["other"] == {"x": 3, "y": [1, 2]} and data["same"] == {"x": 1, "y": [1, 2]}
    assert len(data["l2"]) == 9 and data["l2"][0] == data["l1"]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("seed: 1\nwindow: 40\nseed: 2\n", "the key 'seed' is given twice (first on line 1)", 3),
        ("reduce:\n  a: 1\n  a: 2\n", "the key 'a' is given twice (first on line 2)", 3),
        ("{seed: 1, seed: 1}\n", "the key 'seed' is given twice (first on line 1)", 1),
    ],
    ids=["top-level", "nested", "flow-style"],
)
def test_a_key_given_twice_is_an_error(tmp_path, text, message, line):
    path = write(tmp_path / "twice.yaml", text)
    assert error_of(lambda: read_yaml(path)) == problem(
        message, None, path, line=line, hint="give each key once; remove or rename one of them"
    )


def test_a_recursive_alias_is_refused(tmp_path):
    path = write(tmp_path / "loop.yaml", "window: 40\nbranches: &b [seq, *b]\n")
    assert error_of(lambda: read_yaml(path)) == problem(
        "the alias *b refers to the value it is in",
        None,
        path,
        line=2,
        hint="an alias must refer to a value completed before it",
    )


def test_a_python_tag_is_refused_with_a_hint_about_tags(tmp_path):
    path = write(tmp_path / "tag.yaml", "seed: !!python/name:os.system\n")
    error = error_of(lambda: read_yaml(path))
    assert error["error"].startswith("invalid YAML: could not determine a constructor")
    assert (error["line"], error["hint"]) == (
        1,
        "configuration files hold plain values: remove the '!' tag",
    )


# --------------------------------------------------------------------------- non-finite numbers

FINITE = "NaN and infinity are not accepted; give a number such as 0.5"


@pytest.mark.parametrize(
    ("stage", "overrides", "field", "shown"),
    [
        ("train", {"lr": float("nan")}, "lr", "nan"),
        ("train", {"mask": float("inf")}, "mask", "inf"),
        ("preprocess", {"negatives_ratio": float("-inf")}, "negatives_ratio", "-inf"),
        ("preprocess", {"reduce": {"a": float("nan")}}, "reduce.a", "nan"),
        ("motifs", {"threshold": float("nan")}, "threshold", "nan"),
        ("tune", {"timeout": float("inf")}, "timeout", "inf"),
    ],
    ids=["lr", "mask", "negatives-ratio", "reduce", "threshold", "timeout"],
)
def test_nan_and_infinity_are_refused_in_every_number_field(stage, overrides, field, shown):
    assert error_of(lambda: build_config(stage, overrides=overrides)) == problem(
        f"Input should be a finite number (got {shown})", field, hint=FINITE
    )


def test_nan_and_infinity_in_yaml_blame_the_file(tmp_path):
    path = write(tmp_path / "train.yaml", "epochs: 2\nlr: .inf\n")
    assert error_of(lambda: build_config("train", path)) == problem(
        "Input should be a finite number (got inf)", "lr", path, hint=FINITE
    )


@pytest.mark.parametrize("ratio", ["nan:1:1", "7:inf:1", "7:1:1:-inf"])
def test_a_ratio_of_non_finite_numbers(ratio):
    assert error_of(lambda: build_config("preprocess", overrides={"ratio": ratio})) == problem(
        f"'{ratio}' must contain finite numbers only (no nan or inf), e.g. 7:1:1:1 (got '{ratio}')",
        "ratio",
    )


def test_a_negative_reduction_names_its_class():
    overrides = {"classes": {"a": "a.bed", "b": "b.bed"}, "reduce": {"b": -1}}
    assert error_of(lambda: build_config("preprocess", overrides=overrides)) == problem(
        "reduction of 'b' must be above 0", "reduce.b"
    )


def test_a_seed_fits_in_32_bits():
    assert error_of(lambda: build_config("train", overrides={"seed": 2**32})) == problem(
        "Input should be less than or equal to 4294967295 (got 4294967296)", "seed"
    )
