#!/usr/bin/env python3
"""Pack a root filesystem directory into a single-layer OCI image archive.

The archive (OCI image layout in a tar) can be loaded with
`ctr -n k8s.io images import FILE`; the image name comes from the
io.containerd.image.name annotation. Output is reproducible: files are sorted,
owned by root and dated at the epoch.

Usage: oci-image.py --rootfs DIR --ref NAME:TAG --out FILE
                    [--entrypoint JSON-LIST] [--cmd JSON-LIST] [--env K=V ...]
                    [--workdir DIR] [--expose PORT/tcp ...]
"""
import argparse
import hashlib
import io
import json
import os
import tarfile


def layer_tar(rootfs: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = []
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                paths.append(os.path.join(dirpath, name))
        for path in sorted(paths, key=lambda p: os.path.relpath(p, rootfs).split(os.sep)):
            arc = os.path.relpath(path, rootfs)
            info = tar.gettarinfo(path, arcname=arc)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def blob(files: dict, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    files["blobs/sha256/" + digest] = data
    return "sha256:" + digest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--ref", required=True, help="image name, e.g. sts-canary.local/busybox:1.35")
    ap.add_argument("--out", required=True)
    ap.add_argument("--entrypoint", default="null")
    ap.add_argument("--cmd", default="null")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--workdir", default="/")
    ap.add_argument("--expose", action="append", default=[])
    a = ap.parse_args()

    files: dict = {}
    layer = layer_tar(a.rootfs)
    layer_digest = blob(files, layer)
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + a.env
    cfg = {"Env": env, "WorkingDir": a.workdir}
    if json.loads(a.entrypoint) is not None:
        cfg["Entrypoint"] = json.loads(a.entrypoint)
    if json.loads(a.cmd) is not None:
        cfg["Cmd"] = json.loads(a.cmd)
    if a.expose:
        cfg["ExposedPorts"] = {p: {} for p in a.expose}
    config = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "platform/k8s/oci-image.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = blob(files, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": len(layer)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = blob(files, manifest_bytes)
    tag = a.ref.rsplit(":", 1)[1] if ":" in a.ref.rsplit("/", 1)[-1] else "latest"
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": len(manifest_bytes),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": a.ref,
                            "org.opencontainers.image.ref.name": tag},
        }],
    }
    files["index.json"] = json.dumps(index, sort_keys=True).encode()
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'

    tmp = a.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ["oci-layout", "index.json"] + sorted(k for k in files if k.startswith("blobs/")):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, a.out)
    print(f"{a.ref} {manifest_digest} -> {a.out}")


if __name__ == "__main__":
    main()
