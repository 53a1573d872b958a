from slim.model import RunConfig
from slim.checks.config_findings import findings, warnings


def test_root_and_secrets_in_env_are_reported_by_name_only():
    found = findings(RunConfig.from_document(
        {"Env": ["PATH=/usr/bin", "DB_PASSWORD=hunter2", "GITHUB_TOKEN=", "API_KEY=abc"], "User": ""}))
    assert found == {"user": "root", "runs_as_root": True, "env_secrets": ["API_KEY", "DB_PASSWORD"]}
    text = " ".join(warnings(found))
    assert "hunter2" not in text and "DB_PASSWORD" in text and "root" in text


def test_a_non_root_user_with_a_clean_env_has_no_findings():
    found = findings(RunConfig.from_document({"Env": ["PATH=/usr/bin", "LANG=C.UTF-8"], "User": "10001:10001"}))
    assert found == {"user": "10001", "runs_as_root": False, "env_secrets": []} and warnings(found) == []
