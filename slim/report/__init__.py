"""What slim tells people and tools about its results: the build report (`build`, `facts`), inspect, compare and its
chart, lint as JSON and SARIF, the CycloneDX SBOM, CI's JUnit and summary, and the gates a CI stage fails on. Reads
results only, never the planner or the engine."""

