"""Interoperability of a `sciml-data ingest candle` version (dataset `candle-uno`).

The binary synthesizes a CANDLE Pilot1 file set (`synth candle`), which is ingested
together with the real drug annotation table ../shared/realdata/candle/combined.panther.targets
(ECP-CANDLE/Benchmarks @ 7c4a1f25, MIT). Expected values come from pandas reading the TSV
inputs the way uno_data.py does; the readers are pandas/pyarrow, DuckDB and zarr-python.
The split is checked against scikit-learn's ShuffleSplit, the AUC recomputation against
scipy's curve_fit with the definition of sources.md 3.2.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import zarr

from conftest import REPO_ROOT, run_cli

PANTHER = REPO_ROOT.parent / "shared" / "realdata" / "candle" / "combined.panther.targets"
NA = ["na", "-", ""]
F32 = ["AUC", "IC50", "EC50", "EC50se", "R2fit", "Einf", "HS", "AAC1", "AUC1", "DSS1"]


@pytest.fixture(scope="module")
def candle(sciml_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("candle")
    raw = tmp / "raw"
    run_cli(sciml_bin, "synth", "candle", "--out", raw)
    repo = tmp / "repo"
    run_cli(sciml_bin, "ingest", "candle", "--input", raw, PANTHER, "--repo", repo,
            "--version", "1.0.0", "--recompute-auc")
    bag = repo / "candle-uno" / "1.0.0"
    assert bag.is_dir()
    return raw, bag


def read_partitioned(table_dir: Path) -> pd.DataFrame:
    """Partitions in path order, files in order, SOURCE from the directory name."""
    frames = []
    for part in sorted(table_dir.iterdir()):
        key, value = part.name.split("=", 1)
        for f in sorted(part.glob("*.parquet")):
            df = pq.read_table(f).to_pandas()
            df.insert(0, key, value)
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def assert_frames_equal(got: pd.DataFrame, want: pd.DataFrame):
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for c in want.columns:
        g, w = got[c].to_numpy(), want[c].to_numpy()
        if want[c].dtype.kind == "f":
            assert g.dtype == w.dtype, c
            np.testing.assert_array_equal(g, w, err_msg=c)  # NaN == NaN here
        else:
            gw = [None if (x is None or (isinstance(x, float) and np.isnan(x))) else x for x in g]
            ww = [None if (x is None or (isinstance(x, float) and np.isnan(x))) else x for x in w]
            assert gw == ww, c


def test_responses_read_back_equal_to_the_tsv(candle):
    raw, bag = candle
    want = pd.read_csv(raw / "combined_single_response_agg", sep="\t", na_values=NA,
                       dtype={"SOURCE": str, "CELL": str, "DRUG": str, "STUDY": str,
                              **{c: np.float32 for c in F32}})
    want = want.sort_values("SOURCE", kind="stable").reset_index(drop=True)
    got = read_partitioned(bag / "data" / "responses")[list(want.columns)]
    assert_frames_equal(got, want)
    # The Parquet types are the reference's.
    schema = pq.read_schema(next((bag / "data" / "responses").glob("*/part-0.parquet")))
    assert str(schema.field("AUC").type) == "float"
    assert str(schema.field("CELL").type) == "string"


def test_growth_reads_back_equal_and_duckdb_sees_the_partitions(candle):
    raw, bag = candle
    want = pd.read_csv(raw / "rescaled_combined_single_drug_growth", sep="\t", na_values=NA,
                       dtype={"SOURCE": str, "DRUG_ID": str, "CELLNAME": str, "CONCUNIT": str,
                              "LOG_CONCENTRATION": np.float32, "EXPID": str, "GROWTH": np.float32})
    want = want.sort_values("SOURCE", kind="stable").reset_index(drop=True)
    got = read_partitioned(bag / "data" / "growth")[list(want.columns)]
    assert_frames_equal(got, want)
    n = duckdb.sql(
        f"SELECT SOURCE, count(*) AS n FROM read_parquet('{bag}/data/growth/*/*.parquet', hive_partitioning=true) "
        "GROUP BY SOURCE ORDER BY SOURCE").fetchall()
    assert n == sorted(want.groupby("SOURCE").size().items())


def test_quality_view_counts_and_no_row_is_dropped(candle):
    raw, bag = candle
    df = pd.read_csv(raw / "combined_single_response_agg", sep="\t", na_values=NA,
                     dtype={c: np.float32 for c in F32})
    want = int(((df.R2fit >= 0.3) & (df.EC50se <= 3)).sum())
    views = json.loads((bag / "data" / "views.json").read_text())["views"]
    (v,) = [v for v in views if v["name"] == "quality"]
    assert v["rows"] == want and v["rows_total"] == len(df)
    assert 0 < want < len(df)
    sql = v["duckdb"].replace("data/responses", f"{bag}/data/responses")
    assert duckdb.sql(f"SELECT count(*) FROM ({sql})").fetchall()[0][0] == want
    total = duckdb.sql(f"SELECT count(*) FROM read_parquet('{bag}/data/responses/*/*.parquet')").fetchall()[0][0]
    assert total == len(df)


def test_real_annotation_table(candle):
    _, bag = candle
    want = pd.read_csv(PANTHER, sep="\t", na_values=NA)
    got = pq.read_table(bag / "data" / "annotations" / "combined.panther.targets" / "part-0.parquet").to_pandas()
    assert len(got) == 1801
    assert got["qed_weighted"].dtype == np.float64
    assert_frames_equal(got, want)


@pytest.mark.parametrize("name,skip,header", [
    ("combined_rnaseq_data_lincs1000_source_scale", 0, True),
    ("NCI60_dragon7_descriptors.tsv", 0, True),
    ("NCI60_dragon7_PFP.tsv", 1, False),
    ("NCI60_dragon7_ECFP.tsv", 1, False),
])
def test_feature_matrices_equal_the_inputs(candle, name, skip, header):
    raw, bag = candle
    if header:
        df = pd.read_csv(raw / name, sep="\t", na_values=NA)
    else:
        df = pd.read_csv(raw / name, sep="\t", skiprows=skip, header=None)
    labels = df.iloc[:, 0].astype(str).tolist()
    want = df.iloc[:, 1:].to_numpy(np.float32)
    array = name.removesuffix(".tsv")
    z = zarr.open_array(store=str(bag / "data" / "features.zarr"), path=array, mode="r")
    assert z.dtype == np.float32 and z.shape == want.shape
    assert z.metadata.dimension_names[1] == "feature"
    np.testing.assert_array_equal(z[:], want)
    # A slice of rows and a block of features read alone.
    np.testing.assert_array_equal(z[3:7, 10:20], want[3:7, 10:20])
    rows = pq.read_table(bag / "data" / "features" / array / "rows.parquet").to_pandas()
    cols = pq.read_table(bag / "data" / "features" / array / "columns.parquet").to_pandas()
    assert rows.iloc[:, 1].tolist() == labels
    np.testing.assert_array_equal(cols["missing"].to_numpy(), np.isnan(want).sum(axis=0))
    if header:
        assert cols["name"].tolist() == list(df.columns[1:])
    assert z.attrs["missing_values"] == int(np.isnan(want).sum())


def test_split_is_sklearn_shufflesplit_over_drug_groups(candle):
    from sklearn.model_selection import ShuffleSplit

    _, bag = candle
    s = pq.read_table(bag / "data" / "splits" / "drugs.parquet").to_pandas()
    groups = s.drop_duplicates("group_index").sort_values("group_index")
    n = len(groups)
    ((train, val),) = ShuffleSplit(n_splits=1, train_size=0.8, test_size=0.2, random_state=2018).split(np.arange(n))
    want = np.array([None] * n, dtype=object)
    want[train] = "train"
    want[val] = "validation"
    assert groups["split"].tolist() == want.tolist()
    # Validation drugs are unseen in training.
    assert not set(s[s.split == "train"].DRUG) & set(s[s.split == "validation"].DRUG)


def test_auc_recomputation_agrees_with_scipy(candle):
    from scipy.optimize import curve_fit

    raw, bag = candle

    def curve(x, einf, ec50, hs):
        return einf + (1 - einf) / (1 + 10 ** ((ec50 - x) * hs))

    def integral(x, einf, ec50, hs):
        return (1 - einf) * np.log10(1 + 10 ** ((ec50 - x) * hs)) / hs + x

    g = pd.read_csv(raw / "rescaled_combined_single_drug_growth", sep="\t", na_values=NA,
                    dtype={"EXPID": str, "LOG_CONCENTRATION": np.float32, "GROWTH": np.float32})
    rec = pq.read_table(bag / "data" / "recomputed" / "responses.parquet").to_pandas()
    assert len(rec) == g.groupby(["SOURCE", "CELLNAME", "DRUG_ID", "EXPID"]).ngroups
    diffs = []
    for (src, cell, drug, study), grp in g.groupby(["SOURCE", "CELLNAME", "DRUG_ID", "EXPID"]):
        x = -grp.LOG_CONCENTRATION.to_numpy(np.float64)
        y = (grp.GROWTH.to_numpy(np.float64) / 100 / 2 + 0.5).clip(0, 1)
        popt, nfev = None, 300
        while popt is None and nfev < 10000:   # curve.py's retry loop
            try:
                popt, _ = curve_fit(curve, x, y, bounds=([0, 0, 0], [1, 12, 4]), max_nfev=nfev)
            except RuntimeError:
                nfev *= 2
        r = rec[(rec.SOURCE == src) & (rec.CELL == cell) & (rec.DRUG == drug) & (rec.STUDY == study)].iloc[0]
        ours = (r.Einf, r.EC50, r.HS)
        # The definition, in numpy, at our parameters gives our AUC.
        assert abs((integral(10, *ours) - integral(4, *ours)) / 6 - r.AUC) < 1e-9
        # Our least-squares fit is at least as good as scipy's.
        sse_ours = ((curve(x, *ours) - y) ** 2).sum()
        sse_scipy = ((curve(x, *popt) - y) ** 2).sum()
        assert sse_ours <= sse_scipy * (1 + 1e-5) + 1e-9, (src, cell, drug, study, sse_ours, sse_scipy)
        diffs.append(abs((integral(10, *popt) - integral(4, *popt)) / 6 - r.AUC))
    diffs = np.array(diffs)
    assert np.median(diffs) < 1e-4, np.median(diffs)
    assert (diffs < 1e-2).mean() >= 0.95, np.sort(diffs)[-10:]


# The drug-pair table as uno_data.load_combo_dose_response reads it (the nine columns of
# its usecols, with its dtypes); the other columns of the file keep pandas' inference.
COMBO_DTYPES = {"CELLNAME": str, "NSC1": str, "NSC2": str, "CONC1": np.float32, "CONC2": np.float32,
                "PERCENTGROWTH": np.float32, "VALID": str, "SCREENER": str, "STUDY": str}


def read_combo_csv(raw: Path) -> pd.DataFrame:
    return pd.read_csv(raw / "ComboDrugGrowth_Nov2017.csv", sep=",", engine="c", na_values=NA,
                       dtype=COMBO_DTYPES)


def test_combo_reads_back_equal_to_the_csv(candle):
    raw, bag = candle
    want = read_combo_csv(raw)
    assert len(want.columns) == 29
    want.insert(0, "SOURCE", "ALMANAC." + want["SCREENER"])
    want = want.sort_values("SOURCE", kind="stable").reset_index(drop=True)
    got = read_partitioned(bag / "data" / "combo_growth")
    assert sorted(got["SOURCE"].unique()) == ["ALMANAC.1A", "ALMANAC.FF", "ALMANAC.FG"]
    cols = ["SOURCE", *COMBO_DTYPES]
    assert_frames_equal(got[cols], want[cols])
    # The other columns: integers, floats and strings as pandas infers them.
    for c in ["COMBODRUGSEQ", "TESTDATE", "PERCENTGROWTHNOTZ", "TZVALUE", "EXPECTEDGROWTH", "SCORE"]:
        np.testing.assert_array_equal(got[c].to_numpy(np.float64), want[c].to_numpy(np.float64), err_msg=c)
    assert got["PLATE"].tolist() == want["PLATE"].tolist()
    schema = pq.read_schema(bag / "data" / "combo_growth" / "SOURCE=ALMANAC.FG" / "part-0.parquet")
    assert str(schema.field("CONC1").type) == "float" and str(schema.field("NSC1").type) == "string"
    assert str(schema.field("COMBODRUGSEQ").type) == "int64"
    # pyarrow.dataset and DuckDB see the partitions.
    import pyarrow.dataset as ds
    t = ds.dataset(bag / "data" / "combo_growth", partitioning="hive").to_table()
    assert t.num_rows == len(want)
    n = duckdb.sql(
        f"SELECT SOURCE, count(*) FROM read_parquet('{bag}/data/combo_growth/*/*.parquet', hive_partitioning=true) "
        "GROUP BY SOURCE ORDER BY SOURCE").fetchall()
    assert n == sorted(want.groupby("SOURCE").size().items())


def test_combo_valid_view_and_the_reference_frame(candle):
    raw, bag = candle
    df = read_combo_csv(raw)
    keep = df[df["VALID"] == "Y"]
    assert 0 < len(keep) < len(df)
    views = json.loads((bag / "data" / "views.json").read_text())["views"]
    assert [v["name"] for v in views] == ["quality", "combo_valid"]
    v = views[1]
    assert v["filter"] == "VALID = 'Y'" and v["rows"] == len(keep) and v["rows_total"] == len(df)
    assert v["by_source"] == {f"ALMANAC.{k}": int(n) for k, n in keep.groupby("SCREENER").size().items()}
    sql = v["duckdb"].replace("data/", f"{bag}/data/")
    assert duckdb.sql(f"SELECT count(*) FROM ({sql})").fetchall()[0][0] == len(keep)

    # load_combo_dose_response(fraction=True), written out (its in-place assignments aside).
    cellmap = pd.read_csv(raw / "NCI60_CELLNAME_to_Combo.txt", sep="\t").set_index("Name")["NCI60.ID"].to_dict()
    ref = pd.DataFrame({
        "SOURCE": "ALMANAC." + keep["SCREENER"],
        "CELL": keep["CELLNAME"].map(lambda x: cellmap[x]),
        "DRUG1": "NSC." + keep["NSC1"],
        "DOSE1": -np.log10(keep["CONC1"]),
        "DRUG2": "NSC." + keep["NSC2"],
        "DOSE2": -np.log10(keep["CONC2"]),
        "GROWTH": keep["PERCENTGROWTH"] / 100,
        "STUDY": keep["STUDY"],
    })
    frame = v["reference_frame_duckdb"].replace("data/", f"{bag}/data/")
    got = duckdb.sql(frame).df()
    assert list(got.columns) == list(ref.columns) and len(got) == len(ref)
    key = ["SOURCE", "CELL", "DRUG1", "DOSE1", "DRUG2", "DOSE2", "STUDY", "GROWTH"]

    def norm(d):
        d = d.copy()
        for c in ["DOSE1", "DOSE2", "GROWTH"]:
            d[c] = d[c].astype(np.float64).round(5)
        for c in ["SOURCE", "CELL", "DRUG1", "DRUG2", "STUDY"]:
            d[c] = d[c].astype(object).where(d[c].notna(), "")
        return d.sort_values(key).reset_index(drop=True)

    g, w = norm(got), norm(ref)
    for c in ["SOURCE", "CELL", "DRUG1", "DRUG2", "STUDY"]:
        assert g[c].tolist() == w[c].tolist(), c
    for c in ["DOSE1", "DOSE2", "GROWTH"]:
        np.testing.assert_allclose(g[c].to_numpy(), w[c].to_numpy(), rtol=1e-6, atol=1e-6, err_msg=c)


def test_mordred_matrix_equals_pandas(candle):
    raw, bag = candle
    name = "extended_combined_mordred_descriptors"
    # uno_data.load_mordred_descriptors: read, to_numeric(errors='coerce'), float32.
    df = pd.read_csv(raw / name, engine="c", sep="\t", na_values=NA)
    want = df.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").astype(np.float32).to_numpy()
    assert df.columns[0] == "DRUG"
    z = zarr.open_array(store=str(bag / "data" / "features.zarr"), path=name, mode="r")
    assert z.dtype == np.float32 and z.shape == want.shape
    assert list(z.metadata.dimension_names) == ["drug", "feature"]
    np.testing.assert_array_equal(z[:], want)  # NaN where missing or not a number
    assert np.isnan(want).any()
    rows = pq.read_table(bag / "data" / "features" / name / "rows.parquet").to_pandas()
    cols = pq.read_table(bag / "data" / "features" / name / "columns.parquet").to_pandas()
    assert rows["DRUG"].tolist() == df["DRUG"].astype(str).tolist()
    assert cols["name"].tolist() == list(df.columns[1:])
    np.testing.assert_array_equal(cols["missing"].to_numpy(), np.isnan(want).sum(axis=0))
    np.testing.assert_array_equal(rows["missing"].to_numpy(), np.isnan(want).sum(axis=1))
    assert z.attrs["missing_values"] == int(np.isnan(want).sum())
