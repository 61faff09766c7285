"""An action that writes through ``context.storage``: creates, replaces, copies, and fails.

Params: ``target`` (a URL or a relative/absolute path), ``tamper`` (a later step changes
one written object, as someone else might), ``freeze`` (that step makes ``existing.txt``
immutable with ``chattr +i``, so that restoring it fails), ``fail`` (a last step fails).

:class:`OptionsStorageAction` takes ``storage_options`` too (an S3 endpoint, credentials),
``many`` (that many more objects created under ``many/``), ``outside`` (a step fills
the listings cache of this process's filesystem, then changes the bucket behind its back
through boto3) and ``late`` (a step lists the target, someone else creates ``late.txt``,
then the run writes it), ``bulk_source`` (every file of that local folder copied to
``target/bulk/`` with ``put_files``) and ``tamper_bulk`` (someone then rewrites the first
of those with other bytes of the same size).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from pydantic import Field

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class StorageParams(ActionParams):
    target: str
    local_file: str | None = None
    tamper: bool = False
    freeze: bool = False  # make existing.txt immutable (chattr +i): its restore will fail
    fail: bool = False


class Write(BaseStep[ActionContext]):
    name = "write"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        target = context.params.target.rstrip("/")
        storage = context.storage
        storage.write_bytes(f"{target}/new/deeper/created.bin", b"\x00created by the run")
        storage.write_text(f"{target}/existing.txt", "replaced by the run")
        storage.makedirs(f"{target}/empty/made")
        if context.params.local_file:
            storage.put_file(context.params.local_file, f"{target}/new/copied.bin")
        with storage.open(f"{target}/streamed.bin") as file:
            for index in range(3):
                file.write(f"chunk {index}\n".encode())
        return StepResult(success=True)


class Tamper(BaseStep[ActionContext]):
    name = "tamper"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        if context.params.tamper:  # someone else changes an object the run wrote
            fs = context.storage.fs(context.params.target)
            with fs.open(f"{context.params.target.rstrip('/')}/streamed.bin", "wb") as file:
                file.write(b"changed by someone else")
        if context.params.freeze:
            existing = f"{context.params.target.rstrip('/')}/existing.txt"
            subprocess.run(["chattr", "+i", existing], check=True, capture_output=True)
        return StepResult(success=True)


class Finish(BaseStep[ActionContext]):
    name = "finish"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        if context.params.fail:
            return StepResult(success=False, error="asked to fail")
        return StepResult(success=True)


class StorageAction(BaseAction[StorageParams]):
    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(Write())
        registry.register(Tamper())
        registry.register(Finish())


class OptionsStorageParams(StorageParams):
    storage_options: dict[str, Any] = Field(default_factory=dict)
    many: int = 0
    outside: bool = False
    late: bool = False
    bulk_source: str | None = None
    tamper_bulk: bool = False


class PutMany(BaseStep[ActionContext]):
    name = "put_many"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        source = context.params.bulk_source
        if source is None:
            return StepResult(success=True)
        target = context.params.target.rstrip("/")
        files = sorted(path for path in Path(source).rglob("*") if path.is_file())
        pairs = [(path, f"{target}/bulk/{path.relative_to(source).as_posix()}") for path in files]
        stored = context.storage.put_files(pairs)
        if context.params.tamper_bulk:  # someone rewrites the first, keeping its size
            with context.storage.fs(target).open(stored[0].url, "wb") as file:
                file.write(bytes(byte ^ 0xFF for byte in files[0].read_bytes()))
        return StepResult(success=True, data={"stored": len(stored)})


class WriteMany(BaseStep[ActionContext]):
    name = "write_many"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        target = context.params.target.rstrip("/")
        for index in range(context.params.many):
            context.storage.write_bytes(f"{target}/many/{index:05d}.bin", b"%d" % index)
        return StepResult(success=True)


def _bucket_and_prefix(url: str) -> tuple[str, str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix.rstrip("/")


class Outside(BaseStep[ActionContext]):
    """Lists the target (filling the listings cache), then changes it behind its back."""

    name = "outside"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        if not context.params.outside:
            return StepResult(success=True)
        import boto3  # type: ignore[import-untyped]

        target = context.params.target.rstrip("/")
        fs = context.storage.fs(target)  # this process's cached filesystem
        fs.ls(target)
        fs.ls(f"{target}/new/deeper")
        options = context.params.storage_options
        client = boto3.client("s3", endpoint_url=options["endpoint_url"])
        bucket, prefix = _bucket_and_prefix(target)
        client.delete_object(Bucket=bucket, Key=f"{prefix}/new/deeper/created.bin")
        client.put_object(Bucket=bucket, Key=f"{prefix}/streamed.bin", Body=b"changed outside")
        return StepResult(success=True)


class Late(BaseStep[ActionContext]):
    """Lists the target, someone else then creates ``late.txt``, then the run writes it."""

    name = "late"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        if not context.params.late:
            return StepResult(success=True)
        import boto3

        target = context.params.target.rstrip("/")
        context.storage.fs(target).ls(target)  # a listing now in this process's cache
        client = boto3.client("s3", endpoint_url=context.params.storage_options["endpoint_url"])
        bucket, prefix = _bucket_and_prefix(target)
        client.put_object(Bucket=bucket, Key=f"{prefix}/late.txt", Body=b"someone else's")
        context.storage.write_text(f"{target}/late.txt", "the run's")
        return StepResult(success=True)


class OptionsStorageAction(BaseAction[OptionsStorageParams]):
    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(Write())
        registry.register(WriteMany())
        registry.register(PutMany())
        registry.register(Late())
        registry.register(Tamper())
        registry.register(Outside())
        registry.register(Finish())


class BulkOnlyAction(BaseAction[OptionsStorageParams]):
    """Only ``put_many``: its band is the whole run, so each of its phases shows."""

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(PutMany())
