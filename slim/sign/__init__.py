"""Content trust for pushed images: cosign-format keys and Sigstore signatures, GPG simple signing, signed
in-toto attestations, and the policy files that make container tools require them."""
