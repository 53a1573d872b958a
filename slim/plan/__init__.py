"""What the slim image keeps and why (`keep`, with `content` for app content the probes did not ask for and `data`
for the data files kept binaries open on demand), and what the kept files become (`rewrite`: accounts, package
database, directories, setuid bits; `accounts` says when the account files stay as they are; `rebase` for
--run-as). Pure rules over a RootFS and a Trace, built on the closures, the package databases and the account
checks; the results are `slim.results` values, which the report reads: only the wiring imports the planner."""
