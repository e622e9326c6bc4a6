"""A first `make deploy DRY_RUN=1` (or destroy) before any credentials are set gets a sentence, not a traceback."""

from __future__ import annotations

import pytest

from .conftest import run_script, script_env


@pytest.mark.parametrize("script", ["deploy.sh", "destroy.sh"])
def test_missing_credentials_are_named_with_what_to_set(script, tmp_path):
    env = script_env(STAGE="dev", DRY_RUN="1", AWS_REGION="eu-west-1", AWS_EC2_METADATA_DISABLED="true",
                     AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    result = run_script(script, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no AWS credentials: set AWS_ACCESS_KEY_ID" in result.stderr
    assert "Traceback" not in result.stderr
