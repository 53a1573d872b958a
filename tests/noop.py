"""Two static programs that make no system call of their own but the one they are named for, in an image of
nothing else: the measure of what the container runtime alone needs under a seccomp filter
(bench/runtime_syscalls.py) and the test that the measured list starts containers.

- /noop: exit_group(0), nothing more;
- /wait: waits on a futex no one wakes (futex is a call the runtime needs anyway) until a signal ends it, so
  stopping the container exercises the init's signal forwarding.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

NOOP_C = 'void _start(void) { __asm__ volatile("mov $231, %eax\\n xor %edi, %edi\\n syscall"); }\n'
# futex(&word, FUTEX_WAIT, 0, NULL): blocks while word == 0, which it always is
WAIT_C = ('int word;\nvoid _start(void) { __asm__ volatile("mov $202, %%eax\\n mov %0, %%rdi\\n xor %%esi, %%esi\\n'
          ' xor %%edx, %%edx\\n xor %%r10, %%r10\\n syscall\\n mov $231, %%eax\\n xor %%edi, %%edi\\n syscall"'
          ' : : "r"(&word) : "rax", "rdi", "rsi", "rdx", "r10"); }\n')


def build_noop_image(tag: str) -> None:
    """Compile both programs on the host (gcc, installed by scripts/setup) and import them as `tag`."""
    with tempfile.TemporaryDirectory(prefix="slim-test-noop-") as tmp:
        for name, source in (("noop", NOOP_C), ("wait", WAIT_C)):
            src = os.path.join(tmp, name + ".c")
            with open(src, "w") as fh:
                fh.write(source)
            subprocess.run(["gcc", "-static", "-nostdlib", "-O2", "-o", os.path.join(tmp, name), src], check=True)
            os.remove(src)
        tar = subprocess.run(["tar", "-C", tmp, "-c", "noop", "wait"], check=True, capture_output=True).stdout
        subprocess.run(["docker", "import", "--change", 'CMD ["/noop"]', "-", tag], input=tar, check=True,
                       stdout=subprocess.DEVNULL)
