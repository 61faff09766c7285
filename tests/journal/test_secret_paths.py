"""Secrets at any depth of params: redacted in the journal and events, found, supplied again.

Real actions whose params hold ``list[SecretStr]``, ``dict[str, SecretStr]`` and lists of
models with secret fields run through ``run_action`` with a journal in a temporary folder;
no secret may appear anywhere in the journal's files or in the JSON lines of the run.
``secret_paths`` and ``deep_merge`` are tested directly, with hypothesis properties.
The ``storage_options`` of the upload, export and train params (a plain ``dict`` for
fsspec) are redacted by key name: ``key``, ``secret``, ``*_token``...
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr, field_serializer

from synapse_sdk.actions.base import ActionContext, ActionParams, BaseAction
from synapse_sdk.actions.export import BaseExportAction, ExportParams
from synapse_sdk.actions.train import BaseTrainAction, TrainParams
from synapse_sdk.actions.upload import BaseUploadAction, UploadParams
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost, run_action
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult
from synapse_sdk.runtime.context import RuntimeContext, quiet_logger
from synapse_sdk.runtime.events import REDACTED, dumps
from synapse_sdk.runtime.secrets import deep_merge, is_secret_name, redact, secret_paths
from synapse_sdk.runtime.sinks import JsonLinesSink

SECRETS = ["tok-A1b2C3", "tok-D4e5F6", "hdr-G7h8I9", "key-J1k2L3", "key-M4n5O6", "pwd-P7q8R9"]


class Auth(BaseModel):
    user: str
    password: SecretStr


class Item(BaseModel):
    name: str
    key: SecretStr


class ClearItem(BaseModel):
    """Serializes its key in clear, as a model sent to a web service might."""

    name: str
    key: SecretStr

    @field_serializer("key", when_used="json")
    def _clear(self, key: SecretStr) -> str:
        return key.get_secret_value()


class VaultParams(ActionParams):
    tokens: list[SecretStr]
    headers: dict[str, SecretStr]
    items: list[Item]
    auth: Auth
    region: str = "eu"


class ClearVaultParams(ActionParams):
    items: list[ClearItem]
    pair: tuple[SecretStr, SecretStr]


class LogParams(BaseStep[ActionContext]):
    """Logs the params models themselves, as a careless step might."""

    name = "log_params"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        context.log("using", {"params": context.params, "items": context.params.items})
        return StepResult(success=True)


class VaultAction(BaseAction[VaultParams]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(LogParams())


class ClearVaultAction(BaseAction[ClearVaultParams]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(LogParams())


VAULT_PARAMS: dict[str, Any] = {
    "tokens": SECRETS[0:2],
    "headers": {"X-Api-Key": SECRETS[2]},
    "items": [{"name": "first", "key": SECRETS[3]}, {"name": "second", "key": SECRETS[4]}],
    "auth": {"user": "ada", "password": SECRETS[5]},
}

CLEAR_PARAMS: dict[str, Any] = {
    "items": [{"name": "first", "key": SECRETS[3]}],
    "pair": SECRETS[0:2],
}


def run_journalled(
    action: type[BaseAction[Any]], params: dict[str, Any], tmp_path: Path
) -> tuple[dict[str, Any], bytes, str]:
    """Run ``action``; return its journalled params, the journal's raw bytes, the JSON lines."""
    events = tmp_path / "events.jsonl"
    journal = RunJournal(tmp_path / "journal" / "runs.db")
    runtime = RuntimeContext(sinks=[JsonLinesSink(events)], logger=quiet_logger())
    try:
        run_action(action, params, ctx=runtime, plugins=PluginHost(), journal=journal)
        record = journal.get_run(runtime.job_id or "")
    finally:
        runtime.close()
        journal.close()
    assert record is not None
    raw = b"".join(path.read_bytes() for path in sorted((tmp_path / "journal").iterdir()))
    return record.params, raw, events.read_text(encoding="utf-8")


def assert_no_secret(raw: bytes, lines: str) -> None:
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
        assert secret not in lines, secret


def test_secrets_in_lists_mappings_and_nested_models_are_redacted(tmp_path: Path) -> None:
    params, raw, lines = run_journalled(VaultAction, VAULT_PARAMS, tmp_path)
    assert params == {
        "tokens": [REDACTED, REDACTED],
        "headers": {"X-Api-Key": REDACTED},
        "items": [{"name": "first", "key": REDACTED}, {"name": "second", "key": REDACTED}],
        "auth": {"user": "ada", "password": REDACTED},
        "region": "eu",
    }
    assert_no_secret(raw, lines)
    logged = [json.loads(line) for line in lines.splitlines()]
    using = next(event for event in logged if event.get("message") == "using")
    assert using["data"]["params"] == params
    assert using["data"]["items"] == params["items"]


def test_secrets_are_redacted_even_when_a_model_serializes_them_in_clear(
    tmp_path: Path,
) -> None:
    assert SECRETS[3] in json.dumps(ClearVaultParams(**CLEAR_PARAMS).model_dump(mode="json"))
    params, raw, lines = run_journalled(ClearVaultAction, CLEAR_PARAMS, tmp_path)
    assert params == {"items": [{"name": "first", "key": REDACTED}], "pair": [REDACTED] * 2}
    assert_no_secret(raw, lines)


def test_journalled_params_and_supplied_secrets_rebuild_the_params(tmp_path: Path) -> None:
    """What ``synapse runs rollback --params-file`` does with the helpers."""
    journalled, _, _ = run_journalled(VaultAction, VAULT_PARAMS, tmp_path)
    assert secret_paths(journalled) == [
        "tokens[0]",
        "tokens[1]",
        "headers.X-Api-Key",
        "items[0].key",
        "items[1].key",
        "auth.password",
    ]
    partly = deep_merge(journalled, {"auth": {"password": SECRETS[5]}})
    assert partly["auth"] == {"user": "ada", "password": SECRETS[5]}
    assert "auth.password" not in secret_paths(partly)
    supplied = {key: VAULT_PARAMS[key] for key in ("tokens", "headers", "items", "auth")}
    merged = deep_merge(journalled, {**supplied, "auth": {"password": SECRETS[5]}})
    assert secret_paths(merged) == []
    assert VaultAction.validate_params(merged) == VaultParams(**VAULT_PARAMS)


@dataclass
class Connection:
    url: str
    token: SecretStr


def test_redact_walks_tuples_sets_mappings_and_dataclasses() -> None:
    value = {
        "a": (SecretStr("x"), 1),
        "b": {SecretStr("y")},
        2: [None, 1.5],
        "c": Connection("s3://bucket", SecretStr("z")),
    }
    assert redact(value) == {
        "a": [REDACTED, 1],
        "b": [REDACTED],
        "2": [None, 1.5],
        "c": {"url": "s3://bucket", "token": REDACTED},
    }
    assert json.loads(dumps({"items": [Item(name="n", key=SecretStr("z"))]})) == {
        "items": [{"name": "n", "key": REDACTED}]
    }


def test_secret_paths_writes_keys_and_indexes() -> None:
    assert secret_paths({"a": {"b": [1, [REDACTED]], "c": REDACTED}, "d": "x"}) == [
        "a.b[1][0]",
        "a.c",
    ]
    assert secret_paths({}) == []


def test_deep_merge_keeps_journalled_siblings_and_replaces_lists_whole() -> None:
    journalled: dict[str, Any] = {
        "auth": {"user": "ada", "password": REDACTED},
        "tokens": [REDACTED, REDACTED],
    }
    supplied = {"auth": {"password": "pw"}, "tokens": ["t"]}
    assert deep_merge(journalled, supplied) == {
        "auth": {"user": "ada", "password": "pw"},
        "tokens": ["t"],
    }
    assert journalled["auth"]["password"] == REDACTED  # inputs are not modified


# -- properties ---------------------------------------------------------------------------

keys = st.sampled_from(["a", "b", "c"])
leaves = st.one_of(
    st.integers(), st.text(max_size=3), st.none(), st.lists(st.integers(), max_size=2)
)
trees = st.recursive(leaves, lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=12)
params_trees = st.dictionaries(keys, trees, max_size=3)


def paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every key path in ``tree`` (inner mappings included) with its value."""
    found: dict[tuple[str, ...], Any] = {}
    for key, value in tree.items():
        found[(*prefix, key)] = value
        if isinstance(value, dict):
            found.update(paths(value, (*prefix, key)))
    return found


def value_at(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


@settings(max_examples=300, deadline=None)
@given(params_trees, params_trees)
def test_deep_merge_supplied_leaves_win_and_other_journalled_leaves_survive(
    journalled: dict[str, Any], supplied: dict[str, Any]
) -> None:
    before = json.dumps(journalled)
    merged = deep_merge(journalled, supplied)
    supplied_paths = paths(supplied)
    for path, value in supplied_paths.items():
        if not isinstance(value, dict):
            assert value_at(merged, path) == value
    for path, value in paths(journalled).items():
        if isinstance(value, dict):
            continue
        replaced = any(
            path[:length] in supplied_paths and not isinstance(supplied_paths[path[:length]], dict)
            for length in range(1, len(path))
        )
        if path not in supplied_paths and not replaced:
            assert value_at(merged, path) == value
    assert json.dumps(journalled) == before


secret_trees = st.recursive(
    st.one_of(st.just(REDACTED), st.integers(), st.text(max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["k", "x_1"]), inner)
    ),
    max_leaves=15,
)

STEP = re.compile(r"\.?([A-Za-z_0-9]+)|\[(\d+)\]")


def resolve(tree: Any, path: str) -> Any:
    """The value at a path written like ``a.b[0][1].c``."""
    for key, index in STEP.findall(path):
        tree = tree[int(index)] if index else tree[key]
    return tree


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b_2"]), secret_trees, max_size=3))
def test_secret_paths_lists_exactly_the_redacted_values(tree: dict[str, Any]) -> None:
    found = secret_paths(tree)
    assert all(resolve(tree, path) == REDACTED for path in found)
    assert len(found) == json.dumps(tree).count(json.dumps(REDACTED))
    assert len(set(found)) == len(found)


@pytest.mark.parametrize("model", [Item, ClearItem])
def test_redact_matches_model_dump_apart_from_secrets(model: type[BaseModel]) -> None:
    item = model(name="n", key=SecretStr("secret"))
    assert redact(item) == {"name": "n", "key": REDACTED}


# -- storage_options: a plain dict, redacted by key name ----------------------------------

OPTION_SECRETS: dict[str, Any] = {
    "key": "AKIAOPT1A2B3C4",
    "secret": "opt-sec-D5E6F7",
    "client_kwargs": {"aws_secret_access_key": "opt-sak-G8H9", "aws_session_token": "opt-st-J1"},
    "account_key": "opt-ak-K2L3",
    "SAS_Token": "opt-sas-M4N5",
    "credentials": {"type": "service_account", "private_key": "opt-pk-P6Q7"},
}
OPTION_SECRET_VALUES = [
    "AKIAOPT1A2B3C4",
    "opt-sec-D5E6F7",
    "opt-sak-G8H9",
    "opt-st-J1",
    "opt-ak-K2L3",
    "opt-sas-M4N5",
    "opt-pk-P6Q7",
]
STORAGE_OPTIONS: dict[str, Any] = {
    "endpoint_url": "http://127.0.0.1:9000",
    "profile": "ci",
    **OPTION_SECRETS,
    "client_kwargs": {"region_name": "eu-west-1", **OPTION_SECRETS["client_kwargs"]},
}
REDACTED_OPTIONS = {
    "endpoint_url": "http://127.0.0.1:9000",
    "profile": "ci",
    "key": REDACTED,
    "secret": REDACTED,
    "client_kwargs": {
        "region_name": "eu-west-1",
        "aws_secret_access_key": REDACTED,
        "aws_session_token": REDACTED,
    },
    "account_key": REDACTED,
    "SAS_Token": REDACTED,
    "credentials": REDACTED,
}
OPTION_PATHS = [
    "storage_options.key",
    "storage_options.secret",
    "storage_options.client_kwargs.aws_secret_access_key",
    "storage_options.client_kwargs.aws_session_token",
    "storage_options.account_key",
    "storage_options.SAS_Token",
    "storage_options.credentials",
]


class LogStoreParams(BaseStep[ActionContext]):
    """Logs the params model, as a careless step might."""

    name = "log_params"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        context.log("using", {"params": context.params})
        return StepResult(success=True)


class StoreUpload(BaseUploadAction[UploadParams]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(LogStoreParams())


class StoreExport(BaseExportAction[ExportParams]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(LogStoreParams())


class StoreTrain(BaseTrainAction[TrainParams]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(LogStoreParams())


@pytest.mark.parametrize(
    ("action", "params"),
    [
        (StoreUpload, {"source": "in", "target": "s3://bucket/up"}),
        (StoreExport, {"output_uri": "s3://bucket/out"}),
        (StoreTrain, {"model_uri": "s3://bucket/model.pkl"}),
    ],
)
def test_storage_options_of_upload_export_and_train_are_redacted_and_supplied_again(
    action: type[BaseAction[Any]], params: dict[str, Any], tmp_path: Path
) -> None:
    supplied = {**params, "storage_options": STORAGE_OPTIONS}
    journalled, raw, lines = run_journalled(action, supplied, tmp_path)
    assert journalled["storage_options"] == REDACTED_OPTIONS
    for secret in OPTION_SECRET_VALUES:
        assert secret.encode() not in raw, secret
        assert secret not in lines, secret
    logged = [json.loads(line) for line in lines.splitlines()]
    using = next(event for event in logged if event.get("message") == "using")
    assert using["data"]["params"]["storage_options"] == REDACTED_OPTIONS
    assert secret_paths(journalled) == OPTION_PATHS  # what runs rollback asks for
    again = {"storage_options": {"client_kwargs": OPTION_SECRETS["client_kwargs"]}}
    partly = deep_merge(journalled, again)
    assert partly["storage_options"]["client_kwargs"]["region_name"] == "eu-west-1"
    assert "storage_options.client_kwargs.aws_session_token" not in secret_paths(partly)
    merged = deep_merge(journalled, {"storage_options": OPTION_SECRETS})
    assert secret_paths(merged) == []
    assert action.validate_params(merged) == action.validate_params(supplied)


def test_storage_options_default_to_empty_and_need_nothing_again() -> None:
    for model, params in (
        (UploadParams, {"source": "in", "target": "out"}),
        (ExportParams, {"output_uri": "out"}),
        (TrainParams, {}),
    ):
        redacted = redact(model.model_validate(params))
        assert redacted["storage_options"] == {}
        assert secret_paths(redacted) == []


def test_names_mean_nothing_outside_storage_options() -> None:
    payload = {"key": "data/a.bin", "token": "next-page", "items": [{"api_key": "k"}]}
    assert redact(payload) == payload  # an object key, a page token: type secrets SecretStr
    nested = {"copy": {"storage_options": {"token": "t", "anon": False, "password": None}}}
    assert redact(nested) == {
        "copy": {"storage_options": {"token": REDACTED, "anon": False, "password": None}}
    }  # None hides nothing, and runs rollback does not ask for it


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("key", True),
        ("Secret", True),
        ("token", True),
        ("password", True),
        ("credentials", True),
        ("aws_secret_access_key", True),
        ("client_secret", True),
        ("sas_token", True),
        ("proxy_password", True),
        ("endpoint_url", False),
        ("aws_access_key_id", False),
        ("region_name", False),
        ("keys", False),
        ("tokenizer", False),
        ("profile", False),
        (3, False),
    ],
)
def test_secret_looking_names(name: object, secret: bool) -> None:
    assert is_secret_name(name) is secret
