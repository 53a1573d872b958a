"""A CycloneDX SBOM of an image's inventory, written with cyclonedx-python-lib (the CycloneDX project's own
library: it owns the schema, serialisation and validation, so slim never writes the format by hand).

The image is the BOM's subject (metadata.component, a container) and depends on everything listed; its serial
number is derived from the image ID, so the same image gets the same one. The distribution is an operating-system
component; every package is a library component with its purl, and with the files its database says it owns as
evidence occurrences, so a reader can tell which package each file belongs to.
"""

from __future__ import annotations

import json
import uuid

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.output.json import JsonV1Dot5
from packageurl import PackageURL

from slim import __version__
from slim.packages.inventory import Inventory

SPEC_VERSION = "1.5"
KIND_PROPERTY = "slim:package:kind"  # deb, apk, pypi, npm, golang, gem, maven: where a component was read from
LOCATION_PROPERTY = "slim:package:location"


def cyclonedx_json(inventory: Inventory, image: str, image_id: str | None = None) -> str:
    """The inventory as a CycloneDX 1.5 JSON SBOM with the image as its subject; the same image gives the same bytes."""
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"slim:{image}:{image_id}") if image_id else None)
    root = bom.metadata.component = Component(name=image, type=ComponentType.CONTAINER, version=image_id or None,
                                              bom_ref=f"image:{image}")
    bom.metadata.tools.components.add(Component(name="slim", version=__version__, type=ComponentType.APPLICATION))
    distro = inventory.distro
    parts = []
    if distro is not None:
        parts.append(Component(name=distro.id, version=distro.version_id or None, description=distro.pretty_name
                                     or None, type=ComponentType.OPERATING_SYSTEM, bom_ref=f"os:{distro.qualifier}"))
    seen: set[str] = set()
    for found in inventory.components:
        purl = found.purl(distro)
        ref = purl if purl not in seen else f"{purl}#{found.location}"  # the same package installed twice
        seen.add(ref)
        evidence = ComponentEvidence(occurrences=[Occurrence(location=f) for f in found.files]) if found.files else None
        parts.append(Component(
            name=found.name, version=found.version or None, type=ComponentType.LIBRARY, purl=PackageURL.from_string(purl),
            bom_ref=ref, evidence=evidence,
            properties=[Property(name=KIND_PROPERTY, value=found.kind),
                        Property(name=LOCATION_PROPERTY, value=found.location)]))
    for part in parts:
        bom.components.add(part)
    bom.register_dependency(root, parts)  # the image holds every one of them
    doc = json.loads(JsonV1Dot5(bom).output_as_string())
    for component in doc.get("components", []):  # the library keeps occurrences unordered: same image, same bytes
        occurrences = component.get("evidence", {}).get("occurrences")
        if occurrences:
            occurrences.sort(key=lambda o: o["location"])
    return json.dumps(doc, indent=2) + "\n"
