"""Symlink resolution inside an image root, never the host's."""

from slim.model import DIR, FILE, SYMLINK, Entry
from slim.rootfs import RootFS


def fs(**links):
    entries = {p: Entry(p, DIR) for p in ["/", "/usr", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/etc"]}
    entries["/usr/lib/x86_64-linux-gnu/libc.so.6"] = Entry("/usr/lib/x86_64-linux-gnu/libc.so.6", FILE)
    for path, target in links.items():
        path = "/" + path.replace("__", "/")
        entries[path] = Entry(path, SYMLINK, linkname=target)
    return RootFS(entries)


def test_merged_usr_link_chain_is_followed_and_recorded():
    root = fs(lib="usr/lib", lib64="/usr/lib/x86_64-linux-gnu")
    res = root.resolve("/lib/x86_64-linux-gnu/libc.so.6")
    assert res.path == "/usr/lib/x86_64-linux-gnu/libc.so.6" and res.symlinks == ("/lib",)
    assert root.realpath("/lib64/libc.so.6") == "/usr/lib/x86_64-linux-gnu/libc.so.6"


def test_dotdot_never_climbs_above_the_root():
    root = fs(etc__up="../../../../../usr/lib")
    assert root.realpath("/etc/up/x86_64-linux-gnu/libc.so.6") == "/usr/lib/x86_64-linux-gnu/libc.so.6"


def test_loops_and_dangling_links_resolve_to_nothing():
    root = fs(a="/b", b="/a", dangling="/nowhere")
    assert root.stat("/a") is None
    assert root.resolve("/dangling").path == "/nowhere" and not root.exists("/dangling")
    assert root.lstat("/dangling").is_symlink


def test_lookup_through_a_file_is_enotdir():
    root = fs()
    assert root.stat("/usr/lib/x86_64-linux-gnu/libc.so.6/x") is None


def test_follow_last_false_stops_at_the_link():
    root = fs(lib="usr/lib")
    assert root.resolve("/lib", follow_last=False).path == "/lib"


def test_remembered_directories_resolve_exactly_as_the_full_walk():
    # resolve() remembers how each parent directory resolves; the answer must be the component-by-component walk's
    root = fs(lib="usr/lib", lib64="/usr/lib/x86_64-linux-gnu", a="/b", b="/a", dangling="/nowhere",
              usr__lib__x86_64_linux_gnu__libc_link="libc.so.6", etc__up="../../../../../usr/lib")
    names = ["", "lib", "lib64", "usr", "usr/lib", "etc", "etc/up", "a", "b", "dangling", "nowhere",
             "usr/lib/x86_64-linux-gnu", "x86_64-linux-gnu", "libc.so.6", "libc_link", "missing", ".", ".."]
    paths = {f"/{x}/{y}/{z}".replace("//", "/") for x in names for y in names for z in names}
    for path in sorted(paths):
        for follow_last in (True, False):
            norm = "/" + "/".join(p for p in path.split("/") if p not in ("", "."))
            assert root.resolve(path, follow_last) == root._walk(norm, follow_last), (path, follow_last)
