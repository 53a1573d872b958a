"""What slimming did to a vulnerability scanner's findings: Grype and Trivy reports read into one shape, and
each finding decided kept or removed by what the slim image still carries."""
