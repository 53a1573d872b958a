"""The CI recipes in samples/ci run here, step by step, as their CI would run them: the commands are read from
the recipe files themselves (so the recipes cannot drift from what is tested), with the CI's variables set to
this machine's engine and a local registry. Only the install step is left out (slim is installed here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import xmlschema
import yaml

from tests.integration.conftest import SAMPLES, registry_tags

pytestmark = pytest.mark.docker
RECIPES = os.path.join(SAMPLES, "ci")
SCHEMA = os.path.join(os.path.dirname(__file__), "..", "fixtures", "schemas", "junit.xsd")
VENV_BIN = os.path.join(os.path.dirname(__file__), "..", "..", ".venv", "bin")
SETUP_ONLY = {"Install slim"}


def recipe(name: str) -> dict:
    with open(os.path.join(RECIPES, name)) as fh:
        return yaml.safe_load(fh)


def run_steps(scripts: list[str], cwd: str, env: dict[str, str], prelude: str = "") -> None:
    # DOCKER_CONFIG: `docker login` (and slim's push, which reads the same file) must not touch this host's
    env = dict(os.environ, **env, PATH=os.path.abspath(VENV_BIN) + os.pathsep + os.environ["PATH"],
               DOCKER_CONFIG=os.path.join(os.path.dirname(cwd), "docker-config"))
    for script in scripts:
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", prelude + script], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"step failed: {script}\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}"


def github_job(doc: dict) -> tuple[dict, list[str]]:
    (job,) = doc["jobs"].values()
    steps = [s["run"] for s in job["steps"] if "run" in s and s.get("name") not in SETUP_ONLY]
    for script in steps:
        assert "${{" not in script, "run steps read the job's env, which the test sets: no expressions in them"
    return job, steps


def repository(tmp_path, sample: str, slim_yaml: str | None = None) -> str:
    """A checkout as the recipe sees it: the sample app, and slim.yaml beside its Dockerfile."""
    repo = tmp_path / "repo"
    shutil.copytree(os.path.join(SAMPLES, sample), repo)
    shutil.copy(slim_yaml or os.path.join(RECIPES, "slim.yaml"), repo / "slim.yaml")
    return str(repo)


def check_outputs(repo: str, registry: str, repository_name: str) -> None:
    assert registry_tags(registry, repository_name) == ["test-slim"]
    xmlschema.XMLSchema(SCHEMA).validate(os.path.join(repo, "slim-out", "junit.xml"))
    assert os.path.isfile(os.path.join(repo, "slim-out", "report.json"))


def test_the_github_actions_recipe(engine, registry, tmp_path, scratch_tags, no_leftovers):
    job, steps = github_job(recipe("github-actions.yml"))
    repo = repository(tmp_path, "python-web")
    env = {"REGISTRY": registry, "APP_IMAGE": "recipe-app:test", "SLIM_IMAGE": f"{registry}/recipes/app:test-slim",
           "PUSH": "--push", "REGISTRY_USER": "ci", "REGISTRY_PASSWORD": "ci"}
    assert set(job["env"]) - {"SLIM_PACKAGE"} == set(env), "the test sets exactly the variables the recipe defines"
    scratch_tags += ["recipe-app:test", env["SLIM_IMAGE"]]
    run_steps(steps, repo, env)
    check_outputs(repo, registry, "recipes/app")


def test_the_github_actions_matrix_recipe(engine, registry, tmp_path, scratch_tags, no_leftovers):
    job, steps = github_job(recipe("github-actions-matrix.yml"))
    services = job["strategy"]["matrix"]["service"]
    assert services == ["api", "worker"]
    repo = tmp_path / "repo"
    shutil.copytree(os.path.join(SAMPLES, "python-web"), repo / "services" / "api")
    shutil.copy(os.path.join(RECIPES, "slim.yaml"), repo / "services" / "api" / "slim.yaml")
    shutil.copytree(os.path.join(SAMPLES, "batch-job"), repo / "services" / "worker")
    (repo / "services" / "worker" / "slim.yaml").write_text(
        "version: 1\nprobes:\n  continue_after: exit\noutput:\n  junit: slim-out/junit.xml\n"
        "  report: slim-out/report.json\nhardening:\n  seccomp_profile: slim-out/seccomp.json\n")
    for service in services:
        env = {"SERVICE": service, "REGISTRY": registry, "APP_IMAGE": f"{service}:test",
               "SLIM_IMAGE": f"{registry}/recipes/{service}:test-slim", "PUSH": "--push",
               "REGISTRY_USER": "ci", "REGISTRY_PASSWORD": "ci"}
        assert set(job["env"]) - {"SLIM_PACKAGE"} == set(env)
        scratch_tags += [env["APP_IMAGE"], env["SLIM_IMAGE"]]
        run_steps(steps, str(repo), env)
        check_outputs(str(repo / "services" / service), registry, f"recipes/{service}")


def test_the_gitlab_recipe_with_a_remote_engine(tls_engine, registry, tmp_path):
    job = recipe("gitlab-ci.yml")["slim"]
    variables = dict(job["variables"])
    # docker-in-docker as GitLab documents it with TLS: port 2376, the client's files under $DOCKER_TLS_CERTDIR/client
    assert variables["DOCKER_HOST"] == "tcp://docker:2376" and variables["DOCKER_TLS_VERIFY"] == "1"
    assert variables["DOCKER_TLS_CERTDIR"] and variables["DOCKER_CERT_PATH"] == "$DOCKER_TLS_CERTDIR/client"
    # the dind service, as this machine has it: the TLS engine, whose client directory is CERTDIR/client too
    variables.update(DOCKER_HOST=tls_engine.host, DOCKER_TLS_CERTDIR=tls_engine.certs)
    assert os.path.join(tls_engine.certs, "client") == tls_engine.cert_path
    rule = job["rules"][0]
    assert rule["if"] == "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    variables.update(rule["variables"])  # the default branch: the rule applies
    repo = repository(tmp_path, "python-web")
    ci = {"CI_COMMIT_SHORT_SHA": "test", "CI_REGISTRY": registry, "CI_REGISTRY_IMAGE": f"{registry}/group/app",
          "CI_REGISTRY_USER": "ci", "CI_REGISTRY_PASSWORD": "ci", "CI_PROJECT_DIR": repo}
    # GitLab expands $VARS in variables; bash does the same here, in the order they are written
    prelude = "".join(f'export {k}="{v}"\n' for k, v in variables.items() if k != "SLIM_PACKAGE")
    for line in job["script"]:
        assert not re.search(r"\$\{?CI_(?!COMMIT_SHORT_SHA|REGISTRY)", line), line
    run_steps(job["script"], repo, ci, prelude)
    check_outputs(repo, registry, "group/app")
    with open(os.path.join(repo, "slim-out", "report.json")) as fh:
        report = fh.read()
    assert '"target": "http://127.0.0.1:' in report and "http://127.0.0.1:8080/" not in report  # published ports
    assert job["cache"]["paths"] == [".slim-cache/"]  # what GitLab keeps is where slim wrote its scans
    assert os.path.isfile(os.path.join(repo, ".slim-cache", "python-imports.sqlite"))
    # built, slimmed and verified on the TLS engine (and nowhere else), leaving nothing running there
    assert tls_engine.docker("image", "inspect", "app:test", capture_output=True).returncode == 0
    assert subprocess.run(["docker", "image", "inspect", "app:test"], capture_output=True).returncode != 0
    assert not tls_engine.leftovers()


def github_recipes() -> list[str]:
    return [os.path.join(RECIPES, name) for name in ("github-actions.yml", "github-actions-matrix.yml")]


def test_the_github_recipes_pin_actions_and_keep_tokens_out_of_the_workspace():
    for path in github_recipes():
        doc = recipe(os.path.basename(path))
        assert doc["permissions"] == {}, "nothing by default: each job asks for what it needs"
        with open(path) as fh:
            text = fh.read()
        for job in doc["jobs"].values():
            assert set(job["permissions"]) == {"contents", "packages"}, job["permissions"]
            assert job["permissions"]["contents"] == "read"
            for step in job["steps"]:
                if "uses" not in step:
                    continue
                action, _, ref = step["uses"].partition("@")
                assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{action} is not pinned to a commit: {ref}"
                assert re.search(rf"{re.escape(step['uses'])}  # v\d+\.\d+\.\d+\n", text), "version in a comment"
                if action == "actions/checkout":
                    assert step["with"]["persist-credentials"] is False


def zizmor(*paths: str) -> subprocess.CompletedProcess:
    binary = shutil.which("zizmor", path=os.path.abspath(VENV_BIN))
    assert binary, "zizmor is missing: it comes with slim's test extras (pip install -e '.[test]')"
    return subprocess.run([binary, "--offline", "--no-progress", *paths], capture_output=True, text=True, timeout=120)


def test_zizmor_reports_nothing_on_the_github_recipes(tmp_path):
    done = zizmor(*github_recipes())
    assert done.returncode == 0 and "No findings to report" in done.stdout + done.stderr, done.stdout + done.stderr
    # and it does audit them: the recipe as it was (a movable tag, the token left in the checkout) is reported
    with open(github_recipes()[0]) as fh:
        before = fh.read()
    before = re.sub(r"@[0-9a-f]{40}  # (v\d+)\.\d+\.\d+", r"@\1", before).replace(
        "          persist-credentials: false", "          fetch-depth: 1")
    (tmp_path / "slim.yml").write_text(before)
    done = zizmor(str(tmp_path / "slim.yml"))
    assert done.returncode != 0 and "unpinned-uses" in done.stdout and "artipacked" in done.stdout, done.stdout
