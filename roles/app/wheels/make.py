#!/usr/bin/env python3
"""Builds the wheels of roles/app/files/wheels/ from hellogreet/ (standard library only, no
network, no pip): pure-Python wheels whose bytes depend only on this script and the source, so
rebuilding changes nothing unless they do. Run it after editing hellogreet/ or VERSIONS.

The example app (roles/app) installs one of them into its venv with pip `--no-index
--find-links` (the pin: `app_greeting_version`); two versions are here so that changing the
pin can be tried (and is tested: tests/deploy.rs).
"""
import base64
import hashlib
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "files", "wheels")
VERSIONS = {"1.0": "hello", "1.1": "hello again"}
NAME = "hellogreet"


def digest(data):
    d = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={d},{len(data)}"


def build(version, greeting):
    with open(os.path.join(HERE, NAME, "__init__.py")) as f:
        init = f.read().replace("@VERSION@", version).replace("@GREETING@", greeting)
    info = f"{NAME}-{version}.dist-info"
    files = {
        f"{NAME}/__init__.py": init.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\nSummary: the example app's greeting\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: roles/app/wheels/make.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{p},{digest(b)}\n" for p, b in files.items()) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    path = os.path.join(OUT, f"{NAME}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for p, b in files.items():
            zi = zipfile.ZipInfo(p, date_time=(2026, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, b)
    print(path)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for v, g in VERSIONS.items():
        build(v, g)
