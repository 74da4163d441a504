"""DataCite and Croissant metadata of a tevolop version, checked with independent tools.

* `mlcroissant validate` (MLCommons' reference validator, PyPI `mlcroissant`) accepts the
  bag's metadata/croissant.json, and mlcroissant loads the Parquet RecordSet
  `splits_locations` with the right number of rows;
* the DataCite attributes validate against the vendored DataCite 4.6 JSON Schema with the
  Python `jsonschema` package (the Rust tests use the Rust `jsonschema` crate);
* bagit-python still validates the bag with the metadata files added (they are tag files).

mlcroissant 1.1 reads Parquet only when a FileObject's encodingFormat includes
`application/x-parquet`; sciml-data lists it after the registered
`application/vnd.apache.parquet` (see docs/metadata.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bagit
import jsonschema
import pyarrow.parquet as pq
import pytest

from conftest import DATASET, REPO_ROOT, ingest

VERSION = "1.0.0"


@pytest.fixture(scope="module")
def version(sciml_bin, realdata_csv, tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("metadata") / "repo"
    ingest(sciml_bin, realdata_csv, repo, VERSION)
    return repo / DATASET / VERSION


def test_mlcroissant_validates_the_croissant_file(version):
    croissant = version / "metadata" / "croissant.json"
    proc = subprocess.run(
        [sys.executable, "-m", "mlcroissant.scripts.cli", "validate", "--jsonld", str(croissant)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stderr.lower().replace("0 error", ""), proc.stderr


def test_mlcroissant_loads_a_parquet_record_set(version):
    import mlcroissant as mlc

    ds = mlc.Dataset(jsonld=str(version / "metadata" / "croissant.json"))
    records = list(ds.records(record_set="splits_locations"))
    table = pq.read_table(version / "data" / "splits" / "locations.parquet")
    assert len(records) == table.num_rows == 2400
    # The records carry the file's values, in the file's order.
    pixels = [int(r["splits_locations/pixel"]) for r in records]
    assert pixels == table.column("pixel").to_pylist()
    active = sum(bool(r["splits_locations/active"]) for r in records)
    assert active == sum(table.column("active").to_pylist())


def test_croissant_checksums_match_the_files(version):
    doc = json.loads((version / "metadata" / "croissant.json").read_text())
    import hashlib

    objects = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    manifest = {}
    for line in (version / "manifest-sha256.txt").read_text().splitlines():
        h, p = line.split("  ", 1)
        manifest[p] = h
    assert sorted(o["@id"] for o in objects) == sorted(manifest)
    for o in objects:
        path = (version / "metadata" / o["contentUrl"]).resolve()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == o["sha256"] == manifest[o["@id"]]


def test_datacite_validates_against_the_vendored_schema(version):
    schema = json.loads((REPO_ROOT / "schemas" / "datacite-v4.6.json").read_text())
    doc = json.loads((version / "metadata" / "datacite.json").read_text())
    assert doc["data"]["type"] == "dois"
    attrs = doc["data"]["attributes"]
    jsonschema.Draft201909Validator(schema).validate(attrs)
    assert "doi" not in attrs  # no DOI given: none invented
    record = json.loads((version.parent / "versions" / f"{VERSION}.json").read_text())
    assert attrs["alternateIdentifiers"][0]["alternateIdentifier"] == record["digest"]
    assert attrs["version"] == VERSION


def test_bagit_validates_the_bag_with_metadata(version):
    bag = bagit.Bag(str(version))
    bag.validate()  # raises on any failure, checking payload and tag manifests
    tags = {line.split("  ", 1)[1] for line in (version / "tagmanifest-sha256.txt").read_text().splitlines()}
    assert {"metadata/datacite.json", "metadata/croissant.json"} <= tags
