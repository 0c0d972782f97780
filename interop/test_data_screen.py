"""Poisoning screens: `mlsec data screen` on the digits data with injected faults (5% flipped labels, exact and
near-duplicate rows, rows with a block of out-of-range pixels, training rows copied into the test file). The screens
must find them: label-flip suspects at >= 0.8 precision and >= 0.8 recall (at the default threshold 0.85), every
injected duplicate and leak named with its source row, the corrupted rows at the top of the outliers."""
import json

import numpy as np
import pytest

from conftest import mlsec

SEED = 20
FLIP_RATE = 0.05


def digits(split):
    d = json.loads(mlsec("bench", "export-digits", "--split", split, check=0).stdout)
    return np.array(d["x"], dtype=np.float64), np.array(d["y"])


def write_csv(path, x, y=None):
    names = [f"p{i}" for i in range(x.shape[1])]
    lines = [",".join(names + (["label"] if y is not None else []))]
    for r in range(len(x)):
        lines.append(",".join([repr(float(v)) for v in x[r]] + ([str(int(y[r]))] if y is not None else [])))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    """The train split with faults, the test split with copied training rows, and what was injected where."""
    d = tmp_path_factory.mktemp("screen")
    rng = np.random.default_rng(SEED)
    x, y = digits("train")
    xt, yt = digits("test")
    n = len(y)
    order = rng.permutation(n)
    flipped = np.sort(order[:int(FLIP_RATE * n)])
    corrupted = np.sort(order[int(FLIP_RATE * n):int(FLIP_RATE * n) + 6])
    sources = order[200:215]  # clean rows: 10 copied exactly, 5 nearly
    y = y.copy()
    for i in flipped:
        y[i] = rng.choice([c for c in range(10) if c != y[i]])
    x = x.copy()
    for i in corrupted:  # a 2x4 block of pixels at 4.0 (pixels lie in [0, 1])
        img = x[i].reshape(8, 8)
        r, c = rng.integers(0, 7), rng.integers(0, 5)
        img[r:r + 2, c:c + 4] = 4.0
    copies = [x[s].copy() for s in sources]
    for c in copies[10:]:  # near copies: two of the busiest pixels move by one grey level
        busiest = np.argsort(-x.std(axis=0))[:2]
        c[busiest] = np.clip(c[busiest] + 1 / 16, 0, 1)
    duplicate_rows = list(range(n, n + len(sources)))
    x = np.vstack([x, np.array(copies)])
    y = np.concatenate([y, y[sources]])
    write_csv(d / "train.csv", x, y)
    # Test file: the clean test split with 8 training rows copied in at known places, 4 of them nearly.
    leaked_sources = order[300:308]
    leak_at = sorted(rng.choice(len(yt) + 8, 8, replace=False))
    rows, labels, leaks = [], [], {}
    src = iter(leaked_sources)
    it = iter(range(len(yt)))
    for pos in range(len(yt) + 8):
        if pos in leak_at:
            s = next(src)
            row = x[s].copy()
            if len(leaks) >= 4:
                row[np.argsort(-x.std(axis=0))[0]] += 1 / 16
            rows.append(row)
            labels.append(y[s])
            leaks[pos] = int(s)
        else:
            i = next(it)
            rows.append(xt[i])
            labels.append(yt[i])
    write_csv(d / "test.csv", np.array(rows), np.array(labels))
    return {"dir": d, "flipped": set(map(int, flipped)), "corrupted": set(map(int, corrupted)),
            "duplicates": dict(zip(duplicate_rows, map(int, sources))), "leaks": leaks, "rows": len(y)}


@pytest.fixture(scope="module")
def report(poisoned):
    d = poisoned["dir"]
    proc = mlsec("data", "screen", d / "train.csv", "--label-column", "label", "--test", d / "test.csv",
                 "--format", "json", check=1)
    return json.loads(proc.stdout)


def of_kind(report, kind):
    return [s for s in report["suspects"] if s["kind"] == kind]


def test_suspects_are_sorted_and_summarised(report, poisoned):
    scores = [float(s["score"]) for s in report["suspects"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    summary = report["summary"]
    assert summary["rows"] == poisoned["rows"] and summary["test_rows"] == 368 and summary["features"] == 64
    for kind in ("label-flip", "duplicate", "outlier", "leak"):
        assert summary["counts"][kind] == len(of_kind(report, kind))
    assert float(summary["settings"]["label_flip_threshold"]) == 0.85 and summary["settings"]["k"] == 10


def test_flipped_labels_are_found_at_80_percent_precision_and_recall(report, poisoned):
    found = {s["row"] for s in of_kind(report, "label-flip")}
    flipped = poisoned["flipped"]
    precision = len(found & flipped) / len(found)
    recall = len(found & flipped) / len(flipped)
    print(f"label-flip: {len(found)} suspects, {len(flipped)} flipped, precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.8 and recall >= 0.8


def test_duplicates_are_found_with_their_source(report, poisoned):
    found = {s["row"]: s for s in of_kind(report, "duplicate")}
    for row, source in poisoned["duplicates"].items():
        assert row in found, f"duplicate row {row} (of {source}) not found"
        assert found[row]["of_row"] == source
        assert found[row]["exact"] == (row - min(poisoned["duplicates"]) < 10)
    assert set(found) == set(poisoned["duplicates"])  # no natural digit is a near copy of another


def test_leaks_name_the_test_row_and_the_training_row(report, poisoned):
    found = {s["row"]: s for s in of_kind(report, "leak")}
    assert set(found) == set(poisoned["leaks"])
    for row, source in poisoned["leaks"].items():
        assert found[row]["train_row"] == source


def test_corrupted_rows_top_the_outliers(report, poisoned):
    outliers = [s["row"] for s in of_kind(report, "outlier")]
    print(f"outliers: {len(outliers)}, corrupted rows at ranks",
          sorted(outliers.index(r) if r in outliers else None for r in poisoned["corrupted"]))
    assert set(outliers[:len(poisoned["corrupted"])]) == poisoned["corrupted"]


def test_text_table_and_exit_codes(poisoned, tmp_path):
    d = poisoned["dir"]
    text = mlsec("data", "screen", d / "train.csv", "--label-column", "label", "--top", 5, check=1).stdout
    assert "label-flip" in text and "row" in text and "more (--top N" in text
    clean = tmp_path / "clean.csv"
    clean.write_text("a,b,colour,label\n" + "".join(f"{i % 7},{(i * 3) % 11},{'red' if i % 2 else 'blue'},{i % 2}\n" for i in range(40)))
    out = json.loads(mlsec("data", "screen", clean, "--label-column", "label", "--format", "json",
                           "--outlier-threshold", 1, "--label-flip-threshold", 1, check=0).stdout)
    assert out["suspects"] == [] and any(c["action"] == "one-hot" for c in out["summary"]["columns"])
    missing = tmp_path / "missing.csv"
    missing.write_text("a,b,label\n1,2,0\n,3,1\n2,NA,0\n4,5,1\n")
    out = json.loads(mlsec("data", "screen", missing, "--label-column", "label", "--format", "json").stdout)
    assert {(c["column"], c["action"], c["count"]) for c in out["summary"]["columns"]} == {
        ("a", "imputed-median", 1), ("b", "imputed-median", 1)}
    assert mlsec("data", "screen", missing, "--label-column", "nope").returncode == 2
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,label\n1,2,0\n1,2\n")
    proc = mlsec("data", "screen", ragged, "--label-column", "label")
    assert proc.returncode == 2 and "line 3" in proc.stderr
    bad = tmp_path / "inf.csv"
    bad.write_text("a,label\n1,0\ninf,1\n")
    assert mlsec("data", "screen", bad, "--label-column", "label").returncode == 2
    assert mlsec("data", "screen", clean, "--label-column", "label", "--max-rows", 10).returncode == 2
