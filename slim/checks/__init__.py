"""Checks of an image's practices: the lint rules (`lint_rules`) and their runners for images (`image_lint`)
and Dockerfiles (`dockerfile_lint`), what an image exposes (`exposure`: shells, package managers,
setuid/setgid and world-writable files), secret-looking names and values (`secrets`), the accounts
(`users`), and what the build report says about a configuration (`config_findings`: root user, secrets in
ENV by name). May import: model, errors, rootfs, image.reference. Never imports closure, langs, packages,
plan or report.
"""
