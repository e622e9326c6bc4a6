"""Secrets come from the environment locally and from SSM Parameter Store when deployed, read once per
container at first use, so they are never in the template or the package."""

from __future__ import annotations

import functools
import os


@functools.cache
def _parameter(name: str) -> str:
    import boto3

    return boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def secret(env_name: str, default: str) -> str:
    """`env_name` itself if set; else the SSM parameter named by `<env_name>_PARAM`; else the default."""
    value = os.environ.get(env_name)
    if value:
        return value
    parameter = os.environ.get(f"{env_name}_PARAM")
    if parameter:
        return _parameter(parameter)
    return default
