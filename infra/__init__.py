"""The deploy: template, package, deploy and destroy of a stage."""

from __future__ import annotations

from collections.abc import MutableMapping


def honour_aws_region(environ: MutableMapping[str, str]) -> str | None:
    """The region to work in, with AWS_REGION given to botocore, which reads only AWS_DEFAULT_REGION; AWS_REGION
    wins over it (and over a profile's region), as in the AWS CLI. None: botocore's own lookup (the profile)."""
    if environ.get("AWS_REGION"):
        environ["AWS_DEFAULT_REGION"] = environ["AWS_REGION"]
    return environ.get("AWS_DEFAULT_REGION") or None
