"""slim: turn a container image into a minimal FROM-scratch image that still works, and prove it."""

__version__ = "0.1.0"
