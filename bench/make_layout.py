#!/usr/bin/python3
"""Write a two-platform OCI image layout with random layer bytes.

The image is an index with linux/amd64 and linux/arm64 manifests. Each
platform has a config, one layer of its own, and one layer shared with the
other platform, so the layout contains 7 blobs: 2 configs, 2 platform layers,
1 shared layer and the 2 platform manifests (the index is the 8th file).

Usage: make_layout.py DIRECTORY [--layer-mib N] [--shared-mib N] [--ref-name NAME]...
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _write_blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _write_random_blob(layout: Path, size: int) -> dict:
    """Write `size` random bytes in 1 MiB pieces, hashing as it goes."""
    hasher = hashlib.sha256()
    temporary = layout / "blobs" / "sha256" / "partial"
    temporary.parent.mkdir(parents=True, exist_ok=True)
    with temporary.open("wb") as output:
        remaining = size
        while remaining > 0:
            piece = os.urandom(min(remaining, 1 << 20))
            hasher.update(piece)
            output.write(piece)
            remaining -= len(piece)
    digest = hasher.hexdigest()
    temporary.rename(temporary.parent / digest)
    return {"digest": f"sha256:{digest}", "size": size}


def _image(layout: Path, architecture: str, shared: dict, own_size: int) -> dict:
    own = _write_random_blob(layout, own_size)
    config = json.dumps({"architecture": architecture, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [shared["digest"], own["digest"]]}},
                        separators=(",", ":")).encode()
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                "config": {"mediaType": CONFIG, **_write_blob(layout, config)},
                "layers": [{"mediaType": LAYER, **shared}, {"mediaType": LAYER, **own}]}
    descriptor = _write_blob(layout, json.dumps(manifest, indent=2).encode())
    return {"mediaType": MANIFEST, **descriptor, "platform": {"architecture": architecture, "os": "linux"}}


def make_layout(layout: Path, layer_size: int, shared_size: int, ref_names: list[str]) -> str:
    """Write the layout and return the index digest. Every name in `ref_names`
    gets its own index.json entry with its own random image."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries = []
    first_digest = ""
    for ref_name in ref_names:
        shared = _write_random_blob(layout, shared_size)
        platforms = [_image(layout, "amd64", shared, layer_size), _image(layout, "arm64", shared, layer_size)]
        index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": platforms}
        descriptor = _write_blob(layout, json.dumps(index, indent=2).encode())
        entries.append({"mediaType": INDEX, **descriptor,
                        "annotations": {"org.opencontainers.image.ref.name": ref_name}})
        first_digest = first_digest or descriptor["digest"]
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}))
    return first_digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--layer-mib", type=float, default=90, help="size of each platform's own layer, in MiB")
    parser.add_argument("--shared-mib", type=float, default=100, help="size of the shared layer, in MiB")
    parser.add_argument("--ref-name", action="append", help="index.json entry name (repeatable; default: latest)")
    arguments = parser.parse_args()
    digest = make_layout(arguments.directory, int(arguments.layer_mib * (1 << 20)),
                         int(arguments.shared_mib * (1 << 20)), arguments.ref_name or ["latest"])
    print(digest)


if __name__ == "__main__":
    main()
