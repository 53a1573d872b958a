"""Standard-library modules of Debian's python3.11 that load by names no import statement spells out: sysconfig
imports `_sysconfigdata_{abiflags}_{multiarch}`, and zoneinfo reads the zone files under its search path. A
handler the probes skip that calls zoneinfo.ZoneInfo("Europe/Paris") must still work in the slim image. The
fixture sources are lines copied from bookworm's files."""

from __future__ import annotations

import io

from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.langs import levels
from tarbuild import layer

LIB = "usr/lib/python3.11"
APP = b'''from flask import Flask
app = Flask(__name__)

@app.route("/tz")
def tz():
    import datetime, zoneinfo
    d = datetime.datetime(2024, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    return d.isoformat() + "\\n"
'''
ZONEINFO_INIT = b'''__all__ = [
    "ZoneInfo",
    "reset_tzpath",
]

from . import _tzpath
from ._common import ZoneInfoNotFoundError
'''
TZPATH = b'''import os
import sysconfig


def reset_tzpath(to=None):
    global TZPATH

    tzpaths = to
    if tzpaths is not None:
        base_tzpath = tzpaths
    else:
        env_var = os.environ.get("PYTHONTZPATH", None)
        if env_var is not None:
            base_tzpath = _parse_python_tzpath(env_var)
        else:
            base_tzpath = _parse_python_tzpath(
                sysconfig.get_config_var("TZPATH")
            )
'''
SYSCONFIG = b'''import os
import sys

def _get_sysconfigdata_name():
    multiarch = getattr(sys.implementation, '_multiarch', '')
    return os.environ.get(
        '_PYTHON_SYSCONFIGDATA_NAME',
        f'_sysconfigdata_{sys.abiflags}_{multiarch}',
    )

def _init_posix(vars):
    """Initialize the module as appropriate for POSIX systems."""
    # _sysconfigdata is generated at build time, see _generate_posix_vars()
    name = _get_sysconfigdata_name()
    _temp = __import__(name, globals(), locals(), ['build_time_vars'], 0)
    build_time_vars = _temp.build_time_vars
    vars.update(build_time_vars)
'''
SYSCONFIGDATA = b"""# system configuration generated and used by the sysconfig module
build_time_vars = {'ABIFLAGS': '',
 'AC_APPLE_UNIVERSAL_BUILD': 0,
 'TZPATH': '/usr/share/zoneinfo:/usr/lib/zoneinfo:/usr/share/lib/zoneinfo:/etc/zoneinfo'}
"""
PARIS = b"TZif2" + b"\0" * 15 + b"\0\0\0\0\0\0\0\r\0\0\0\r\0\0\0\0"  # the start of the real file


def tree(ws, with_zoneinfo: bool = True):
    data = layer(
        ("usr/bin/python3.11", "file", (b"\x7fELF-python", 0o755)),
        (f"{LIB}/os.py", "file", b"import sys\n"),
        (f"{LIB}/datetime.py", "file", b"import time as _time\n"),
        (f"{LIB}/sysconfig.py", "file", SYSCONFIG),
        (f"{LIB}/_sysconfigdata__x86_64-linux-gnu.py", "file", SYSCONFIGDATA),
        (f"{LIB}/_sysconfigdata__linux_x86_64-linux-gnu.py", "symlink", "_sysconfigdata__x86_64-linux-gnu.py"),
        (f"{LIB}/_sysconfig_unrelated.py", "file", b""),
        (f"{LIB}/zoneinfo/__init__.py", "file", ZONEINFO_INIT),
        (f"{LIB}/zoneinfo/_tzpath.py", "file", TZPATH),
        (f"{LIB}/zoneinfo/_common.py", "file", b"import struct\n"),
        *([("usr/share/zoneinfo/Europe/Paris", "file", PARIS),
           ("usr/share/zoneinfo/right/Europe/Paris", "file", PARIS),
           ("usr/share/zoneinfo/Etc/UTC", "file", PARIS),
           ("etc/localtime", "symlink", "/usr/share/zoneinfo/Etc/UTC")] if with_zoneinfo else []),
        ("app/app.py", "file", APP),
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "tz.pack"), "tz")])


def test_a_lazy_zoneinfo_keeps_sysconfigs_data_module_and_the_zone_files(ws):
    out = levels.completion(tree(ws), {"/usr/bin/python3.11", "/app/app.py"}, levels.IMPORTS, {}, [])
    why = {path: reason.text() for path, reason in out.items()}
    assert why[f"/{LIB}/zoneinfo/_tzpath.py"].startswith("imported at")  # the import closure got there
    for name in ("_sysconfigdata__x86_64-linux-gnu.py", "_sysconfigdata__linux_x86_64-linux-gnu.py"):
        assert why[f"/{LIB}/{name}"] == (f"imported at /{LIB}/sysconfig.py by a name built at run time "
                                         "(the build's configuration)")
    assert f"/{LIB}/_sysconfig_unrelated.py" not in out
    zone = f"zone data zoneinfo reads when a zone is loaded by name (/{LIB}/zoneinfo/_tzpath.py)"
    assert why["/usr/share/zoneinfo/Europe/Paris"] == zone and why["/etc/localtime"] == zone
    assert "/usr/share/zoneinfo/right/Europe/Paris" not in out


def test_without_zoneinfo_no_zone_files_and_without_zone_files_nothing_fails(ws):
    out = levels.completion(tree(ws), {"/usr/bin/python3.11", f"/{LIB}/datetime.py"}, levels.IMPORTS, {}, [])
    assert not any(p.startswith("/usr/share/zoneinfo") or "sysconfigdata" in p for p in out)
    out = levels.completion(tree(ws, with_zoneinfo=False), {"/usr/bin/python3.11", "/app/app.py"}, levels.IMPORTS, {}, [])
    assert f"/{LIB}/_sysconfigdata__x86_64-linux-gnu.py" in out
    assert not any(p.startswith("/usr/share/zoneinfo") for p in out)


def test_socket_mimetypes_and_locale_keep_the_files_they_read_on_first_use(ws):
    data = layer(
        (f"{LIB}/socket.py", "file", b"import _socket\nfrom _socket import *\n"),
        (f"{LIB}/mimetypes.py", "file", b'knownfiles = [\n    "/etc/mime.types",\n    "/etc/httpd/mime.types",\n]\n'),
        (f"{LIB}/locale.py", "file", b"import sys\nimport encodings\n"),
        ("etc/services", "file", b"https\t\t443/tcp\n"),
        ("etc/protocols", "file", b"tcp\t6\tTCP\n"),
        ("etc/mime.types", "file", b"image/webp\t\t\t\t\twebp\n"),
        ("usr/lib/locale/C.utf8/LC_CTYPE", "file", b"\x00" * 16),
        ("usr/lib/locale/C.utf8/LC_TIME", "file", b"\x00" * 16),
        ("usr/lib/locale/de_DE.utf8/LC_TIME", "file", b"\x00" * 16),
    )
    root = flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "data.pack"), "data")])
    out = levels.stdlib_named_at_run_time(root, {f"/{LIB}/socket.py", f"/{LIB}/mimetypes.py"}, "3.11")
    assert sorted(out) == ["/etc/mime.types", "/etc/protocols", "/etc/services"]
    assert out["/etc/mime.types"].text() == f"the types mimetypes.init reads on the first guess (/{LIB}/mimetypes.py)"
    out = levels.stdlib_named_at_run_time(root, {f"/{LIB}/locale.py"}, "3.11")
    assert sorted(out) == ["/usr/lib/locale/C.utf8/LC_CTYPE", "/usr/lib/locale/C.utf8/LC_TIME"]
    assert levels.stdlib_named_at_run_time(root, {f"/{LIB}/os.py"}, "3.11") == {}
