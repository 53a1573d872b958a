"""The least-privilege run profile of an image and how it is printed: derived from the traced run (`profile`, with
`runtime`'s calls and `seccomp`), rendered as the run line, compose and Kubernetes (`render`). Pure: no container
runs here; `slim.run.hardened` verifies the profile."""

