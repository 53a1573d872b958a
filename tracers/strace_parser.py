"""Parse `strace -f -y` output (one file, all processes) into accesses, a process tree and syscall counts.

Pure: lines in, facts out. Handles quoted strings with C escapes, `<unfinished ...>` / `<... resumed>` pairs
from interleaved processes, `-y` fd annotations (`3</etc/passwd>`, `AT_FDCWD</srv/app>`), directory-fd- and
cwd-relative paths, and `execve("/proc/self/exe")`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Iterable

from slim.model import (CHDIR, CREATE, DELETE, EXEC, LISTDIR, READ, READLINK, STAT, WRITE, FileAccess, SlimWarning,
                        ProcessInfo)
from slim.rootfs import normalize

_LINE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(.*)$")
_RESUMED = re.compile(r"^<\.\.\. ([\w]+) resumed>(.*)$")
_UNFINISHED = " <unfinished ...>"

# syscall -> (kind, index of the path argument, index of its directory fd argument or None)
_PATH_CALLS: dict[str, tuple[str, int, int | None]] = {
    **{n: (STAT, 0, None) for n in ("stat", "lstat", "stat64", "lstat64", "access", "statfs", "statfs64",
                                     "getxattr", "lgetxattr", "listxattr", "llistxattr")},
    **{n: (STAT, 1, 0) for n in ("newfstatat", "fstatat64", "statx", "faccessat", "faccessat2")},
    **{n: (WRITE, 0, None) for n in ("truncate", "chmod", "chown", "lchown", "utime", "utimes", "setxattr",
                                      "lsetxattr", "removexattr", "lremovexattr")},
    **{n: (WRITE, 1, 0) for n in ("fchmodat", "fchownat", "utimensat", "futimesat")},
    "readlink": (READLINK, 0, None), "readlinkat": (READLINK, 1, 0),
    "execve": (EXEC, 0, None), "execveat": (EXEC, 1, 0),
    "chdir": (CHDIR, 0, None), "chroot": (STAT, 0, None),
    "mkdir": (CREATE, 0, None), "mkdirat": (CREATE, 1, 0), "mknod": (CREATE, 0, None), "mknodat": (CREATE, 1, 0),
    "unlink": (DELETE, 0, None), "unlinkat": (DELETE, 1, 0), "rmdir": (DELETE, 0, None),
    "symlink": (CREATE, 1, None), "symlinkat": (CREATE, 2, 1),
}
_OPEN_CALLS = {"open": (0, None, 1), "openat": (1, 0, 2), "openat2": (1, 0, 2), "creat": (0, None, None)}
_TWO_PATH_CALLS = {"rename": (0, None, 1, None), "renameat": (1, 0, 3, 2), "renameat2": (1, 0, 3, 2),
                   "link": (0, None, 1, None), "linkat": (1, 0, 3, 2)}
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_FORKS = {"clone", "clone3", "fork", "vfork"}
# identity changes: which users and groups the processes become (for a reduced /etc/passwd and /etc/group)
_UID_CALLS = {"setuid", "setreuid", "setresuid", "setfsuid", "setuid32", "setreuid32", "setresuid32"}
_GID_CALLS = {"setgid", "setregid", "setresgid", "setfsgid", "setgid32", "setregid32", "setresgid32", "setgroups"}


@dataclass
class _Proc:
    pid: int
    ppid: int | None
    cwd: str
    argv: tuple[str, ...] = ()
    exe: str = ""


@dataclass
class ParsedTrace:
    """Everything the strace output of one run showed: files accessed, processes, call counts, the user and group IDs
    switched to and the ports bound (which the run profile and the report read)."""

    accesses: list[FileAccess] = field(default_factory=list)
    processes: list[ProcessInfo] = field(default_factory=list)
    syscalls: dict[str, int] = field(default_factory=dict)
    warnings: list[SlimWarning] = field(default_factory=list)
    uids: set[int] = field(default_factory=set)
    gids: set[int] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)  # ports bound by the traced processes


def parse_strace(lines: Iterable[str], cwd: str = "/", ignore_prefixes: tuple[str, ...] = ()) -> ParsedTrace:
    """Parse strace output. `cwd`: the first process's working directory; paths under `ignore_prefixes`
    (the tracer's own bundle) are dropped."""
    return parse_strace_files([lines], cwd, ignore_prefixes)


def parse_strace_files(files: Iterable[Iterable[str]], cwd: str = "/",
                       ignore_prefixes: tuple[str, ...] = ()) -> ParsedTrace:
    """One result from several outputs (the main run, each traced --exec), each starting in `cwd`."""
    state = _State(cwd or "/", ignore_prefixes)
    for lines in files:
        state.file_start = len(state.order)
        for raw in lines:
            state.line(raw.rstrip("\n"))
    return state.result()


class _State:
    def __init__(self, cwd: str, ignore: tuple[str, ...]):
        self.initial_cwd = cwd
        self.ignore = ignore
        self.procs: dict[int, _Proc] = {}
        self.pending: dict[int, str] = {}
        self.counts: Counter[str] = Counter()
        self.accesses: Counter[tuple[str, str, bool, str]] = Counter()
        self.access_pids: dict[tuple[str, str, bool, str], set[int]] = {}
        self.order: list[int] = []
        self.threads: set[int] = set()
        self.file_start = 0  # index in `order` of the first process of the file being parsed
        self.uids: set[int] = set()
        self.gids: set[int] = set()
        self.ports: set[int] = set()
        self.warnings: list[SlimWarning] = []

    def proc(self, pid: int) -> _Proc:
        if pid not in self.procs:
            # A file's first process starts in `cwd`. A child's first line can come before its parent's clone()
            # returns: until then it takes the cwd of its file's first process.
            first = self.order[self.file_start] if len(self.order) > self.file_start else None
            self.procs[pid] = _Proc(pid, None, self.initial_cwd if first is None else self.procs[first].cwd)
            self.order.append(pid)
        return self.procs[pid]

    def line(self, raw: str) -> None:
        m = _LINE.match(raw)
        if not m:
            if raw.strip():
                self.warnings.append(SlimWarning("strace.unparsed-line", f"unparsed line: {raw[:200]}"))
            return
        pid, rest = int(m.group(1)), m.group(2)
        self.proc(pid)
        if rest.startswith(("---", "+++")):
            return
        resumed = _RESUMED.match(rest)
        if resumed:
            head = self.pending.pop(pid, None)
            if head is None:
                return  # its start was before the trace began
            rest = head + resumed.group(2)
        elif rest.endswith(_UNFINISHED):
            self.pending[pid] = rest[: -len(_UNFINISHED)]
            return
        call = _split_call(rest)
        if call is None:
            return
        name, args, ret = call
        self.counts[name] += 1
        self.handle(pid, name, args, ret)

    def add(self, pid: int, path: str, kind: str, ok: bool, resolved: str = "") -> None:
        if not path or any(path == p or path.startswith(p + "/") for p in self.ignore):
            return
        key = (normalize(path), kind, ok, normalize(resolved) if resolved else "")
        self.accesses[key] += 1
        self.access_pids.setdefault(key, set()).add(pid)

    def absolute(self, pid: int, path: str, dirfd: str | None) -> str:
        if path.startswith("/"):
            return path
        base = None
        if dirfd is not None:
            base = _annotation(dirfd)
        if base is None:
            base = self.proc(pid).cwd
        return base.rstrip("/") + "/" + path if path else base

    def handle(self, pid: int, name: str, args: list[str], ret: str) -> None:
        ok, value, note = _result(ret)
        self.proc(pid)  # every process that made a call is one the trace lists
        if name in _FORKS:
            self._fork(pid, args, ok, value)
        elif name in _UID_CALLS or name in _GID_CALLS:
            self._ids(name, args, ok)
        elif name in _OPEN_CALLS:
            self._open(pid, name, args, ok, note)
        elif name in _TWO_PATH_CALLS:
            self._two_paths(pid, name, args, ok)
        elif name in ("getdents", "getdents64", "fchdir"):
            self._fd_directory(pid, name, args, ok)
        elif name in _PATH_CALLS:
            self._path_call(pid, name, args, ok)
        elif name == "bind" and ok:
            self.ports.update(int(p) for a in args for p in _PORT.findall(a))

    def _fork(self, pid: int, args: list[str], ok: bool, value: str | None) -> None:
        if ok and value and value.isdigit():
            proc, child = self.proc(pid), self.proc(int(value))
            child.ppid, child.cwd, child.argv, child.exe = pid, proc.cwd, proc.argv, proc.exe
            if any("CLONE_THREAD" in a for a in args):
                self.threads.add(child.pid)  # a thread of `pid`, not a process of its own

    def _ids(self, name: str, args: list[str], ok: bool) -> None:
        if not ok:
            return
        ids = {int(x) for a in args for x in re.findall(r"(?<![\w-])\d+", a)}
        if name == "setgroups" and args:
            ids = {int(x) for x in re.findall(r"\d+", args[-1])}
        (self.uids if name in _UID_CALLS else self.gids).update(i for i in ids if i < 0xFFFFFFFF)

    def _open(self, pid: int, name: str, args: list[str], ok: bool, note: str | None) -> None:
        pi, di, fi = _OPEN_CALLS[name]
        path = _string_arg(args, pi)
        if path is None:
            return
        flags = args[fi] if fi is not None and fi < len(args) else "O_WRONLY|O_CREAT"
        kind = CREATE if "O_CREAT" in flags else WRITE if ("O_WRONLY" in flags or "O_RDWR" in flags) else READ
        self.add(pid, self.absolute(pid, path, _arg(args, di)), kind, ok, note or "")

    def _two_paths(self, pid: int, name: str, args: list[str], ok: bool) -> None:
        p1, d1, p2, d2 = _TWO_PATH_CALLS[name]
        old, new = _string_arg(args, p1), _string_arg(args, p2)
        if old is not None:
            self.add(pid, self.absolute(pid, old, _arg(args, d1)), DELETE if name.startswith("rename") else READ, ok)
        if new is not None:
            self.add(pid, self.absolute(pid, new, _arg(args, d2)), CREATE, ok)

    def _fd_directory(self, pid: int, name: str, args: list[str], ok: bool) -> None:
        """getdents lists, fchdir enters the directory an fd names (strace -y shows which)."""
        target = _annotation(_arg(args, 0) or "")
        if not target:
            return
        if name != "fchdir":
            self.add(pid, target, LISTDIR, ok)
        elif ok:
            self.proc(pid).cwd = target
            self.add(pid, target, CHDIR, ok)

    def _path_call(self, pid: int, name: str, args: list[str], ok: bool) -> None:
        kind, pi, di = _PATH_CALLS[name]
        path = _string_arg(args, pi)
        if path is None or (path == "" and di is not None):
            return  # fstatat(fd, "", AT_EMPTY_PATH) is an fstat: no lookup by name
        proc = self.proc(pid)
        full = self.absolute(pid, path, _arg(args, di))
        resolved = ""
        if kind == EXEC:
            if full == "/proc/self/exe" or full == f"/proc/{pid}/exe":
                resolved = proc.exe
            if ok:
                proc.argv = tuple(_string_list(_arg(args, pi + 1) or ""))
                proc.exe = resolved or full
        elif kind == CHDIR and ok:
            proc.cwd = normalize(full)
        self.add(pid, full, kind, ok, resolved)

    def result(self) -> ParsedTrace:
        accesses = [FileAccess(path=p, kind=k, ok=ok, resolved=r, count=n,
                               pids=tuple(sorted(self.access_pids[(p, k, ok, r)])))
                    for (p, k, ok, r), n in sorted(self.accesses.items())]
        processes = [ProcessInfo(p.pid, p.ppid, p.argv, p.exe)
                     for p in (self.procs[i] for i in self.order if i not in self.threads)]
        return ParsedTrace(accesses, processes, dict(sorted(self.counts.items())), self.warnings,
                           self.uids, self.gids, self.ports)


# --- lexical helpers ---------------------------------------------------------------------------

def _split_call(rest: str) -> tuple[str, list[str], str] | None:
    """"name(a, b) = ret" -> ("name", ["a", "b"], "ret"), respecting quotes, nesting and <annotations>."""
    paren = rest.find("(")
    if paren <= 0 or not rest[:paren].replace("_", "").isalnum():
        return None
    name = rest[:paren]
    args, depth, i, start, n = [], 0, paren + 1, paren + 1, len(rest)
    while i < n:
        c = rest[i]
        if c == '"':
            i = _skip_string(rest, i)
            continue
        if c == "<" and i > 0 and (rest[i - 1].isalnum() or rest[i - 1] == "_"):
            i = _skip_annotation(rest, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append(rest[start:i].strip())
                tail = rest[i + 1:].strip()
                ret = tail[1:].strip() if tail.startswith("=") else ""
                return name, [a for a in args if a] if args != [""] else [], ret
            depth -= 1
        elif c == "," and depth == 0:
            args.append(rest[start:i].strip())
            start = i + 1
        i += 1
    return None


def _skip_string(text: str, i: int) -> int:
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            i += 1
            if text.startswith("...", i):
                i += 3
            return i
        i += 1
    return i


def _skip_annotation(text: str, i: int) -> int:
    # `3</a/path>`: strace escapes '<' and '>' inside the path, so the first bare '>' ends it.
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ">":
            return i + 1
        i += 1
    return i


def _arg(args: list[str], index: int | None) -> str | None:
    return args[index] if index is not None and index < len(args) else None


def _string_arg(args: list[str], index: int) -> str | None:
    raw = _arg(args, index)
    if raw is None or not raw.startswith('"'):
        return None
    return _unquote(raw)


def _unquote(raw: str) -> str:
    """A strace-quoted C string -> text (bytes decoded with surrogateescape, as paths are bytes)."""
    end = raw.rfind('"')
    body = raw[1:end] if end > 0 else raw[1:]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        hex_digits = body[i + 2:i + 4]
        if nxt == "x" and len(hex_digits) == 2 and all(h in "0123456789abcdefABCDEF" for h in hex_digits):
            out.append(int(hex_digits, 16))
            i += 4
        elif nxt and nxt in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1:j], 8) & 0xFF)
            i = j
        else:
            # a known C escape, or the character itself (a raw byte kept by surrogateescape included)
            out += {"n": b"\n", "t": b"\t", "r": b"\r", "v": b"\v", "f": b"\f"}.get(
                nxt, nxt.encode("utf-8", "surrogateescape"))
            i += 2
    return out.decode("utf-8", "surrogateescape")


def _annotation(token: str) -> str | None:
    """The path in a `-y` annotation: "3</etc/passwd>" -> "/etc/passwd", "AT_FDCWD</srv>" -> "/srv"."""
    lt = token.find("<")
    if lt < 0 or not token.endswith(">"):
        return None
    inner = token[lt + 1:-1]
    if inner.endswith(" (deleted)"):
        inner = inner[: -len(" (deleted)")]
    if not inner.startswith("/"):
        return None  # socket:[...], pipe:[...], anon_inode:...
    return _unquote('"' + inner + '"')


def _string_list(raw: str) -> list[str]:
    """`["sh", "-c", "x"]` -> ["sh", "-c", "x"]."""
    out, i = [], 0
    while i < len(raw):
        if raw[i] == '"':
            end = _skip_string(raw, i)
            out.append(_unquote(raw[i:end].removesuffix("...")))
            i = end
        else:
            i += 1
    return out


def _result(ret: str) -> tuple[bool, str, str | None]:
    """"3</x>" -> (True, "3", "/x"); "-1 ENOENT (No such file...)" -> (False, "-1", None); "?" -> (True, "?", None)."""
    if ret.startswith("-1 ") or ret == "-1":
        return False, "-1", None
    value = ret.split(" ", 1)[0]
    note = _annotation(value) if "<" in value else None
    return True, value.split("<", 1)[0], note
