"""The one exception family of slim. Library code raises these; only the CLI turns them into exit codes."""


class SlimError(Exception):
    """Base of every error slim reports to the user. `exit_code` is part of the CLI interface."""

    exit_code = 1


class UsageError(SlimError):
    """The user asked for something that cannot be done as asked (bad reference, bad option value)."""

    exit_code = 2


class ImageNotFound(SlimError):
    """The image reference names nothing the chosen source holds."""

    exit_code = 3


class ImageFormatError(SlimError):
    """An archive, layout or layer could not be read (corrupt, truncated, unsupported)."""

    exit_code = 4


class EngineError(SlimError):
    """The Docker engine could not be reached or refused an operation."""

    exit_code = 5


class HostToolMissing(SlimError):
    """A host program slim relies on (strace, tini) is not installed."""

    exit_code = 6


class TraceError(SlimError):
    """The traced run could not be carried out at all (not: the app failed, which is a result)."""

    exit_code = 7


class VerificationFailed(SlimError):
    """The slim image did not behave like the original."""

    exit_code = 8


class HardeningFailed(SlimError):
    """With --fail-on hardening: the slim image did not behave the same under its run profile."""

    exit_code = 10


class GateFailed(SlimError):
    """A CI gate failed (--max-size: 11, --min-reduction: 12); the instance carries the gate's own code."""

    exit_code = 11


class RegistryError(SlimError):
    """--push: the registry could not be reached, refused the credentials, or refused the image."""

    exit_code = 13


class LintFailed(SlimError):
    """slim lint --fail-on: a finding at or above the threshold."""

    exit_code = 14


class CleanupIncomplete(SlimError):
    """slim cleanup: something could not be removed (each one is listed with the reason)."""

    exit_code = 15


class GateNotEvaluated(SlimError):
    """A gate that was asked for could not be evaluated (nothing to measure, a run that did not happen): it
    fails, since a CI stage must never pass on a check it did not make."""

    exit_code = 16


class OriginalFailsProbes(SlimError):
    """The original image does not pass its own probes: comparing the slim image with it would prove nothing."""

    exit_code = 17


class VulnerabilityGateFailed(SlimError):
    """--max-vulns: the slim image still carries more findings of a severity than allowed."""

    exit_code = 18


class SigningFailed(SlimError):
    """--sign-key / --sign-by: the pushed image could not be signed (it is reported as pushed unsigned)."""

    exit_code = 19


class SignatureInvalid(SlimError):
    """slim verify-signature / attestations: no signature, or one that does not match the key or the digest."""

    exit_code = 20
