"""Signing what `slim build --push` pushed, in the formats asked for, once the push succeeded.

The signed digest is the one the registry serves for the pushed tag, checked to be the verified image (its
config digest is the image ID slim built); a tag that changed in between is refused, never signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slim.errors import RegistryError, SignatureInvalid, SigningFailed, UsageError
from slim.sign import attest, cosign, gpg
from slim.sign.registry import Registry, parse_repo_ref


@dataclass(frozen=True)
class SignPlan:
    """How to sign after the push, prepared before the build starts (keys unlocked) so a wrong password fails early."""

    signer: cosign.Signer | None = None  # --sign-key: a Sigstore signature and the attestations
    gpg_fingerprint: str | None = None  # --sign-by
    signature_dir: str | None = None  # --signature-dir (else registries.d)
    registries_d: str | None = None  # where registries.d lives (tests; else the containers tools' places)

    @property
    def wanted(self) -> bool:
        """Whether any signature was asked for."""
        return self.signer is not None or bool(self.gpg_fingerprint)


@dataclass
class Signed:
    """What became of one pushed tag: the digest signed, and where each signature went."""

    tag: str
    digest: str | None = None
    sigstore: str | None = None  # the .sig tag
    attestations: str | None = None  # the .att tag
    attested: list[str] = field(default_factory=list)  # predicate types
    gpg: str | None = None  # the signature file
    error: str | None = None

    def to_json(self) -> dict:
        """The outcome for this tag as the build report's `signatures` list holds it."""
        return {"tag": self.tag, "signed": self.error is None, "digest": self.digest,
                "sigstore_signature": self.sigstore, "attestations": self.attestations,
                "attested": self.attested, "gpg_signature": self.gpg, "error": self.error}


def sign_pushed(tag: str, image_id: str, plan: SignPlan, predicates) -> Signed:
    """Sign `tag` as pushed; `predicates(ref, digest)` gives the attestations to attach with a Sigstore key.
    A failure is recorded in the result (the tag stays pushed, unsigned) and raised as SigningFailed."""
    out = Signed(tag)
    ref = parse_repo_ref(tag)
    registry = Registry(ref.registry)
    try:
        out.digest = cosign.pushed_digest(registry, ref, image_id)
        if plan.signer is not None:
            out.sigstore = f"{ref.name}:{cosign.sign_image(registry, ref, out.digest, plan.signer)}"
            chosen = predicates(ref, out.digest)
            out.attestations = f"{ref.name}:{attest.attest(registry, ref, out.digest, plan.signer, chosen)}"
            out.attested = [kind for kind, _ in chosen]
        if plan.gpg_fingerprint:
            body = gpg.payload(f"{ref.name}:{ref.tag}", out.digest)
            directory = gpg.signature_dir_for(ref, plan.signature_dir, plan.registries_d, write=True)
            out.gpg = gpg.store(directory, out.digest, gpg.sign(body, plan.gpg_fingerprint))
    except (RegistryError, SignatureInvalid, SigningFailed, UsageError, OSError) as exc:
        out.error = str(exc)
        raise SigningFailed(f"{tag} was pushed but not signed: {exc}") from exc
    finally:
        registry.close()
    return out
