import pytest

from slim.cli import default_tag
from slim.errors import UsageError
from slim.image.reference import parse_reference
from slim.image.sink import parse_output


@pytest.mark.parametrize("text,transport,location,tag", [
    ("nginx", "docker", "nginx:latest", None),
    ("docker://web:1.2", "docker", "web:1.2", None),
    ("localhost:5000/app", "docker", "localhost:5000/app:latest", None),
    ("docker-archive:/tmp/x.tar", "docker-archive", "/tmp/x.tar", None),
    ("docker-archive:/tmp/x.tar:web:1", "docker-archive", "/tmp/x.tar:web", "1"),
    ("oci:/tmp/layout:v2", "oci", "/tmp/layout", "v2"),
])
def test_references(text, transport, location, tag):
    ref = parse_reference(text)
    assert (ref.transport, ref.location, ref.tag) == (transport, location, tag)


@pytest.mark.parametrize("bad", ["", "has space", "oci:"])
def test_bad_references(bad):
    with pytest.raises(UsageError):
        parse_reference(bad)


def test_outputs_and_default_tags():
    assert parse_output("docker").kind == "docker"
    assert parse_output("oci:/x").path == "/x"
    with pytest.raises(UsageError):
        parse_output("s3:bucket")
    assert default_tag("web:1.2", "slim") == "web:1.2-slim"
    assert default_tag("localhost:5000/app", "slim") == "localhost:5000/app:latest-slim"
    assert default_tag("web@sha256:" + "a" * 64, "slim") == "web:slim"
    with pytest.raises(UsageError, match="--tag"):
        default_tag("sha256:" + "b" * 64, "slim")


def test_archive_tag_may_hold_a_colon_when_the_file_exists(tmp_path):
    archive = tmp_path / "x.tar"
    archive.write_bytes(b"")
    ref = parse_reference(f"docker-archive:{archive}:web:1")
    assert (ref.location, ref.tag) == (str(archive), "web:1")
