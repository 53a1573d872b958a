"""Language closures: what kept code can import, so code paths the probes missed still load.

One module per language's import graph (`pyimports`, with `pypath` for Python's search path and `pyscan` for
the parsing workers and their cache; `nodeimports` for Node's require/import; `ruby`, `php` and `perl`), `walk`
for the walk the Node, Ruby, PHP and Perl closures share, and `levels` for the rules all languages share
(--lang-completion imports|full|package|off). A new language goes here as one module plus a line in `levels`. May import: model, errors, rootfs. Never imports closure, packages, checks, plan or report.
"""
