"""A real S3 for the nightly pipeline's tests: the repository's moto_server fixtures."""

from support.s3_fixtures import aws_env, bucket, moto, s3

__all__ = ["aws_env", "bucket", "moto", "s3"]
