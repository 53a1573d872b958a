"""Pure parsers of the static closure: ld.so.cache, ld.so.conf, #! lines; the ELF reader under random bytes."""

from __future__ import annotations

import io
import os
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from elfroot import compile_so, rootfs_of
from slim.closure.elf.ldcache import LdCacheError, parse_ld_cache
from slim.closure.elf.ldconf import ld_conf_dirs, parse_ld_conf_text
from slim.closure.elf.reader import ElfError, read_elf
from slim.closure.shebang import env_command, parse_shebang

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
SEED_PATH = "/usr/lib/x86_64-linux-gnu/libz.so.1" if os.path.exists("/usr/lib/x86_64-linux-gnu/libz.so.1") else "/bin/true"
with open(SEED_PATH, "rb") as _seed:
    SEED_ELF = _seed.read()


def test_debian_ld_so_conf_tree():
    # Debian's own files, copied: include glob, then the multiarch and /usr/local directories.
    root = rootfs_of(FIXTURES)
    assert ld_conf_dirs(root, "/etc/ld.so.conf") == ["/usr/local/lib", "/usr/local/lib/x86_64-linux-gnu",
                                                     "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"]


def test_ld_so_conf_syntax():
    text = "# comment\ninclude a/*.conf b.conf\nhwcap 1 tls\n/opt/x:/opt/y, /opt/z=libc6  # trailing\n/opt/w/\n"
    assert parse_ld_conf_text(text) == [("include", "a/*.conf"), ("include", "b.conf"), ("dir", "/opt/x"),
                                        ("dir", "/opt/y"), ("dir", "/opt/z"), ("dir", "/opt/w")]


def test_a_cache_written_by_ldconfig_with_hwcaps(tmp_path):
    root = str(tmp_path)
    compile_so(root, "/opt/c/lib/libc1.so.1", "int f(void){return 1;}", "-Wl,-soname,libc1.so.1")
    compile_so(root, "/opt/c/lib/glibc-hwcaps/x86-64-v3/libc1.so.1", "int f(void){return 3;}", "-Wl,-soname,libc1.so.1")
    os.makedirs(f"{root}/etc")
    with open(f"{root}/etc/ld.so.conf", "w") as fh:
        fh.write("/opt/c/lib\n")
    subprocess.run(["ldconfig", "-r", root], check=True)
    with open(f"{root}/etc/ld.so.cache", "rb") as fh:
        entries = [e for e in parse_ld_cache(fh) if e.name == "libc1.so.1"]
    assert {(e.path, e.hwcaps, e.flags) for e in entries} == {
        ("/opt/c/lib/libc1.so.1", None, 0x303), ("/opt/c/lib/glibc-hwcaps/x86-64-v3/libc1.so.1", "x86-64-v3", 0x303)}


def test_the_host_cache_parses():
    with open("/etc/ld.so.cache", "rb") as fh:
        entries = parse_ld_cache(fh)
    assert any(e.name == "libc.so.6" and e.path.endswith("/libc.so.6") for e in entries)


@given(st.binary(max_size=4096))
@settings(max_examples=300, deadline=None)
def test_cache_parser_never_crashes(data):
    try:
        parse_ld_cache(io.BytesIO(b"glibc-ld.so.cache1.1" + data))
    except LdCacheError:
        pass


@given(st.data())
@settings(max_examples=500, deadline=None)
def test_elf_reader_survives_mutated_and_truncated_real_files(data):
    blob = bytearray(SEED_ELF[: data.draw(st.integers(0, len(SEED_ELF)))])
    for _ in range(data.draw(st.integers(0, 30))):
        if blob:
            pos = data.draw(st.integers(0, min(len(blob), 8192) - 1))
            blob[pos] = data.draw(st.integers(0, 255))
    try:
        info = read_elf(io.BytesIO(bytes(blob)), len(blob))
        assert isinstance(info.needed, tuple)
    except ElfError:
        pass


@given(st.binary(max_size=2048))
@settings(max_examples=300, deadline=None)
def test_elf_reader_survives_random_bytes_behind_a_valid_magic(tail):
    data = b"\x7fELF" + tail
    try:
        read_elf(io.BytesIO(data), len(data))
    except ElfError:
        pass


def test_reader_rejects_non_elf_and_truncation_clearly():
    for data in (b"#!/bin/sh\n", SEED_ELF[:40], SEED_ELF[:200]):
        try:
            read_elf(io.BytesIO(data), len(data))
            raise AssertionError("should have failed")
        except ElfError as exc:
            assert str(exc)


def test_shebang_lines():
    assert parse_shebang(b"#!/bin/sh\necho") == ("/bin/sh", None)
    assert parse_shebang(b"#! /usr/bin/python3 -u -O\n") == ("/usr/bin/python3", "-u -O")
    assert parse_shebang(b"#!/usr/bin/env -S node --max-old-space-size=64\n") == ("/usr/bin/env", "-S node --max-old-space-size=64")
    assert parse_shebang(b"#!\n") is None and parse_shebang(b"\x7fELF") is None
    assert env_command("python3") == "python3"
    assert env_command("-S node --max-old-space-size=64") == "node"
    assert env_command("-u HOME LANG=C perl -w") == "perl"
