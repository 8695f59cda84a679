#!/usr/bin/env python3
"""What the shipped Rust code is made of, from `cargo metadata` alone (offline).

    rust-deps.py sbom OUT.json     CycloneDX 1.5 SBOM of the released crates' dependencies
    rust-deps.py licenses          every dependency's licence against packaging/licenses-allowed.txt

Both read the lock file's resolution for the release target, following normal
and build dependencies (what ends up in, or builds, an artifact) and leaving out
dev-dependencies. Installing cargo-deny or cargo-cyclonedx would compile for
minutes on every CI run; this needs only Python's standard library.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_FILE = ROOT / "packaging" / "licenses-allowed.txt"
# The crates whose artifacts are released (the CLI brings the emulator and relay).
RELEASED = {"graphmailer-cli", "graphmailer-ffi", "graphmailer-python", "graphmailer-node"}


def metadata():
    target = os.environ.get("CARGO_BUILD_TARGET") or "x86_64-unknown-linux-gnu"
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", target],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def shipped(meta):
    """The packages reachable from the released crates by normal and build edges."""
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    todo = [pid for pid, p in packages.items() if p["name"] in RELEASED and pid in meta["workspace_members"]]
    seen = set()
    edges = {}
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        deps = []
        for dep in nodes[pid]["deps"]:
            if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]):
                deps.append(dep["pkg"])
                todo.append(dep["pkg"])
        edges[pid] = sorted(set(deps))
    return [packages[pid] for pid in sorted(seen)], edges, packages


def lock_checksums():
    """name@version -> the registry's SHA-256 of the .crate, as the lock file records it."""
    sums = {}
    text = (ROOT / "Cargo.lock").read_text()
    for block in text.split("[[package]]"):
        name = re.search(r'^name = "(.+)"', block, re.M)
        version = re.search(r'^version = "(.+)"', block, re.M)
        checksum = re.search(r'^checksum = "(.+)"', block, re.M)
        if name and version and checksum:
            sums[f"{name.group(1)}@{version.group(1)}"] = checksum.group(1)
    return sums


def purl(p):
    return f"pkg:cargo/{p['name']}@{p['version']}"


def sbom(out_path):
    meta = metadata()
    pkgs, edges, by_id = shipped(meta)
    sums = lock_checksums()
    workspace = set(meta["workspace_members"])
    version = next(p["version"] for p in pkgs if p["name"] == "graphmailer-cli")
    components = []
    for p in pkgs:
        if p["id"] in workspace:
            continue
        c = {
            "type": "library",
            "bom-ref": purl(p),
            "name": p["name"],
            "version": p["version"],
            "purl": purl(p),
            "scope": "required",
        }
        if p.get("license"):
            c["licenses"] = [{"expression": normalise(p["license"])}]
        if p.get("description"):
            c["description"] = p["description"].strip()
        checksum = sums.get(f"{p['name']}@{p['version']}")
        if checksum:
            c["hashes"] = [{"alg": "SHA-256", "content": checksum}]
        if p.get("repository"):
            c["externalReferences"] = [{"type": "vcs", "url": p["repository"]}]
        components.append(c)
    # A fixed serial and timestamp for a given lock file keep the SBOM reproducible.
    lock_digest = hashlib.sha256((ROOT / "Cargo.lock").read_bytes()).hexdigest()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    root_ref = f"pkg:cargo/graphmailer@{version}"
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'graphmailer-' + lock_digest)}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "component": {
                "type": "application",
                "bom-ref": root_ref,
                "name": "graphmailer",
                "version": version,
                "licenses": [{"expression": "MIT OR Apache-2.0"}],
                "purl": root_ref,
            },
        },
        "components": components,
        "dependencies": [],
    }
    for pid, deps in edges.items():
        ref = root_ref if pid in workspace else purl(by_id[pid])
        dep_refs = sorted({root_ref if d in workspace else purl(by_id[d]) for d in deps} - {ref})
        bom["dependencies"].append({"ref": ref, "dependsOn": dep_refs})
    # Workspace crates are one component (the root); merge their edges.
    merged = {}
    for d in bom["dependencies"]:
        merged.setdefault(d["ref"], set()).update(d["dependsOn"])
    bom["dependencies"] = [{"ref": r, "dependsOn": sorted(s)} for r, s in sorted(merged.items())]
    Path(out_path).write_text(json.dumps(bom, indent=2) + "\n")
    print(f"SBOM: {len(components)} components -> {out_path}")


def normalise(expression):
    # Old crates write "MIT/Apache-2.0"; SPDX spells that "MIT OR Apache-2.0".
    return re.sub(r"\s*/\s*", " OR ", expression.strip())


def allowed_list():
    lines = ALLOWED_FILE.read_text().splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


def satisfied(expression, allowed):
    """True when some choice the SPDX expression offers uses allowed licences only."""
    tokens = re.findall(r"\(|\)|[A-Za-z0-9.+-]+", normalise(expression))
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def primary():
        if peek() == "(":
            take()
            value = disjunction()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {expression!r}")
            return value
        licence = take()
        if peek() == "WITH":
            take()
            licence = f"{licence} WITH {take()}"
        return licence in allowed

    def conjunction():
        value = primary()
        while peek() == "AND":
            take()
            value = primary() and value
        return value

    def disjunction():
        value = conjunction()
        while peek() == "OR":
            take()
            value = conjunction() or value
        return value

    result = disjunction()
    if pos != len(tokens):
        raise ValueError(f"cannot read licence expression {expression!r}")
    return result


def licenses():
    allowed = allowed_list()
    pkgs, _, _ = shipped(metadata())
    bad = []
    for p in pkgs:
        if p["source"] is None:
            continue  # the workspace's own crates
        expression = p.get("license")
        if not expression:
            bad.append(f"{p['name']} {p['version']}: no SPDX licence expression (license-file only)")
        elif not satisfied(expression, allowed):
            bad.append(f"{p['name']} {p['version']}: {expression}")
    for line in bad:
        print(f"licence not allowed: {line}", file=sys.stderr)
    print(f"licences: {len(pkgs)} crates checked, {len(bad)} not allowed")
    return 1 if bad else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "sbom":
        sbom(argv[2])
        return 0
    if len(argv) == 2 and argv[1] == "licenses":
        return licenses()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
