"""The harness itself against the daemon as it is: start, health, clients,
restart, stop. None of this needs the functions feature, so scripts/test runs
it on every run (with test_fixtures.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import harness


def test_daemon_starts_answers_and_stops(new_daemon):
    d = new_daemon()
    assert d.alive()
    assert d.addr.startswith("127.0.0.1:") and not d.addr.endswith(":0")
    assert d.health() == 200
    assert d.stop() == 0
    assert not d.alive()


def test_boto3_and_the_aws_cli_reach_the_daemon(new_daemon, make_client, aws):
    d = new_daemon()
    client = make_client(d)
    try:
        client.list_functions()
    except ClientError as e:  # before the feature lands: the daemon's JSON 404
        status, _, _ = harness.client_error_parts(e)
        assert 400 <= status < 500, e.response
        assert client.raw.last()[0] == status  # the raw body was captured too
    try:
        aws(d, "lambda", "list-functions")
    except harness.AwsCliError as e:
        assert "An error occurred" in e.stderr, e.stderr  # an answer from the daemon, not a connection error


def test_restart_after_kill_9_reuses_the_data_dir(new_daemon):
    d = new_daemon()
    first_pid, data_dir = d.pid, d.data_dir
    d.restart()
    assert d.pid != first_pid
    assert not harness.pid_alive(first_pid)
    assert d.data_dir == data_dir
    assert d.health() == 200
    assert "start 2 of this store" in d.stdout_path.read_text()


def test_daemon_path_hides_the_project_venvs():
    path = harness.daemon_env()["PATH"].split(":")
    assert str(harness.VENV / "bin") not in path and str(harness.VENV_RIC / "bin") not in path
    ric_path = harness.daemon_env(path_prefix=[harness.VENV_RIC / "bin"])["PATH"].split(":")
    assert ric_path[0] == str(harness.VENV_RIC / "bin")


def test_wait_until_fails_after_its_deadline():
    with pytest.raises(AssertionError, match="timed out after 0.1 s waiting for nothing"):
        harness.wait_until(lambda: False, timeout=0.1, what="nothing")


def test_the_aws_cli_is_v1_and_its_invoke_arguments_parse(new_daemon, aws, tmp_path):
    """pip's awscli is v1: it has no --cli-binary-format (a v2 flag), and
    sends --payload as it is. The tests pass the flag only to a v2."""
    assert harness.aws_cli_major() == 1
    assert harness.raw_payload_args() == []
    d = new_daemon()
    with pytest.raises(harness.AwsCliError) as info:
        aws(d, "lambda", "invoke", "--function-name", "nope", "--payload", "{}", str(tmp_path / "out.json"))
    assert "Unknown options" not in info.value.stderr and "usage:" not in info.value.stderr, info.value.stderr
