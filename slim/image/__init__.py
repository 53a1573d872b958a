"""Images as data: read from an engine, a docker-archive or an OCI layout (`source`, `archive`, `oci`), unpacked
safely (`layer`, `targuard`, `safeopen`, `paths`), flattened into a RootFS (`flatten`), assembled FROM scratch
(`assemble`, `overlay`) and written where the user asked (`sink`, `stage`). Runs no container."""
