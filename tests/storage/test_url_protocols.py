"""The fsspec protocols a run's params use: what a Ray cluster's workers must be able to open."""

from __future__ import annotations

import pytest

from synapse_sdk.storage.urls import url_protocols


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s3://bucket/key", {"s3"}),
        ("simplecache::s3://bucket/key", {"simplecache", "s3"}),
        ("/data/images", set()),
        ("relative/folder", set()),
        ("file:///data", set()),
        ("local://data", set()),
        ("hello: world", set()),
        ({"source": "gcs://a/b", "targets": ["memory://x", "/tmp/y"]}, {"gcs", "memory"}),
        ({"nested": {"deeper": ("abfs://c/d",)}}, {"abfs"}),
    ],
)
def test_the_protocols_of_the_urls_anywhere_in_params(value: object, expected: set[str]) -> None:
    assert url_protocols(value) == expected
