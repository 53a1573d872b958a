"""/etc/passwd and /etc/group, reduced to the accounts a minimized image still needs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Account:
    """One /etc/passwd line with the fields slim reads: who a process runs as, and its home directory to keep."""

    name: str
    uid: int
    gid: int
    home: str
    line: str


@dataclass(frozen=True)
class ImageAccounts:
    """An image's /etc/passwd and /etc/group, read and parsed once ("" and [] when it has none)."""

    passwd: str = ""
    group: str = ""
    accounts: tuple[Account, ...] = ()

    @property
    def present(self) -> bool:
        """Whether the image has an /etc/passwd at all; without one there is nothing to reduce."""
        return bool(self.passwd)

    def home_of(self, user_spec: str) -> str | None:
        """The home directory of the image's USER, unless it is "/" or unknown."""
        uid, _ = resolve_user(user_spec or "root", list(self.accounts))
        home = next((a.home for a in self.accounts if a.uid == uid), None)
        return home if home and home != "/" else None


def read_accounts(rootfs) -> ImageAccounts:
    """The image's passwd and group files (bounded reads) and the accounts parsed from passwd; empty when the image
    has no /etc/passwd."""
    if not rootfs.is_file("/etc/passwd"):
        return ImageAccounts()
    passwd = rootfs.read_bytes("/etc/passwd", 1 << 20).decode("utf-8", "replace")
    group = rootfs.read_bytes("/etc/group", 1 << 20).decode("utf-8", "replace") if rootfs.is_file("/etc/group") else ""
    return ImageAccounts(passwd, group, tuple(parse_passwd(passwd)))


def parse_passwd(text: str) -> list[Account]:
    """The well-formed accounts of a passwd file; lines with missing fields or non-numeric IDs are skipped."""
    out = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[2].isdigit() and parts[3].isdigit():
            out.append(Account(parts[0], int(parts[2]), int(parts[3]), parts[5], line))
    return out


def parse_group(text: str) -> list[tuple[str, int, str]]:
    """(name, gid, line) per well-formed line."""
    out = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[2].isdigit():
            out.append((parts[0], int(parts[2]), line))
    return out


def resolve_user(spec: str, accounts: list[Account]) -> tuple[int | None, int | None]:
    """The (uid, gid) an image's USER means: "app", "10001", "app:staff", "10001:10001"; None when unknown."""
    user, _, group = (spec or "root").partition(":")
    uid = gid = None
    for acc in accounts:
        if acc.name == user or (user.isdigit() and acc.uid == int(user)):
            uid, gid = acc.uid, acc.gid
            break
    if uid is None and user.isdigit():
        uid = int(user)
    if group:
        gid = int(group) if group.isdigit() else gid
    return uid, gid


def reduce_accounts(passwd: str, group: str, uids: set[int], gids: set[int]) -> tuple[str, str, list[str]]:
    """passwd and group holding root plus `uids`/`gids` (and the primary groups of kept users).

    Returns the two files' text and the names of the accounts kept.
    """
    accounts = parse_passwd(passwd)
    keep_uids = {0} | uids
    kept = [a for a in accounts if a.uid in keep_uids]
    keep_gids = {0} | gids | {a.gid for a in kept}
    groups = [line for _, gid, line in parse_group(group) if gid in keep_gids]
    return ("\n".join(a.line for a in kept) + "\n", "\n".join(groups) + "\n" if groups else "", [a.name for a in kept])
