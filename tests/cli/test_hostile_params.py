"""Hostile params input: exit 2 and one ``error: ...`` line from ``synapse run``, never a traceback.

Through the real command for every kind of input, and ``load_params`` directly for the
exact limits and for arbitrary input (hypothesis).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.cli import Synapse

from synapse_sdk.cli.common import MAX_INT_DIGITS, MAX_PARAMS_DEPTH, CliError, load_params

UTF8 = "it must be UTF-8 JSON"


def assert_refused(result: subprocess.CompletedProcess[str], message: str, home: Path) -> None:
    """Exit 2, one ``error:`` line naming the problem (no traceback), and no run journalled.

    Plugin warnings are not counted: whether plugins load before params are read is not
    what these tests are about.
    """
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert not (home / "runs.db").exists()


@pytest.fixture
def home(_isolated_synapse_home: Path) -> Path:
    return _isolated_synapse_home


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"[" * 100_000, "nested more than 100 levels deep", id="deep-array"),
        pytest.param(b'{"a": ' * 100_000, "nested more than 100 levels deep", id="deep-object"),
        pytest.param(
            '{"source": "café"}'.encode("latin-1"),
            f"is not UTF-8 (byte 0xe9 at offset 15); {UTF8}",
            id="latin-1",
        ),
        pytest.param('{"source": "a"}'.encode("utf-16"), UTF8, id="utf-16-bom"),
        pytest.param('{"source": "a"}'.encode("utf-16-le"), UTF8, id="utf-16-le"),
        pytest.param('{"source": "a"}'.encode("utf-16-be"), UTF8, id="utf-16-be"),
        pytest.param('{"source": "a"}'.encode("utf-32"), UTF8, id="utf-32"),
        pytest.param(b'{"source": "\xed\xa0\x80"}', UTF8, id="utf-8-encoded-surrogate"),
        pytest.param(
            b'{"max": ' + b"7" * 5000 + b"}", "has an integer of 5000 digits", id="huge-integer"
        ),
        pytest.param(b'{"x": NaN}', "uses NaN, which is not a JSON number", id="nan"),
        pytest.param(b'{"x": -Infinity}', "uses -Infinity", id="minus-infinity"),
        pytest.param(b'{"x": 1e400}', "has the number 1e400, too large", id="huge-float"),
        pytest.param(
            b'{"source": "a", "source": "b"}', "has the key 'source' twice", id="duplicate-key"
        ),
        pytest.param(b'"\\ud800"', "must be a JSON object, got str", id="top-level-string"),
        pytest.param(b"null", "must be a JSON object, got NoneType", id="top-level-null"),
        pytest.param(b'{"s": "\\udc00"}', "not valid Unicode (a lone surrogate", id="surrogate"),
    ],
)
def test_hostile_params_file_is_refused_in_one_line(
    synapse: Synapse, tmp_path: Path, home: Path, content: bytes, message: str
) -> None:
    params_file = tmp_path / "params.json"
    params_file.write_bytes(content)
    result = synapse("run", "demo-upload", "--params-file", str(params_file))
    assert_refused(result, f"params file {params_file} ", home)
    assert message in result.stderr


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param("[" * 100_000, "--params is nested more than 100 levels", id="deep"),
        pytest.param('{"x": ' + "9" * 4301 + "}", "an integer of 4301 digits", id="huge-int"),
        pytest.param('{"x": Infinity}', "--params uses Infinity", id="infinity"),
        pytest.param('{"t": "a", "t": "a"}', "has the key 't' twice", id="duplicate-key"),
    ],
)
def test_hostile_params_option_is_refused_in_one_line(
    synapse: Synapse, home: Path, params: str, message: str
) -> None:
    assert_refused(synapse("run", "demo-upload", "--params", params), message, home)


def test_params_option_with_bytes_that_are_not_utf8(synapse: Synapse, home: Path) -> None:
    """A non-UTF-8 command line reaches Python as lone surrogates; they must not start a run."""
    result = synapse("run", "demo-simple", "--params", '{"word": "caf\udce9"}')
    assert_refused(result, "--params holds text that is not valid Unicode", home)


def test_json_mode_reports_hostile_input_as_a_result_line(synapse: Synapse, home: Path) -> None:
    result = synapse("run", "demo-upload", "--json", "--params", "[" * 100_000)
    assert result.returncode == 2
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["exit_code"] == 2
    assert "nested more than 100 levels" in last["error"]
    assert "Traceback" not in result.stderr


def test_utf8_byte_order_mark_is_accepted(synapse: Synapse, tmp_path: Path) -> None:
    params_file = tmp_path / "params.json"
    params_file.write_bytes('{"word": "quiet"}'.encode("utf-8-sig"))
    result = synapse("run", "demo-simple", "--params-file", str(params_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"shout": "QUIET"}


def test_runs_rollback_params_file_is_checked_the_same_way(
    synapse: Synapse, tmp_path: Path
) -> None:
    params_file = tmp_path / "secrets.json"
    params_file.write_bytes(b"[" * 100_000)
    result = synapse("runs", "rollback", "0123456789ab", "--params-file", str(params_file))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: params file {params_file} is nested more than 100 levels deep "
        "(arrays and objects); params may nest at most 100 levels"
    ]


def nested(depth: int) -> str:
    """A params object nested ``depth`` levels deep (the object itself is level 1)."""
    return '{"x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_depth_limit_is_exact() -> None:
    assert MAX_PARAMS_DEPTH == 100
    assert load_params(nested(MAX_PARAMS_DEPTH), None) is not None
    with pytest.raises(CliError, match="nested more than 100 levels"):
        load_params(nested(MAX_PARAMS_DEPTH + 1), None)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"pattern": "[{" * 5000, "quoted": '\\"[' * 500})
    assert load_params(text, None) == json.loads(text)


def test_integer_digit_limit_is_exact() -> None:
    assert MAX_INT_DIGITS == 4300
    assert load_params('{"n": -' + "9" * MAX_INT_DIGITS + "}", None) == {
        "n": -int("9" * MAX_INT_DIGITS)
    }
    with pytest.raises(CliError, match="4301 digits"):
        load_params('{"n": ' + "9" * (MAX_INT_DIGITS + 1) + "}", None)


def test_ordinary_params_are_unchanged() -> None:
    text = '{"a": 1, "b": 2.5, "c": [true, null, "x"], "d": {"e": -3e5}, "f": "\\u00e9"}'
    assert load_params(text, None) == json.loads(text)


def loaded_or_message(params_json: str | None, params_file: Path | None) -> object:
    """The params ``load_params`` returns, or the message of the ``CliError`` it raises."""
    try:
        return load_params(params_json, params_file)
    except CliError as exc:
        return exc.format_message()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_params_text_loads_or_is_a_one_line_cli_error(text: str) -> None:
    outcome = loaded_or_message(text, None)
    assert isinstance(outcome, dict) or (isinstance(outcome, str) and "\n" not in outcome)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_any_params_file_bytes_load_or_are_a_one_line_cli_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "params.json"
        path.write_bytes(data)
        outcome = loaded_or_message(None, path)
    assert isinstance(outcome, dict) or (isinstance(outcome, str) and "\n" not in outcome)
