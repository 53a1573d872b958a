"""Content-trust commands: `slim keygen` (a cosign-format key pair), `slim verify-signature` and `slim
attestations` (check what a registry serves), `slim policy` (the files that make Podman and skopeo require
signatures) and `slim vulns` (a scanner's findings of an original image, mapped onto its slim image)."""

from __future__ import annotations

import json
import os
import sys

import click

from slim.cli.text import visible
from slim.errors import UsageError, VulnerabilityGateFailed
from slim.files import write_file


def _prompt_password(confirm: bool) -> str:
    return click.prompt("password for the private key", hide_input=True, confirmation_prompt=confirm, err=True)


@click.command()
@click.argument("prefix", default="cosign")
@click.option("--force", is_flag=True, help="Overwrite PREFIX.key and PREFIX.pub when they exist.")
def keygen(prefix: str, force: bool) -> None:
    """Write a key pair in cosign's format: PREFIX.key (ECDSA P-256, encrypted with a password read from
    SLIM_KEY_PASSWORD, else COSIGN_PASSWORD, else asked) and PREFIX.pub. cosign reads both, and slim reads
    the ones `cosign generate-key-pair` writes."""
    from slim.sign import keys

    private, public = f"{prefix}.key", f"{prefix}.pub"
    if not force and any(os.path.exists(p) for p in (private, public)):
        raise UsageError(f"{private} or {public} exists: pass --force to overwrite")
    password = keys.read_password(_prompt_password if sys.stdin.isatty() else None, confirm=True)
    pair = keys.generate()
    write_file(private, keys.encrypt_private(pair, password))
    os.chmod(private, 0o600)
    write_file(public, keys.public_pem(pair.public))
    click.echo(visible(f"wrote {private} (private, keep it secret) and {public}"), err=True)


def _public_key(path: str):
    from slim.sign import keys

    with open(path, "rb") as fh:
        return keys.load_public(fh.read(), path)


@click.command(name="verify-signature")
@click.argument("image")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True), metavar="FILE.pub",
              help="A cosign public key: check the Sigstore signature stored beside the image in the registry.")
@click.option("--gpg-key", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="A GPG public key (exported): check the simple-signing signatures in the signature store.")
@click.option("--signature-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="With --gpg-key: the signature store (default: lookaside of registries.d for the registry).")
@click.option("--registries.d", "registries_d", type=click.Path(file_okay=False), metavar="DIR",
              help="With --gpg-key: read registries.d from DIR.")
def verify_signature(image: str, key_file: str | None, gpg_key: str | None, signature_dir: str | None,
                     registries_d: str | None) -> None:
    """Check that IMAGE (HOST/REPOSITORY:TAG or @sha256:...) in its registry is signed by the key.

    Exit 0 when a signature by the key names the digest the registry serves; 20 when there is none, it was
    made by another key, or it names another digest (an image pushed over the signed tag)."""
    from slim.sign import cosign, gpg
    from slim.sign.registry import Registry, parse_repo_ref

    if bool(key_file) == bool(gpg_key):
        raise UsageError("name one key: --key FILE.pub (cosign) or --gpg-key FILE (GPG)")
    ref = parse_repo_ref(image)
    registry = Registry(ref.registry)
    try:
        digest = cosign.resolve(registry, ref)
        if key_file:
            found = cosign.verify_image(registry, ref, _public_key(key_file), digest)
            who = f"{len(found)} Sigstore signature(s) by {key_file}, for {found[0].identity}"
        elif gpg_key:
            directory = gpg.signature_dir_for(ref, signature_dir, registries_d, write=False)
            fingerprints = gpg.verify(gpg.signatures(directory, digest), gpg_key, ref, digest)
            who = "GPG signature(s) by " + ", ".join(sorted(set(fingerprints)))
    finally:
        registry.close()
    click.echo(visible(f"{ref.name}@{digest}: verified, {who}"))


@click.command()
@click.argument("image")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True), metavar="FILE.pub",
              help="The cosign public key the attestations must be signed with.")
@click.option("--json", "as_json", is_flag=True, help="Print the verified in-toto statements as a JSON list.")
def attestations(image: str, key_file: str, as_json: bool) -> None:
    """Fetch, verify and print IMAGE's signed attestations (the SBOM and the provenance `slim build --push
    --sign-key` attaches). Exit 20 when a signature does not match the key or a subject is not IMAGE's digest."""
    from slim.sign import attest, cosign
    from slim.sign.registry import Registry, parse_repo_ref

    ref = parse_repo_ref(image)
    registry = Registry(ref.registry)
    try:
        digest = cosign.resolve(registry, ref)
        found = attest.read_attestations(registry, ref, digest, _public_key(key_file))
    finally:
        registry.close()
    if as_json:
        click.echo(json.dumps([a.statement for a in found], indent=2))
        return
    click.echo(visible(f"{ref.name}@{digest}: {len(found)} verified attestation(s)"))
    for a in found:
        click.echo(visible(f"  {a.predicate_type}: {_describe(a)}"))


def _describe(found) -> str:
    predicate = found.statement.get("predicate") or {}
    if found.predicate_type.startswith("https://cyclonedx.org/"):
        return f"{len(predicate.get('components') or [])} components"
    run = predicate.get("runDetails") or {}
    results = {b.get("name"): b.get("annotations") or {} for b in run.get("byproducts") or []}
    deps = (predicate.get("buildDefinition") or {}).get("resolvedDependencies") or [{}]
    return (f"built from {deps[0].get('name')} by slim {(run.get('builder') or {}).get('version', {}).get('slim')}; "
            f"verification passed: {results.get('verification', {}).get('passed')}; run profile verified: "
            f"{results.get('hardening', {}).get('verified')}")


@click.command()
@click.option("--registry", "scope", required=True, metavar="HOST[:PORT][/REPOSITORY]",
              help="Where signatures are required.")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True), metavar="FILE.pub",
              help="Require Sigstore signatures by this cosign public key (sigstoreSigned).")
@click.option("--gpg-key", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="Require GPG simple signatures by the keys in this exported public key file (signedBy).")
@click.option("--lookaside", metavar="DIR|URL", help="With --gpg-key: the signature store to read signatures from.")
@click.option("--reject-others", is_flag=True, help="Refuse images from every other registry too (default: "
                                                    "accept them, as the containers tools do out of the box).")
@click.option("--output-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write DIR/policy.json and DIR/registries.d/slim.yaml instead of printing them.")
def policy(scope: str, key_file: str | None, gpg_key: str | None, lookaside: str | None, reject_others: bool,
           output_dir: str | None) -> None:
    """Print the policy.json and registries.d files that make Podman and skopeo refuse unsigned images from a
    registry: use them with `skopeo --policy FILE --registries.d DIR` or `podman pull --signature-policy FILE`
    (with REGISTRIES_CONFIG_PATH unchanged and the registries.d file in the containers tools' directory), or
    install them in /etc/containers."""
    from slim.sign.policy import policy_json, registries_d_yaml

    doc = policy_json(scope, key_file, gpg_key, reject_others)
    registries = registries_d_yaml(scope, sigstore=bool(key_file), lookaside=lookaside)
    if output_dir:
        write_file(os.path.join(output_dir, "policy.json"), doc)
        write_file(os.path.join(output_dir, "registries.d", "slim.yaml"), registries)
        click.echo(visible(f"wrote {output_dir}/policy.json and {output_dir}/registries.d/slim.yaml"), err=True)
        return
    click.echo("# policy.json\n" + doc + "\n# registries.d/slim.yaml\n" + registries, nl=False)


@click.command()
@click.argument("report_file", metavar="ORIGINAL_REPORT", type=click.Path(dir_okay=False, exists=True))
@click.argument("image", metavar="SLIM_IMAGE")
@click.option("--json", "as_json", is_flag=True, help="Print the mapping (the build report's `vulnerabilities`).")
@click.option("--max-vulns", "max_vulns", multiple=True, metavar="SEVERITY=N",
              help="Exit 18 when more than N findings of SEVERITY or worse remain (repeatable).")
@click.pass_context
def vulns(ctx: click.Context, report_file: str, image: str, as_json: bool, max_vulns: tuple[str, ...]) -> None:
    """Map a Grype or Trivy JSON report of an original image onto SLIM_IMAGE: each finding is removed (the slim
    image no longer has the package or file) or remaining (with the kept path that carries it)."""
    from slim import pipeline
    from slim.cli.context import run_context, workspace
    from slim.image.reference import parse_reference
    from slim.vulns import match, report as reports
    from slim.vulns.finding import before_after

    try:
        limits = match.parse_limits(max_vulns)
    except ValueError as exc:
        raise UsageError(f"--max-vulns {exc}") from exc
    findings, scanner = reports.read(report_file)
    phases, engine = run_context(ctx)
    with workspace(ctx) as ws:
        loaded, listed = pipeline.inventory(parse_reference(image), ws, engine, phases)
        paths = [entry.path for entry in loaded.rootfs.walk()]
    mapped = match.mapping(findings, match.contents_of(listed.components, paths), scanner)
    if as_json:
        click.echo(json.dumps(mapped, indent=2))
    else:
        click.echo(visible(f"{image}: {before_after(mapped)}"))
        for row in mapped["remaining"]:
            click.echo(visible(f"  {row['severity']:<10} {row['id']:<20} {row['package']} {row['version']} "
                               f"(fixed: {row['fixed_version'] or '-'}) at {row['kept_path'] or '?'}"))
    over = match.over_limits(mapped["after"], limits)
    if over:
        raise VulnerabilityGateFailed("; ".join(over))


COMMANDS = {"keygen": keygen, "verify-signature": verify_signature, "attestations": attestations, "policy": policy,
            "vulns": vulns}
