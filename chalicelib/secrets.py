"""Secrets come from the environment locally and from SSM Parameter Store when deployed, read once per
container at first use, so they are never in the template or the package."""

from __future__ import annotations

import functools
import os


@functools.cache
def _parameters() -> dict[str, str]:
    """Every secret this function may read (the `<VAR>_PARAM` names its environment carries, each granted to its
    role), in one request at the first need of any: a cold start pays one SSM call, not one per secret, against
    SSM's shared request rate."""
    import boto3

    names = sorted({value for name, value in os.environ.items() if name.endswith("_PARAM") and value.startswith("/")})
    answer = boto3.client("ssm").get_parameters(Names=names, WithDecryption=True)  # at most 10 names a call
    return {parameter["Name"]: parameter["Value"] for parameter in answer["Parameters"]}


def _parameter(name: str) -> str:
    values = _parameters()
    if name not in values:
        from botocore.exceptions import ClientError

        _parameters.cache_clear()  # stored later, it is found by the next need
        # As GetParameter would refuse it, so callers (`python -m ops`) tell a missing secret as before.
        raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": f"SSM parameter {name} not found"}},
                          "GetParameters")
    return values[name]


def secret(env_name: str, default: str) -> str:
    """`env_name` itself if set; else the SSM parameter named by `<env_name>_PARAM`; else the default."""
    value = os.environ.get(env_name)
    if value:
        return value
    parameter = os.environ.get(f"{env_name}_PARAM")
    if parameter:
        return _parameter(parameter)
    return default
