"""Script interpreters: the `#!` line as the kernel reads it, and `/usr/bin/env NAME` resolved through PATH."""

from __future__ import annotations

import posixpath

SHEBANG_LIMIT = 256  # the kernel reads this much of a script's first line (BINPRM_BUF_SIZE)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def parse_shebang(head: bytes) -> tuple[str, str | None] | None:
    """(interpreter, optional single argument) from a file's first bytes, or None when it is no script.

    Linux passes everything after the interpreter, trimmed, as one argument: "#!/bin/sh -e -x" -> ("/bin/sh", "-e -x").
    """
    if not head.startswith(b"#!"):
        return None
    line = head[2:SHEBANG_LIMIT].split(b"\n", 1)[0].strip(b" \t\r")
    if not line:
        return None
    parts = line.replace(b"\t", b" ").split(b" ", 1)
    interpreter = parts[0].decode("utf-8", "surrogateescape")
    arg = parts[1].strip(b" ").decode("utf-8", "surrogateescape") if len(parts) > 1 and parts[1].strip(b" ") else None
    return interpreter, arg


def env_command(arg: str | None) -> str | None:
    """The command `env` runs for a `#!/usr/bin/env ARG` line: "python3", "-S node --flag" -> "node"."""
    if not arg:
        return None
    words = arg.split()
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-u", "--unset", "-C", "--chdir"):
            i += 2
            continue
        if word == "--":
            i += 1
            break
        if word.startswith("-") or "=" in word:
            i += 1
            continue
        break
    return words[i] if i < len(words) else None


def which(rootfs, command: str, path_var: str | None) -> str | None:
    """The first executable file named `command` in PATH, looked up inside the image root."""
    if "/" in command:
        return command if rootfs.is_file(command) else None
    for directory in (path_var or DEFAULT_PATH).split(":"):
        if not directory:
            continue
        candidate = posixpath.join(directory, command)
        entry = rootfs.stat(candidate)
        if entry is not None and entry.is_file and entry.mode & 0o111:
            return candidate
    return None
