"""Checking a pipeline before anything runs: every param fed, every mapping sound."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field
from support.pipeline_actions import NIGHTLY_TOML, PrepareAction, PublishAction, TrainAction

from synapse_sdk.errors import ActionNotFoundError, PipelineError
from synapse_sdk.pipeline import Pipeline, check_pipeline, load_pipeline
from synapse_sdk.pipeline.handoffs import compatible
from synapse_sdk.runtime.settings import Settings

SETTINGS = Settings.from_env({})


def problems(pipeline: Pipeline) -> str:
    with pytest.raises(PipelineError) as caught:
        check_pipeline(pipeline, SETTINGS)
    return str(caught.value)


def test_a_required_param_nothing_feeds_names_the_action_the_field_and_what_could() -> None:
    pipeline = Pipeline(
        [PrepareAction, TrainAction],
        params={"prepare": {"out": "p"}, "train": {"model_uri": "m"}},
    )
    assert problems(pipeline) == (
        "pipeline 'pipeline' cannot run:\n"
        "  - action 'train', param 'data_uri' (str): required, but neither its params nor a "
        "mapping feeds it; it could be fed by prepare.output_uri (str): add a mapping such as "
        '"train.data_uri" = "prepare.output_uri", or give it in the params'
    )


def test_a_param_no_upstream_result_could_feed_says_to_give_it() -> None:
    pipeline = Pipeline([TrainAction], params={"train": {"model_uri": "m"}})
    assert "no upstream action hands on a value of that type; give it in the params" in problems(
        pipeline
    )


def test_publish_model_uri_is_fed_by_name_from_train() -> None:
    pipeline = Pipeline(
        [PrepareAction, TrainAction, PublishAction],
        params={"prepare": {"out": "p"}, "train": {"model_uri": "m"}, "publish": {"target": "t"}},
        mappings={
            "train.data_uri": "prepare.output_uri",
            "publish.annotations_uri": "prepare.output_uri",
        },
    )
    [_, _, publish] = check_pipeline(pipeline, SETTINGS)
    fed = {feed.param: (feed.source, feed.field, feed.explicit) for feed in publish.feeds}
    assert fed == {
        "annotations_uri": ("prepare", "output_uri", True),
        "model_uri": ("train", "model_uri", False),
    }


def test_every_problem_is_reported_at_once() -> None:
    pipeline = Pipeline(
        [PrepareAction, TrainAction, PublishAction],
        params={"prepare": {"out": "p", "lines": 0}, "train": {"fail_at": "x"}},
        mappings={
            "train.data_uri": "prepare.rows",
            "train.model_uri": "prepare.lines",
            "train.fail_at": "prepare.output_uri",
            "publish.nope": "train.model_uri",
        },
    )
    text = problems(pipeline)
    assert (
        "mapping 'train.data_uri = prepare.rows': action 'prepare' hands on no 'rows' "
        "(it hands on output_uri, lines)" in text
    )
    assert (
        "mapping 'train.model_uri = prepare.lines': 'prepare.lines' is int, "
        "but 'train.model_uri' takes str" in text
    )
    assert "mapping 'publish.nope = train.model_uri': action 'publish' has no param 'nope'" in text
    assert "action 'prepare', param 'lines': Input should be greater than or equal to 1" in text
    assert "action 'publish', param 'target' (str): required" in text
    assert "'train.fail_at' is also given in its params; drop one of the two" in text
    # a bad mapping is one problem: its param is not reported again as unfed
    assert "param 'data_uri'" not in text
    assert text.count("\n  - ") == 7  # lines, rows, lines->str, fail_at, nope, publish x2


@pytest.mark.parametrize(
    ("mappings", "expected"),
    [
        ({"train.data_uri": "publish.target"}, "does not run before it"),
        (
            {"train.data_uri": "nowhere.x"},
            "names 'nowhere', which pipeline 'pipeline' does not have",
        ),
        ({"train": "prepare.output_uri"}, "is not ACTION.FIELD"),
        ({"train.data_uri": "prepare.a.b"}, "is not ACTION.FIELD"),
    ],
)
def test_a_malformed_mapping_is_refused_when_the_pipeline_is_defined(
    mappings: dict[str, str], expected: str
) -> None:
    with pytest.raises(PipelineError, match=expected):
        Pipeline([PrepareAction, TrainAction, PublishAction], mappings=mappings)


def test_an_action_twice_needs_ids_of_its_own() -> None:
    with pytest.raises(PipelineError, match="appears twice"):
        Pipeline([PrepareAction, PrepareAction])


def test_params_for_an_action_the_pipeline_lacks_are_refused() -> None:
    with pytest.raises(PipelineError, match="params are given for 'trian'"):
        Pipeline([PrepareAction, TrainAction], params={"trian": {}})


def test_an_unknown_action_is_the_same_error_as_for_synapse_run() -> None:
    with pytest.raises(ActionNotFoundError):
        check_pipeline(Pipeline(["no-such-action"]), SETTINGS)


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (str, str, True),
        (int, float, True),
        (float, int, False),
        (str, Optional[str], True),  # noqa: UP045 - the old spelling too
        (str, str | None, True),
        (str | None, str, False),
        (list[str], list[str] | None, True),
        (list[int], list[str], False),
        (list[str], list, True),
        (Annotated[str, Field(min_length=1)], str, True),
        (bool, int, True),
        (bool, float, True),
        (Any, str, False),
        (str, Any, True),
        (dict[str, int], dict[str, float], True),
    ],
)
def test_type_compatibility(source: Any, target: Any, expected: bool) -> None:
    assert compatible(source, target) is expected


ATOMS = st.sampled_from([str, int, float, bool, bytes, type(None)])
TYPES = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        inner.map(lambda t: list[t]),  # type: ignore[valid-type]
        st.tuples(inner, inner).map(lambda pair: pair[0] | pair[1]),
    ),
    max_leaves=4,
)


@given(TYPES, TYPES)
def test_a_type_feeds_itself_and_any_union_holding_it(first: Any, second: Any) -> None:
    assert compatible(first, first)
    assert compatible(first, first | second)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nightly.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = [", "is not valid TOML"),
        ('name = "x"', "no actions"),
        ("[[actions]]\nparams = {}", "action #1 has no action"),
        ('[[actions]]\naction = "a"\nwhat = 1', "unknown key\\(s\\) what"),
        ('colour = "x"\n[[actions]]\naction = "a"', "unknown key\\(s\\) colour"),
        ('[[actions]]\naction = "a"\n[mappings]\n"a.x" = 1', "must be a string"),
        ("n = " + "9" * 5000 + '\n[[actions]]\naction = "a"', "is not valid TOML"),
        ("x = " + "[" * 5000 + "]" * 5000, "(not valid TOML|nested too deeply)"),
    ],
)
def test_a_bad_pipeline_file_is_a_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(PipelineError, match=expected):
        load_pipeline(write(tmp_path, text))


def test_a_missing_or_undecodable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="does not exist"):
        load_pipeline(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'name = "\xff"')
    with pytest.raises(PipelineError, match="is not UTF-8"):
        load_pipeline(bad)


def test_a_pipeline_file_reads_back_as_the_same_definition(tmp_path: Path) -> None:
    pipeline = load_pipeline(write(tmp_path, NIGHTLY_TOML))
    assert [stage.id for stage in pipeline.stages] == ["prepare", "train", "publish"]
    assert [str(h) for h in pipeline.handoffs] == [
        "train.data_uri = prepare.output_uri",
        "publish.annotations_uri = prepare.output_uri",
        "publish.model_uri = train.model_uri",
    ]
    again = Pipeline.from_dict(pipeline.to_dict())
    assert again.to_dict() == pipeline.to_dict()
    [_, train, _] = check_pipeline(pipeline, SETTINGS)
    assert [str(f) for f in train.feeds] == ["data_uri <- prepare.output_uri"]
