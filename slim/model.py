"""Plain frozen values handed from one stage of slim to the next."""

from __future__ import annotations

from dataclasses import dataclass, field

# Entry kinds. Hardlinks are not a kind of their own once flattened: they are files sharing one blob.
FILE = "file"
DIR = "dir"
SYMLINK = "symlink"
CHAR = "char"
BLOCK = "block"
FIFO = "fifo"
HARDLINK = "hardlink"  # only inside an unpacked layer, before flattening resolves it

PSEUDO_FILESYSTEMS = ("/proc", "/sys", "/dev")  # the container runtime mounts these; no image provides them


def below(path: str, directory: str) -> bool:
    """Whether `path` is strictly inside `directory` ("/a/b" is below "/a" and "/"; "/ab" is not below "/a")."""
    return path != directory and path.startswith(directory.rstrip("/") + "/")


def within(path: str, directories) -> bool:
    """Whether `path` is one of `directories` (a trailing slash does not count) or below one."""
    return any(path == d.rstrip("/") or below(path, d) for d in directories)


@dataclass(frozen=True, slots=True)
class Entry:
    """One filesystem entry of an image, keyed by its absolute path inside the image ("/usr/bin/env")."""

    path: str
    kind: str
    mode: int = 0o644  # permission bits, including setuid/setgid/sticky; no file-type bits
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""  # symlink target as stored, or (in a layer) the hardlink target path
    devmajor: int = 0
    devminor: int = 0
    uname: str = ""
    gname: str = ""
    xattrs: tuple[tuple[str, str], ...] = ()  # PAX "SCHILY.xattr.*" records, e.g. security.capability
    blob: str | None = None  # host path of the layer's pack file (in slim's work directory) holding the bytes
    blob_offset: int = 0  # where the bytes start in that pack file; `size` of them
    inode: int = 0  # which stored file, within the pack: hardlinks share it (offsets do not tell: empty files)

    @property
    def content_key(self) -> tuple[str, int] | None:
        """Identifies the stored file: paths sharing a key are one hardlink group (one inode)."""
        return (self.blob, self.inode) if self.blob is not None else None

    @property
    def is_dir(self) -> bool:
        """Whether the entry is a directory: kept as a parent, never counted as a file."""
        return self.kind == DIR

    @property
    def is_file(self) -> bool:
        """Whether the entry is a regular file, the only kind with bytes."""
        return self.kind == FILE

    @property
    def is_symlink(self) -> bool:
        """Whether the entry is a symlink, whose target is resolved inside the image root, never on the host."""
        return self.kind == SYMLINK


@dataclass(frozen=True, slots=True)
class LayerSummary:
    """What one layer of an image holds, for inspection and reports."""

    digest: str  # sha256 of the uncompressed layer tar ("sha256:...")
    size_bytes: int  # bytes of the uncompressed layer tar
    entries: int
    whiteouts: int
    created_by: str = ""


@dataclass(frozen=True, slots=True)
class SlimWarning:
    """A non-fatal problem a stage found: carried in its result, said to the user, never raised.

    `code` names the kind of problem for machines ("layer.unsafe-name"), `path` the file or document it is
    about ("" when none), `message` the rest, for people.
    """

    code: str
    message: str
    path: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def warning_texts(warnings, limit: int | None = None) -> list[str]:
    """Warnings as the lines a person reads; with `limit`, the first ones and a count of the rest."""
    texts = [str(w) for w in warnings]
    if limit is not None and len(texts) > limit:
        return texts[:limit] + [f"... and {len(texts) - limit} more warnings"]
    return texts


@dataclass(frozen=True)
class RunConfig:
    """How an image runs, from the `config` part of its config document, parsed once.

    `from_document` raises ValueError for a document of the wrong shape (the image layer turns it into
    slim's ImageFormatError).
    """

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # "K=V"
    user: str = ""
    workdir: str = ""
    exposed_ports: tuple[str, ...] = ()  # "8080/tcp"
    volumes: tuple[str, ...] = ()
    healthcheck: tuple[str, ...] = ()  # the Test argv; () when the image has none
    labels: tuple[tuple[str, str], ...] = ()
    stop_signal: str = ""

    @classmethod
    def from_document(cls, doc) -> RunConfig:
        """The run configuration from the image config's "config" object; ValueError, for the reader to place, when a
        field slim relies on has the wrong shape (the document comes from anyone)."""
        if doc is None:
            return cls()
        if not isinstance(doc, dict):
            raise ValueError("the image config's 'config' is not an object")
        env = _strings(doc, "Env")
        if any("=" not in item for item in env):
            raise ValueError("Env holds an entry that is not K=V")
        labels = doc.get("Labels") or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise ValueError("Labels is not an object of strings")
        health = doc.get("Healthcheck") or {}
        if not isinstance(health, dict):
            raise ValueError("Healthcheck is not an object")
        return cls(
            entrypoint=_strings(doc, "Entrypoint"), cmd=_strings(doc, "Cmd"), env=env,
            user=_string(doc, "User"), workdir=_string(doc, "WorkingDir"),
            exposed_ports=tuple(sorted(_keys(doc, "ExposedPorts"))), volumes=tuple(sorted(_keys(doc, "Volumes"))),
            healthcheck=_strings(health, "Test"), labels=tuple(sorted(labels.items())),
            stop_signal=_string(doc, "StopSignal"))

    @property
    def runs_as_root(self) -> bool:
        """No USER, or USER root/0 (a group after the colon changes nothing)."""
        return self.user.split(":", 1)[0] in ("", "root", "0")

    def env_dict(self) -> dict[str, str]:
        """The image's ENV as a mapping (a repeated name: the last one wins)."""
        out = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    @property
    def tcp_ports(self) -> list[int]:
        """The exposed TCP port numbers, in order: what the HTTP probes try by default."""
        ports = []
        for key in self.exposed_ports:
            number, _, proto = key.partition("/")
            if (proto or "tcp") == "tcp" and number.isdigit():
                ports.append(int(number))
        return sorted(ports)


def _string(doc: dict, key: str) -> str:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value or ""


def _strings(doc: dict, key: str) -> tuple[str, ...]:
    value = doc.get(key)
    if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ValueError(f"{key} is not a list of strings")
    return tuple(value or ())


def _keys(doc: dict, key: str) -> list[str]:
    value = doc.get(key)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{key} is not an object")
    return list(value or {})


@dataclass(frozen=True)
class ImageInfo:
    """The facts `slim inspect` reports about one image."""

    reference: str
    image_id: str
    size_bytes: int  # uncompressed layer tars, summed
    content_bytes: int  # regular files of the flattened filesystem
    file_count: int  # every entry that is not a directory
    dir_count: int
    layers: tuple[LayerSummary, ...]
    os: dict[str, str]
    config: dict = field(default_factory=dict)
    warnings: tuple[SlimWarning, ...] = ()
    package_db: str | None = None  # "dpkg", "apk", or None when the image has no package database
    packages: int = 0


# Kinds of file access a trace records.
EXEC, READ, WRITE, CREATE, DELETE, STAT, READLINK, LISTDIR, CHDIR = (
    "exec", "read", "write", "create", "delete", "stat", "readlink", "listdir", "chdir")
ACCESS_KINDS = (EXEC, READ, WRITE, CREATE, DELETE, STAT, READLINK, LISTDIR, CHDIR)


@dataclass(frozen=True, order=True)
class FileAccess:
    """One kind of access to one path, as the traced processes made it (repeats folded into `count`)."""

    path: str  # as requested, made absolute against the cwd or directory fd of the call
    kind: str  # one of ACCESS_KINDS
    ok: bool  # False: the call failed (a lookup of a missing file, say)
    resolved: str = ""  # the path the kernel opened (strace -y), when the call reveals it
    count: int = 1
    pids: tuple[int, ...] = ()  # the processes that made it


@dataclass(frozen=True)
class ProcessInfo:
    """One process of the traced run, with its parent and what it ran: how the report and the run profile tell which
    programs the app really started."""

    pid: int
    ppid: int | None
    argv: tuple[str, ...]
    exe: str  # the last program it exec'd ("" if it never exec'd)


@dataclass(frozen=True)
class ProbeResult:
    """What one probe saw. `signature` is what verification compares between original and slim image."""

    kind: str  # "http", "exec" or "host"
    target: str  # URL, or the command
    ok: bool  # the probe itself could run (connected, command started)
    status: int | None = None  # HTTP status or exit code
    body_sha256: str = ""
    body_bytes: int = 0
    detail: str = ""  # error text or a short excerpt of the output
    seconds: float = 0.0
    static: bool = False  # an HTTP response with ETag or Last-Modified: a file, whose body must not change
    port: int | None = None  # the container's port, when the probe went through a port the engine published
    varies: bool = False  # a command whose output differs from run to run (--varying-probe): only its exit code counts

    @property
    def key(self) -> str:
        """What identifies the probe across runs: the container's address (and a published port) differs,
        the container's port and the path do not."""
        if self.kind == "http" and self.target.startswith("http://"):
            path = self.target[len("http://"):].partition("/")[2]
            return f"http :{self.container_port()}/{path}"
        return f"{self.kind} {self.target}"

    def container_port(self) -> str:
        """The container's port an HTTP probe went to: the one recorded when it went through a published port,
        else the port of its URL."""
        if self.port is not None:
            return str(self.port)
        return self.target[len("http://"):].partition("/")[0].rpartition(":")[2]

    def failed(self) -> bool:
        """Whether this answer is a failure: no answer, an HTTP status of 500 or above, a command that timed
        out or exited non-zero. A 404 is an answer (a probe may check that something is absent)."""
        if not self.ok or self.status is None:
            return True
        return self.status >= 500 if self.kind == "http" else self.status != 0

    def answer(self) -> str:
        """What the probe got, as every output words it: "status 200" (HTTP), "exit code 0" (a command), or
        "no answer (why)"."""
        if not self.ok:
            return f"no answer ({self.detail[:200]})"
        return f"{'status' if self.kind == 'http' else 'exit code'} {self.status}"


@dataclass(frozen=True)
class RunOutcome:
    """What verification compares between two runs. `mode` says how the run ended ("exit": a batch job)."""

    mode: str
    exit_code: int | None
    stdout: str
    probes: tuple[ProbeResult, ...]
    stopped: bool = False  # still running at the end (slim stopped it), rather than ended by itself


@dataclass(frozen=True)
class Trace:
    """Everything one traced (or plain) run of an image showed, and what exactly was run."""

    accesses: tuple[FileAccess, ...] = ()
    processes: tuple[ProcessInfo, ...] = ()
    syscalls: tuple[tuple[str, int], ...] = ()  # (name, count), sorted by name
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    probes: tuple[ProbeResult, ...] = ()
    seconds: tuple[tuple[str, float], ...] = ()  # phase -> wall time
    warnings: tuple[SlimWarning, ...] = ()
    uids: tuple[int, ...] = ()  # users the processes switched to (setuid and kin)
    gids: tuple[int, ...] = ()
    bound_ports: tuple[int, ...] = ()  # ports the processes bound (bind() with an AF_INET/AF_INET6 address)
    config: RunConfig = field(default_factory=RunConfig)  # the image's own run configuration
    argv: tuple[str, ...] = ()  # what the container ran: Entrypoint + Cmd with the overrides applied
    mode: str = ""  # how the run was ended: exit, probe, timeout or signal
    workdir: str = "/"  # where the command started
    stopped: bool = False  # the app was still running at the end: slim stopped it

    @property
    def outcome(self) -> RunOutcome:
        """The parts of the traced run that verification compares the slim image's run with."""
        return RunOutcome(self.mode, self.exit_code, self.stdout, self.probes, self.stopped)

    def written_paths(self) -> set[str]:
        """The paths the run wrote, created or deleted, outside the kernel's pseudo filesystems."""
        out = {a.resolved or a.path for a in self.accesses if a.ok and a.kind in (WRITE, CREATE, DELETE)}
        return {p for p in out if not within(p, PSEUDO_FILESYSTEMS)}

    def paths(self, ok_only: bool = True) -> set[str]:
        """Every requested and resolved path of the accesses (successful ones unless ok_only is False)."""
        out: set[str] = set()
        for a in self.accesses:
            if a.ok or not ok_only:
                out.add(a.path)
                if a.resolved:
                    out.add(a.resolved)
        return out
