"""The resolver against the real glibc loader, on real gcc-built fixtures in a throwaway root (chroot as oracle)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from elfroot import base_root, compile_exe, compile_so, loader_list, rootfs_of, strip_section_headers
from slim.closure.walk import NEEDED, closure_of
from slim.closure.elf.reader import read_elf
from slim.closure.elf.resolver import Resolver

LIB = "int %s(void) { return %d; }\n"
MAIN = "int a(void); int main(void) { return a(); }\n"
MULTILIB = shutil.which("gcc") and os.path.isdir("/usr/lib/gcc/x86_64-linux-gnu/12/32")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = str(tmp_path_factory.mktemp("elfroot"))
    base_root(r)
    # b lives only in /opt/app/lib; a needs b.
    compile_so(r, "/opt/app/lib/libb.so", LIB % ("b", 2))
    compile_so(r, "/opt/app/lib/liba.so", "int b(void); int a(void) { return b(); }\n", f"-L{r}/opt/app/lib", "-lb")
    flags = [f"-L{r}/opt/app/lib", "-la"]
    # RPATH is inherited by what the app loads: liba finds libb through the app's RPATH.
    compile_exe(r, "/opt/app/bin/rpath-app", MAIN, *flags, "-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib")
    # RUNPATH is not: liba cannot find libb.
    compile_exe(r, "/opt/app/bin/runpath-app", MAIN, *flags, "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib")
    # $LIB and $PLATFORM tokens.
    compile_so(r, "/opt/tok/lib/x86_64-linux-gnu/libt.so", LIB % ("t", 3))
    compile_so(r, f"/opt/plat/{host_platform()}/libp.so", LIB % ("p", 4))
    compile_exe(r, "/opt/tok/bin/tokens", "int t(void); int p(void); int main(void){return t()+p();}\n",
                f"-L{r}/opt/tok/lib/x86_64-linux-gnu", "-lt", f"-L{r}/opt/plat/{host_platform()}", "-lp",
                "-Wl,-rpath,/opt/tok/$LIB:/opt/plat/${PLATFORM}")
    # DF_1_NODEFLIB (GNU ld spells it -z nodefaultlib): what such a library needs is not looked for in the
    # cache or the default directories.
    compile_so(r, "/usr/lib/libdef.so", LIB % ("d", 5))
    compile_so(r, "/opt/nodef/lib/libnodef.so", "int d(void); int a(void) { return d(); }\n", f"-L{r}/usr/lib",
               "-ldef", "-Wl,-z,nodefaultlib")
    compile_exe(r, "/opt/nodef/nodef", MAIN, f"-L{r}/opt/nodef/lib", "-lnodef", "-Wl,-rpath,/opt/nodef/lib",
                f"-Wl,-rpath-link,{r}/usr/lib")
    compile_exe(r, "/opt/nodef/withdef", "int d(void); int main(void) { return d(); }\n", f"-L{r}/usr/lib", "-ldef")
    # LD_LIBRARY_PATH.
    compile_so(r, "/opt/llp/libllp.so", LIB % ("a", 6))
    compile_exe(r, "/opt/llp/app", MAIN, f"-L{r}/opt/llp", "-lllp")
    # No section headers at all.
    stripped = compile_exe(r, "/opt/app/bin/nosections", MAIN, *flags, "-Wl,--disable-new-dtags",
                           "-Wl,-rpath,$ORIGIN/../lib")
    strip_section_headers(stripped)
    # ld.so.conf with an include glob, made into a real ld.so.cache by ldconfig; plus a glibc-hwcaps build.
    compile_so(r, "/opt/conf/lib/libconf.so.1", LIB % ("a", 7), "-Wl,-soname,libconf.so.1")
    compile_exe(r, "/opt/conf/app", MAIN, f"-L{r}/opt/conf/lib", "-l:libconf.so.1")
    compile_so(r, "/usr/lib/x86_64-linux-gnu/libhw.so.1", LIB % ("a", 8), "-Wl,-soname,libhw.so.1")
    compile_so(r, "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v2/libhw.so.1", LIB % ("a", 9), "-Wl,-soname,libhw.so.1")
    compile_exe(r, "/opt/hw/app", MAIN, f"-L{r}/usr/lib/x86_64-linux-gnu", "-l:libhw.so.1")
    os.makedirs(f"{r}/etc/ld.so.conf.d")
    with open(f"{r}/etc/ld.so.conf", "w") as fh:
        fh.write("# as Debian ships it\ninclude /etc/ld.so.conf.d/*.conf\n")
    with open(f"{r}/etc/ld.so.conf.d/zz-custom.conf", "w") as fh:
        fh.write("/opt/conf/lib\n")
    with open(f"{r}/etc/ld.so.conf.d/x86_64-linux-gnu.conf", "w") as fh:
        fh.write("# Multiarch support\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n")
    subprocess.run(["ldconfig", "-r", r], check=True)
    if MULTILIB:
        # A 32-bit decoy found first in the RPATH must be skipped for the 64-bit one further on.
        compile_so(r, "/opt/decoy/first/libdecoy.so", LIB % ("a", 10), "-m32")
        compile_so(r, "/opt/decoy/second/libdecoy.so", LIB % ("a", 11))
        compile_exe(r, "/opt/decoy/app", MAIN, f"-L{r}/opt/decoy/second", "-ldecoy",
                    "-Wl,-rpath,/opt/decoy/first:/opt/decoy/second")
    return r


def host_platform() -> str:
    """AT_PLATFORM of this CPU as the loader reports it ("haswell", "x86_64"...)."""
    out = subprocess.run(["/lib64/ld-linux-x86-64.so.2", "--list-diagnostics"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("dl_platform="):
            return line.split("=", 1)[1].strip('"')
    return "x86_64"


def ours(root_dir: str, path: str, env=None) -> dict[str, str | None]:
    result = Resolver(rootfs_of(root_dir), env or {}).resolve(path)
    out: dict[str, str | None] = {o.name: o.path for o in result.objects}
    out.update({name: None for name, _ in result.missing})
    if result.interpreter:
        out[result.interpreter.path] = result.interpreter.path
    return out


def same_files(root_dir: str, a: dict, b: dict) -> None:
    """Equal names, and each name mapped to the same file (paths compared after resolving links)."""
    assert set(a) == set(b), f"slim {sorted(a)} vs loader {sorted(b)}"
    for name in a:
        left = os.path.realpath(root_dir + a[name]) if a[name] else None
        right = os.path.realpath(root_dir + b[name]) if b[name] else None
        assert left == right, f"{name}: slim {a[name]} vs loader {b[name]}"


@pytest.mark.parametrize("app", [
    "/opt/app/bin/rpath-app", "/opt/app/bin/runpath-app", "/opt/tok/bin/tokens", "/opt/nodef/nodef",
    "/opt/nodef/withdef", "/opt/app/bin/nosections", "/opt/conf/app", "/opt/hw/app", "/opt/llp/app",
])
def test_resolution_matches_the_real_loader(root, app):
    same_files(root, ours(root, app), loader_list(root, app))


def test_the_fixtures_exercise_what_they_claim(root):
    assert loader_list(root, "/opt/app/bin/runpath-app")["libb.so"] is None  # RUNPATH not inherited
    assert loader_list(root, "/opt/app/bin/rpath-app")["libb.so"] == "/opt/app/bin/../lib/libb.so"
    assert loader_list(root, "/opt/nodef/nodef")["libdef.so"] is None
    assert loader_list(root, "/opt/nodef/withdef")["libdef.so"] in ("/lib/libdef.so", "/usr/lib/libdef.so")
    assert "glibc-hwcaps/x86-64-v2" in loader_list(root, "/opt/hw/app")["libhw.so.1"]
    assert loader_list(root, "/opt/llp/app")["libllp.so"] is None


def test_ld_library_path_from_the_image_env(root):
    env = {"LD_LIBRARY_PATH": "/opt/llp"}
    same_files(root, ours(root, "/opt/llp/app", env), loader_list(root, "/opt/llp/app", env))
    assert ours(root, "/opt/llp/app", env)["libllp.so"] == "/opt/llp/libllp.so"


def test_a_32_bit_decoy_is_skipped(root):
    assert MULTILIB, "gcc-multilib is missing: scripts/setup installs it"
    same_files(root, ours(root, "/opt/decoy/app"), loader_list(root, "/opt/decoy/app"))
    assert ours(root, "/opt/decoy/app")["libdecoy.so"] == "/opt/decoy/second/libdecoy.so"


def test_without_a_cache_ld_so_conf_dirs_are_searched(root, tmp_path):
    shutil.copytree(root, tmp_path / "r", symlinks=True)
    os.unlink(tmp_path / "r/etc/ld.so.cache")
    assert ours(str(tmp_path / "r"), "/opt/conf/app")["libconf.so.1"] == "/opt/conf/lib/libconf.so.1"


def test_section_headers_are_not_needed(root):
    with open(root + "/opt/app/bin/nosections", "rb") as fh:
        info = read_elf(fh, os.path.getsize(root + "/opt/app/bin/nosections"))
    assert info.needed == ("liba.so", "libc.so.6") and info.rpath == ("$ORIGIN/../lib",)
    assert info.interpreter == "/lib64/ld-linux-x86-64.so.2"


def test_closure_keeps_links_targets_and_reasons(root):
    closure = closure_of(rootfs_of(root), ["/opt/app/bin/rpath-app"])
    files = closure.files()
    for path in ("/lib64", "/usr/lib64/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                 "/opt/app/lib/liba.so", "/opt/app/lib/libb.so", "/usr/lib/x86_64-linux-gnu/libc.so.6"):
        assert path in files, path
    assert any(r.kind == NEEDED and r.of == "/opt/app/lib/liba.so" for r in closure.keep["/opt/app/lib/libb.so"])
    assert "/opt" in closure.paths() and "/opt" not in files  # a parent, listed only with --json
    assert closure_of(rootfs_of(root), ["/opt/app/bin/runpath-app"]).missing_libraries == [("libb.so", "/opt/app/lib/liba.so")]
