"""Removes one stage's stack. The tables stay (DeletionPolicy Retain) unless asked for.

Usage: python -m infra.destroy --stage dev [--delete-tables] [--delete-secrets] [--dry-run]
       (or: make destroy STAGE=dev [DELETE_TABLES=1] [DELETE_SECRETS=1])

Kept tables are taken over again by `make deploy STAGE=<stage> ADOPT_TABLES=1`.
"""

from __future__ import annotations

import argparse
import os
import sys

from infra import build_template, honour_aws_region
from infra.deploy import (
    DeployError,
    _wait,
    caller_account,
    default_bucket,
    describe_stack,
    existing_tables,
    say,
    shards_parameter,
    stack_name,
    truthy,
    upgrades_parameter,
)


def delete_artifacts(s3, bucket: str, stage: str, *, dry_run: bool) -> int:
    try:
        pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{stage}/"))
    except s3.exceptions.NoSuchBucket:
        return 0
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    if keys and not dry_run:
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]]})
    return len(keys)


def _delete_protected_table(dynamodb, table: str) -> None:
    """The tables carry deletion protection (infra/resources.json), so that no console click or stray command drops
    the ledger: asked for in so many words (DELETE_TABLES=1), it is switched off, then the table deleted."""
    if dynamodb.describe_table(TableName=table)["Table"].get("DeletionProtectionEnabled"):
        dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
        dynamodb.get_waiter("table_exists").wait(TableName=table)  # ACTIVE again: a table updating cannot be deleted
    dynamodb.delete_table(TableName=table)


def destroy(stage: str, *, delete_tables: bool, delete_secrets: bool, dry_run: bool, environ: dict) -> int:
    import boto3

    build_template.check_stage(stage)
    session = boto3.session.Session(region_name=honour_aws_region(environ))
    if not session.region_name:
        raise DeployError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)")
    name = stack_name(stage)
    would = "would " if dry_run else ""
    say(f"{'DRY RUN: ' if dry_run else ''}destroying stage {stage} (stack {name} in {session.region_name})")
    account = caller_account(session)
    dynamodb = session.client("dynamodb")
    tables = existing_tables(dynamodb, stage)
    if delete_secrets and not delete_tables and tables:
        # API keys are stored as hashes with the pepper: without it the kept tables' keys could never work again.
        raise DeployError(f"DELETE_SECRETS=1 would delete the API-key pepper while the tables of stage {stage} are "
                          f"kept: every stored API key would fail for good. Delete both (DELETE_TABLES=1 "
                          f"DELETE_SECRETS=1), or neither")
    cfn = session.client("cloudformation")
    stack = describe_stack(cfn, name)
    if stack is None:
        say(f"  no stack {name}")
    else:
        say(f"  {would}delete stack {name}" + ("" if delete_tables else "; its tables are kept"))
        if not dry_run:
            cfn.delete_stack(StackName=name)
            _wait(cfn, "stack_delete_complete", name)

    if delete_tables:
        for table in sorted(tables.values()):
            say(f"  {would}delete table {table}")
            if not dry_run:
                _delete_protected_table(dynamodb, table)
    elif tables:
        say(f"  kept {len(tables)} tables (bounty-{stage}-*); to delete them too: "
            f"make destroy STAGE={stage} DELETE_TABLES=1")

    ssm = session.client("ssm")
    # The stage's records of its upgrades and shard settings describe its tables: they go with them.
    parameters = []
    if delete_secrets:
        parameters += [build_template.secret_parameter(stage, env_name) for env_name in build_template.SECRETS]
    if delete_tables:
        parameters += [upgrades_parameter(stage), shards_parameter(stage)]
    for parameter in parameters:
        try:
            if not dry_run:
                ssm.delete_parameter(Name=parameter)
            say(f"  {would}delete parameter {parameter}")
        except ssm.exceptions.ParameterNotFound:
            pass
    if not delete_secrets:
        say(f"  kept the secrets under /bounty-board/{stage}/ (DELETE_SECRETS=1 removes them)")

    bucket = environ.get("DEPLOY_BUCKET") or default_bucket(account, session.region_name)
    count = delete_artifacts(session.client("s3"), bucket, stage, dry_run=dry_run)
    if count:
        say(f"  {would}delete {count} uploaded artifacts under s3://{bucket}/{stage}/")
    say(f"{'DRY RUN complete: nothing was changed' if dry_run else 'Destroyed stage ' + stage}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--delete-tables", action="store_true", default=truthy(os.environ.get("DELETE_TABLES")))
    parser.add_argument("--delete-secrets", action="store_true", default=truthy(os.environ.get("DELETE_SECRETS")))
    parser.add_argument("--dry-run", action="store_true", default=truthy(os.environ.get("DRY_RUN")))
    args = parser.parse_args(argv)
    return destroy(args.stage, delete_tables=args.delete_tables, delete_secrets=args.delete_secrets,
                   dry_run=args.dry_run, environ=dict(os.environ))


if __name__ == "__main__":
    sys.exit(main())
