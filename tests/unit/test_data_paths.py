"""Data files binaries name (slim.closure.data_paths): real gcc-compiled programs whose read-only data names
the zone database and a CA bundle, the host's glibc (which names them all and must not count), a copy with its
section headers stripped, and pyelftools as the oracle for which bytes are read-only data."""

from __future__ import annotations

import os
import shutil

import pytest

from elfroot import base_root, compile_exe, rootfs_of, strip_section_headers
from slim.closure.data_paths import RULES, Scanner, data_named
from slim.closure.elf.reader import read_only_data

NAMES_TZ_AND_CA = r"""
#include <stdio.h>
static const char *const zones = "/usr/share/zoneinfo/";
static const char *const bundle = "/etc/ssl/certs/ca-certificates.crt";
int main(int argc, char **argv) { puts(argc > 1 ? zones : bundle); return 0; }
"""
NAMES_NOTHING = "int main(void) { return 0; }\n"
NAMES_CA_DIR_ONLY = r"""
#include <stdio.h>
int main(void) { puts("/etc/ssl/certs"); return 0; }
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    top = str(tmp_path_factory.mktemp("data-root"))
    base_root(top)
    compile_exe(top, "/usr/bin/tzca", NAMES_TZ_AND_CA)
    compile_exe(top, "/usr/bin/plain", NAMES_NOTHING)
    compile_exe(top, "/usr/bin/cadir", NAMES_CA_DIR_ONLY)
    shutil.copy(f"{top}/usr/bin/tzca", f"{top}/usr/bin/tzca-nosections")
    strip_section_headers(f"{top}/usr/bin/tzca-nosections")
    shutil.copy(f"{top}/usr/bin/tzca", f"{top}/usr/lib/x86_64-linux-gnu/libicuuc.so.72")
    for rel, data in (("usr/share/zoneinfo/Europe/Paris", b"TZif2" + b"\0" * 40),
                      ("usr/share/zoneinfo/UTC", b"TZif2" + b"\0" * 20),
                      ("usr/share/zoneinfo/right/UTC", b"TZif2 with leap seconds"),
                      ("etc/ssl/certs/ca-certificates.crt", b"-----BEGIN CERTIFICATE-----\n" * 4),
                      ("usr/share/ca-certificates/a.crt", b"-----BEGIN CERTIFICATE-----\n"),
                      ("etc/services", b"http 80/tcp\n")):
        os.makedirs(os.path.dirname(f"{top}/{rel}"), exist_ok=True)
        with open(f"{top}/{rel}", "wb") as fh:
            fh.write(data)
    os.symlink("/usr/share/ca-certificates/a.crt", f"{top}/etc/ssl/certs/a.pem")
    return top


def test_read_only_data_is_what_pyelftools_calls_allocated_read_only_sections(root):
    from elftools.elf.elffile import ELFFile

    for rel in ("usr/bin/tzca", "usr/lib/x86_64-linux-gnu/libc.so.6"):
        with open(f"{root}/{rel}", "rb") as fh:
            want = sorted((s["sh_offset"], s["sh_size"]) for s in ELFFile(fh).iter_sections()
                          if s["sh_flags"] & 0x2 and not s["sh_flags"] & 0x5 and s["sh_type"] != "SHT_NOBITS"
                          and s["sh_size"])
            got = sorted(read_only_data(fh, os.path.getsize(fh.name)))
        assert got == want and any(size > 100 for _, size in got), rel


def test_a_program_keeps_the_data_it_names_and_the_image_has(root):
    fs = rootfs_of(root)
    found = data_named(fs, ["/usr/bin/tzca", "/usr/bin/plain"])
    # the leap-second variants under right/ are left out
    assert found.by_rule["zoneinfo"] == {"/usr/share/zoneinfo", "/usr/share/zoneinfo/Europe",
                                         "/usr/share/zoneinfo/Europe/Paris", "/usr/share/zoneinfo/UTC"}
    assert found.by_rule["ca-bundle"] == {"/etc/ssl/certs/ca-certificates.crt"}
    # the bundle holds the roots: the directory beside it is not kept as well
    assert "ca-directory" not in found.by_rule and "services" not in found.by_rule
    assert found.paths["/usr/share/zoneinfo/UTC"] == [("zoneinfo", "/usr/bin/tzca")]


def test_without_section_headers_the_read_only_segments_are_read(root):
    fs = rootfs_of(root)
    assert Scanner().named(fs, "/usr/bin/tzca-nosections") >= {"/usr/share/zoneinfo/",
                                                                "/etc/ssl/certs/ca-certificates.crt"}


def test_the_c_runtime_and_icu_name_data_that_does_not_count(root):
    """glibc names the zone database, locale archive and NSS files for tzset, setlocale and getservbyname: were
    they counted, every dynamically linked image would keep the zone database. ICU's zones are its own."""
    fs = rootfs_of(root)
    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    with open(f"{root}{libc}", "rb") as fh:
        assert b"/usr/share/zoneinfo" in fh.read()  # the fact that makes the rule necessary
    assert data_named(fs, [libc, "/usr/lib/x86_64-linux-gnu/libicuuc.so.72"]).by_rule.keys() == {"ca-bundle"}


def test_a_static_binary_with_glibc_inside_drops_the_c_runtime_paths(root, tmp_path):
    exe = compile_exe(str(tmp_path), "/static-tz", NAMES_TZ_AND_CA, "-static")
    with open(exe, "rb") as fh:
        named = Scanner()._scan(fh, read_only_data(fh, os.path.getsize(exe)))
    assert "/usr/share/zoneinfo/" not in named and "/etc/ssl/certs/ca-certificates.crt" in named


def test_the_certificate_directory_is_kept_where_no_bundle_is(root, tmp_path):
    top = str(tmp_path / "r")
    shutil.copytree(root, top, symlinks=True)
    os.unlink(f"{top}/etc/ssl/certs/ca-certificates.crt")
    found = data_named(rootfs_of(top), ["/usr/bin/cadir", "/usr/bin/tzca"])
    assert found.by_rule["ca-directory"] == {"/etc/ssl/certs", "/etc/ssl/certs/a.pem"}
    assert found.paths["/etc/ssl/certs/a.pem"] == [("ca-directory", "/usr/bin/cadir"), ("ca-directory", "/usr/bin/tzca")]


def test_every_rule_says_who_reads_it_why_and_its_cap():
    assert len({r.name for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.paths and rule.runtimes and rule.why and 0 < rule.cap <= 64 << 20
        assert not rule.fallback_of or rule.fallback_of in {r.name for r in RULES}


def plan(fs, **caps):
    from slim.checks.users import read_accounts
    from slim.model import EXEC, FileAccess, RunConfig, Trace
    from slim.plan import data
    from slim.plan.keep import PlanOptions, plan_keep

    trace = Trace(accesses=(FileAccess("/usr/bin/tzca", EXEC, True),), argv=("/usr/bin/tzca",))
    old = dict(data._CAPS)
    data._CAPS.update(caps)
    try:
        return plan_keep(fs, RunConfig(), trace, read_accounts(fs), PlanOptions())
    finally:
        data._CAPS.clear()
        data._CAPS.update(old)


def test_the_plan_says_which_binary_named_the_data_and_what_each_rule_cost(root):
    keep = plan(rootfs_of(root))
    assert [r.text() for r in keep.reasons["/usr/share/zoneinfo/Europe/Paris"]] == \
        ["data named by /usr/bin/tzca (zoneinfo)"]
    assert keep.category("/usr/share/zoneinfo/Europe/Paris") == "closure"
    assert keep.data_named == {"ca-bundle": 112, "zoneinfo": 45 + 25}
    assert "/etc/services" not in keep.reasons  # in the image, but named only by libc
    assert not [w for w in keep.warnings if w.code == "closure.data-cap"]


def test_a_rule_over_its_cap_keeps_nothing_and_says_so(root):
    keep = plan(rootfs_of(root), zoneinfo=64)
    assert "/usr/share/zoneinfo/UTC" not in keep.reasons and "zoneinfo" not in keep.data_named
    assert [w.message for w in keep.warnings if w.code == "closure.data-cap"] == [
        "zoneinfo data named by /usr/bin/tzca: 70 bytes, over the rule's cap of 64: not kept; keep what the app "
        "reads with --include-path"]


def test_truncated_or_hostile_headers_give_an_error_not_a_crash(root):
    import io
    import struct

    from slim.closure.elf.reader import ElfError

    with open(f"{root}/usr/bin/tzca", "rb") as fh:
        good = fh.read()
    hostile = bytearray(good)
    struct.pack_into("<HH", hostile, 0x3A, 64, 0xFFFF)  # 65535 section headers: far past the end of the file
    for data in (good[:200], good[:63], bytes(hostile)):
        with pytest.raises(ElfError):
            read_only_data(io.BytesIO(data), len(data))


# The strings Debian bookworm's libcrypto.so.3 carries for its OPENSSLDIR; its cert.pem is a link to the bundle
NAMES_OPENSSLDIR = r"""
#include <stdio.h>
static const char *const names[] = {"/usr/lib/ssl", "/usr/lib/ssl/cert.pem", "/usr/lib/ssl/certs", "/usr/lib/ssl/ct"};
int main(int argc, char **argv) { puts(names[argc % 4]); return 0; }
"""


def test_debians_openssl_default_file_keeps_the_bundle_it_links_to(root, tmp_path):
    top = str(tmp_path / "r")
    shutil.copytree(root, top, symlinks=True)
    compile_exe(top, "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", NAMES_OPENSSLDIR)
    os.makedirs(f"{top}/usr/lib/ssl")
    os.symlink("/etc/ssl/certs/ca-certificates.crt", f"{top}/usr/lib/ssl/cert.pem")
    os.symlink("/etc/ssl/certs", f"{top}/usr/lib/ssl/certs")
    found = data_named(rootfs_of(top), ["/usr/lib/x86_64-linux-gnu/libcrypto.so.3"])
    # the link; the plan keeps what it points to as the link's closure
    assert found.by_rule == {"ca-bundle": {"/usr/lib/ssl/cert.pem"}}
