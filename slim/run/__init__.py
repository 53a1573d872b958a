"""Running containers: one run with probes from create to remove (`runner`, with `Hooks` for a tracer), the probes
themselves (`probes`), the options of a run (`options`), the comparison of two runs (`verify`), the run of the
slim image under its hardened profile (`hardened`) and `slim doctor`'s proof that probes reach a container
(`reach`). Imports engine, model and harden, never plan."""

