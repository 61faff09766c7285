"""The storage tests run against a real S3 (moto_server on 127.0.0.1)."""

from support.s3_fixtures import aws_env, bucket, moto, s3

__all__ = ["aws_env", "bucket", "moto", "s3"]
