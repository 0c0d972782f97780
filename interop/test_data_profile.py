"""Schemas and validation: `mlsec data profile` learns the digits training split, and `mlsec data validate` holds
other data to it. The clean test split (360 rows the profile never saw) passes with no anomaly at all; each injected
fault is reported by column, kind and row (out-of-range pixels, a text value in a number column, an unseen category,
missing values above the allowance, duplicated rows, a shifted feature, a shifted label distribution, a missing and
an unexpected column); blocking kinds exit 1, drift alone exits 0; the JSON keeps the contract's keys. Statistics are
checked against NumPy, and malformed schemas and data exit 2 naming the problem."""
import json
import os

import numpy as np
import pytest

from conftest import mlsec

SEED = 3


def digits(split):
    d = json.loads(mlsec("bench", "export-digits", "--split", split, check=0).stdout)
    return np.array(d["x"], dtype=np.float64), np.array(d["y"])


def write_csv(path, columns, rows):
    with open(path, "w") as f:
        f.write(",".join(columns) + "\n")
        for row in rows:
            f.write(",".join(row) + "\n")
    return path


def table(x, y, extra=None):
    """Digits rows as CSV fields (pixels as Python floats, the label as an integer), with an optional colour column."""
    columns = [f"pixel{i}" for i in range(x.shape[1])] + ["label"] + (["colour"] if extra is not None else [])
    rows = [[repr(float(v)) for v in x[r]] + [str(int(y[r]))] + ([extra[r]] if extra is not None else [])
            for r in range(len(x))]
    return columns, rows


def validate(data, schema, check=None):
    proc = mlsec("data", "validate", data, "--schema", schema, "--format", "json", check=check)
    return proc.returncode, json.loads(proc.stdout)


def kinds(report):
    return {(a["column"], a["kind"]): a for a in report["anomalies"]}


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    d = tmp_path_factory.mktemp("profile")
    x, y = digits("train")
    colours = np.random.default_rng(SEED).choice(["red", "green", "blue"], len(y))
    columns, rows = table(x, y, list(colours))
    train = write_csv(d / "train.csv", columns, rows)
    out = json.loads(mlsec("data", "profile", train, "--label-column", "label", "--out", d / "schema.json",
                           check=0).stdout)
    schema = json.loads((d / "schema.json").read_text())
    xt, yt = digits("test")
    colours_t = list(np.random.default_rng(SEED + 1).choice(["red", "green", "blue"], len(yt)))
    return {"dir": d, "x": x, "y": y, "xt": xt, "yt": yt, "colours": colours_t, "schema": schema, "out": out}


def test_profile_matches_numpy(profiled):
    schema, x, y = profiled["schema"], profiled["x"], profiled["y"]
    assert profiled["out"]["rows"] == len(y) == schema["rows"]
    assert profiled["out"]["types"] == {"categorical": 1, "float": 64, "integer": 1}
    columns = {c["name"]: c for c in schema["columns"]}
    assert columns["label"]["type"] == "integer" and columns["colour"]["type"] == "categorical"
    assert set(columns["colour"]["categories"]) == {"red", "green", "blue"}
    for i in (5, 20, 43):
        c, v = columns[f"pixel{i}"], x[:, i]
        assert c["observed_min"] == v.min() and c["observed_max"] == v.max()
        assert abs(c["mean"] - v.mean()) < 1e-9 and abs(c["std"] - v.std(ddof=1)) < 1e-9
        assert (c["min"], c["max"]) == (0.0, 1.0)   # pixels are seen within [0, 1] and held to it
        assert abs(sum(c["decile_shares"]) - 1) < 1e-9
    counts = np.bincount(y, minlength=10) / len(y)
    for label, share in schema["label_distribution"].items():
        assert abs(share - counts[int(label)]) < 1e-12
    assert os.stat(profiled["dir"] / "schema.json").st_mode & 0o777 in (0o600, 0o644)


def test_clean_held_out_data_has_no_anomaly(profiled):
    d = profiled["dir"]
    columns, rows = table(profiled["xt"], profiled["yt"], profiled["colours"])
    code, report = validate(write_csv(d / "clean.csv", columns, rows), d / "schema.json", check=0)
    assert code == 0 and report["valid"] is True and report["anomalies"] == [], report
    assert report["rows"] == len(profiled["yt"])


def test_each_injected_fault_is_named_by_column_kind_and_row(profiled):
    d = profiled["dir"]
    xt, yt, colours = profiled["xt"].copy(), profiled["yt"], list(profiled["colours"])
    xt[[4, 17, 99], 10] = 4.0            # out-of-range pixels (pixels lie in [0, 1])
    xt[250, 33] = -0.5
    columns, rows = table(xt, yt, colours)
    rows[40][20] = "bright"             # a word in a number column
    rows[41][columns.index("label")] = "7.5"   # not an integer
    rows[60][-1] = "purple"             # a category the training data never had
    for r in range(100, 130):            # 30 of 360 missing: over the 0.01 allowance
        rows[r][30] = ""
    rows.append(list(rows[5]))           # duplicated rows
    rows.append(list(rows[6]))
    rows.append(list(rows[6]))
    code, report = validate(write_csv(d / "faulty.csv", columns, rows), d / "schema.json", check=1)
    assert report["valid"] is False
    found = kinds(report)
    assert found[("pixel10", "out_of_range")]["rows"] == [4, 17, 99]
    assert found[("pixel33", "out_of_range")]["rows"] == [250]
    assert found[("pixel20", "type_error")]["rows"] == [40]
    assert found[("label", "type_error")]["rows"] == [41]
    assert found[("colour", "unseen_category")]["rows"] == [60]
    assert found[("pixel30", "missing")]["count"] == 30
    assert found[(None, "duplicates")]["rows"] == [360, 361, 362] and found[(None, "duplicates")]["count"] == 3
    for a in report["anomalies"]:
        assert {"column", "kind", "rows", "count", "severity", "detail"} <= set(a)
        assert a["severity"] in ("blocking", "warning")
    text = mlsec("data", "validate", d / "faulty.csv", "--schema", d / "schema.json", check=1).stdout
    assert "out_of_range pixel10" in text and "rows 4, 17, 99" in text.replace("rows 4,17,99", "rows 4, 17, 99")


def test_shifted_feature_and_labels_are_drift_not_errors(profiled):
    d = profiled["dir"]
    xt, yt = profiled["xt"].copy(), profiled["yt"].copy()
    xt[:, 42] = np.clip(xt[:, 42] + 0.4, 0, 1)     # one feature moves, still inside its domain
    keep = np.concatenate([np.where(yt < 5)[0], np.where(yt >= 5)[0][:40]])   # mostly classes 0-4
    columns, rows = table(xt[keep], yt[keep], [profiled["colours"][i] for i in keep])
    code, report = validate(write_csv(d / "shifted.csv", columns, rows), d / "schema.json", check=0)
    found = kinds(report)
    assert ("pixel42", "drift") in found and found[("pixel42", "drift")]["severity"] == "warning"
    assert ("label", "label_shift") in found
    drifted = {c for c, k in found if k == "drift"}
    assert len(drifted) <= 3, drifted     # the one moved feature, not the image
    assert code == 0 and report["valid"] is True   # drift warns; make it blocking in the schema to fail on it
    schema = json.loads((d / "schema.json").read_text())
    schema["blocking"] = schema["blocking"] + ["drift", "label_shift"]
    (d / "strict.json").write_text(json.dumps(schema))
    code, report = validate(d / "shifted.csv", d / "strict.json", check=1)
    assert report["valid"] is False


def test_missing_and_unexpected_columns(profiled):
    d = profiled["dir"]
    columns, rows = table(profiled["xt"], profiled["yt"])      # no colour column
    columns = columns + ["note"]
    rows = [r + ["x"] for r in rows]
    code, report = validate(write_csv(d / "columns.csv", columns, rows), d / "schema.json", check=1)
    found = kinds(report)
    assert ("colour", "missing_column") in found and ("note", "unexpected_column") in found


@pytest.mark.parametrize("edit,expected", [
    (lambda s: s.update(format="other"), "not an MLSec data schema"),
    (lambda s: s.update(blocking=["everything"]), "blocking"),
    (lambda s: s["columns"][3].update(min=2.0, max=1.0), "above max"),
    (lambda s: s["columns"][3].update(min="low"), "min"),
    (lambda s: s.update(drift_threshold=-1), "drift_threshold"),
    (lambda s: s.update(columns=[]), "columns"),
])
def test_malformed_schemas_exit_2(profiled, tmp_path, edit, expected):
    schema = json.loads((profiled["dir"] / "schema.json").read_text())
    edit(schema)
    (tmp_path / "bad.json").write_text(json.dumps(schema))
    columns, rows = table(profiled["xt"][:20], profiled["yt"][:20], profiled["colours"][:20])
    proc = mlsec("data", "validate", write_csv(tmp_path / "d.csv", columns, rows), "--schema", tmp_path / "bad.json",
                 check=2)
    assert expected in proc.stderr, proc.stderr


def test_malformed_data_exits_2(profiled, tmp_path):
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    proc = mlsec("data", "validate", tmp_path / "ragged.csv", "--schema", profiled["dir"] / "schema.json", check=2)
    assert "row 2" in proc.stderr and "fields" in proc.stderr
    (tmp_path / "quote.csv").write_text('a,b\n"1,2\n')
    proc = mlsec("data", "profile", tmp_path / "quote.csv", "--out", tmp_path / "s.json", check=2)
    assert not (tmp_path / "s.json").exists()
    proc = mlsec("data", "profile", tmp_path / "missing.csv", "--out", tmp_path / "s.json", check=2)
    assert "missing.csv" in proc.stderr
