"""Package databases and what they list: dpkg (`status` and `status.d/`), apk (`installed`), their catalog of
owned files (`catalog`, which the planner trims), the distribution (`osrelease`), and the inventory of every
kind of package an SBOM lists (`inventory`: OS packages, Python dist-info/egg-info, Node package.json, Go build
information in binaries (`gobuildinfo`), Ruby gemspecs (`gems`), Java archives (`jars`, named by `jarnames`)).

Parsers take streams and collect malformed entries as warnings. May import: model, errors, rootfs. Never
imports closure, langs, checks, plan or report.
"""
