"""The static closure: what a kept file needs to run, resolved as the image's own loader would.

ELF files (`elf/`: reader, ld.so.cache and ld.so.conf, the resolver of interpreters and libraries), `#!`
scripts (`shebang`), the walk that joins them over a root filesystem (`walk`), and the host's own filesystem
seen as a root (`hostfs`, for the tracer bundle). May import: model, errors, rootfs, image.paths. Never imports
langs, packages, checks, plan, report or anything above them.
"""
