"""The Go build information parser on the bytes a real Go 1.19 linker wrote (the .go.buildinfo data of the
go-static sample's server, `go build main.go` on Debian bookworm), and on what a hostile file may hold."""

from __future__ import annotations

import os

from slim.packages.gobuildinfo import MAGIC, GoModule, modules

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "go", "server-buildinfo.bin")


def _real() -> bytes:
    with open(FIXTURE, "rb") as fh:
        return fh.read()


def test_the_modules_of_a_real_binary_as_syft_lists_them():
    # padded to where the linker put it: the magic is 16-byte aligned in the binary
    assert modules(b"\0" * 4096 + _real()) == [GoModule("stdlib", "go1.19.8"),
                                               GoModule("command-line-arguments", "(devel)")]


def test_a_module_build_with_dependencies_and_a_replacement():
    info = ("path\texample.com/app\nmod\texample.com/app\tv1.2.0\th1:x=\ndep\tgolang.org/x/text\tv0.3.0\th1:y=\n"
            "=>\t../text\t(devel)\t\ndep\tgithub.com/a/b\tv2.0.1\th1:z=\nbuild\t-compiler=gc\n")
    wrapped = b"S" * 16 + info.encode() + b"E" * 16
    assert 128 <= len(wrapped) < 16384  # a two-byte uvarint length, as the real one is
    length = bytes([len(wrapped) & 0x7F | 0x80, len(wrapped) >> 7])
    blob = MAGIC + b"\x08\x02" + b"\0" * 16 + bytes([8]) + b"go1.22.1" + length + wrapped
    assert modules(blob) == [GoModule("stdlib", "go1.22.1"), GoModule("example.com/app", "v1.2.0"),
                             GoModule("../text", "(devel)"), GoModule("github.com/a/b", "v2.0.1")]


def test_what_is_no_go_binary_gives_nothing():
    assert modules(b"\x7fELF" + b"\0" * 100) == []
    assert modules(b" " + MAGIC + b"\x08\x02" + b"\0" * 64) == []  # not aligned: the string as data
    assert modules(MAGIC + b"\x08\x00" + b"\0" * 64) == []  # before Go 1.18: pointers, not strings
    assert modules(MAGIC + b"\x08\x02" + b"\0" * 16 + b"\xff\xff\xff\xff\x0f") == []  # a length past the end
