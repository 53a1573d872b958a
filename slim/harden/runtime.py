"""The system calls the container runtime makes after it installs a container's seccomp filter.

An allow-list made only of the app's traced calls stops the container before the app even starts: runc
finishes its own set-up under the filter, then execs the engine's init (tini), which starts the app and later
forwards the stop signal to it. These are the calls that remain needed, measured on this kind of machine
(Docker 20.10.24, runc 1.1.5, docker-init as PID 1, kernel 6.18) by `bench/runtime_syscalls.py`:

- EVERY_START: what every start needs. The whole table is shrunk by delta debugging while a static no-op
  (its only call is exit_group) still starts and exits 0, and each call kept is confirmed by two starts
  without it (about 200 starts).
- SOMETIMES: what the runtime calls only now and then (runc is written in Go), only with some options (a
  non-root user, no-new-privileges, a read-only root), or when the container is stopped (the init's `kill`).
  Found by starting and stopping the no-op again and again in each of those ways with every call outside the
  list allowed but written to the kernel's audit log, until a round of 60 starts logged nothing new. Without
  these a start fails about one time in four.

The lists are the union of three measurements (a start that fails for the machine's own reasons can keep a call
in one of them; `geteuid` was needed in one shrink and `sched_yield` logged in one settle phase only). Denied calls with a fallback (close_range,
openat2, faccessat2, clone3, ...) are not needed: the profile answers them with ENOSYS and runc and the C
library fall back. The final list started and stopped the no-op 35/35 times.

Podman (4.3, with runc here: crun cannot drive this machine's hybrid cgroups) runs the same runc set-up, then
its own init, catatonit, instead of tini: catatonit (statically linked) also waits on a signalfd. Its calls,
traced on this host with `strace -f catatonit -- true`, are all in the lists above but signalfd4 (close_range
has a fallback), so INIT_SYSCALLS adds that for Podman.
tests/integration/test_harden.py starts containers under exactly this list.
"""

from __future__ import annotations

EVERY_START = frozenset({
    "arch_prctl", "brk", "capget", "capset", "chdir", "clone", "close", "execve", "exit_group", "fstat",
    "fstatfs", "futex", "getcwd", "getdents64", "getegid", "getppid", "getsockopt", "ioctl", "mprotect",
    "newfstatat", "openat", "prctl", "read", "rt_sigaction", "rt_sigprocmask", "rt_sigtimedwait", "setgid",
    "setgroups", "setpgid", "setuid", "wait4", "write"
})
SOMETIMES = frozenset({
    "epoll_ctl", "fchown", "fcntl", "geteuid", "getpgrp", "getpid", "getrandom", "kill", "prlimit64", "readlink",
    "rseq", "rt_sigreturn", "sched_yield", "set_robust_list", "set_tid_address"
})
RUNTIME_SYSCALLS = EVERY_START | SOMETIMES
INIT_SYSCALLS = {"docker": frozenset(), "podman": frozenset({"signalfd4"})}


def runtime_syscalls(engine: str = "docker") -> frozenset[str]:
    """What the runtime and the engine's init call under a container's seccomp filter."""
    return RUNTIME_SYSCALLS | INIT_SYSCALLS.get(engine, frozenset())
