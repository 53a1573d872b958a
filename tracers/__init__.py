"""Tracing backends. Each backend runs an image with probes and returns a `slim.model.Trace`."""
