"""A Perl module that loads another by a name computed at run time inside an eval string with an unusual
delimiter (Text::CSV: `eval qq| use $module $version |`): the traced run never takes the code path that loads
Text::CSV, yet the slim image must still find Text::CSV's backend there."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from slim.cli import main
from tests.integration.conftest import built_image, run_output

pytestmark = pytest.mark.docker

@pytest.fixture(scope="module")
def perl_csv(engine):
    with built_image("perl-csv-backend") as tag:
        yield tag


def test_a_backend_named_at_run_time_is_kept(engine, perl_csv, scratch_tags, tmp_path, no_leftovers):
    out = "slim-test/perl-csv-backend:slim"
    scratch_tags.append(out)
    result = CliRunner().invoke(main, ["-q", "build", perl_csv, "-t", out, "--report", str(tmp_path / "r.json"),
                                       "--no-harden", "--continue-after", "exit"])
    assert result.exit_code == 0, result.output + result.stderr
    assert run_output(engine, perl_csv, "csv") == b'a,"b,c" Text::CSV_PP\n'
    assert run_output(engine, out, "csv") == b'a,"b,c" Text::CSV_PP\n'
    report = json.loads((tmp_path / "r.json").read_text())
    kept = {p["path"]: p["reasons"] for p in report["keep"]["paths"]}
    assert any("/usr/share/perl5/Text kept whole: /usr/share/perl5/Text/CSV.pm:" in r
               for r in kept["/usr/share/perl5/Text/CSV_PP.pm"]), kept.get("/usr/share/perl5/Text/CSV_PP.pm")
