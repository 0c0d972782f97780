"""`mlsec privacy release` and `budget` on the real binary: the JSON contract, a release the budget cannot cover
(exit 1, nothing on stdout), concurrent processes that cannot overspend, group-by, and the ledger's audit log."""
import concurrent.futures
import json
import sqlite3

from conftest import mlsec


def table(tmp_path):
    rows = ["name,age,city"] + [f"p{i},{20 + i % 60},{'Oslo' if i % 3 else 'Rome'}" for i in range(600)]
    path = tmp_path / "people.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_release_contract_budget_and_refusal(tmp_path):
    data, ledger = table(tmp_path), tmp_path / "ledger.db"
    out = mlsec("privacy", "budget", "--ledger", ledger, "--dataset", "people", "--set-epsilon", "1",
                "--set-delta", "1e-6", check=0)
    assert json.loads(out.stdout) == {"dataset": "people", "epsilon_budget": 1.0, "delta_budget": 1e-6,
                                      "spent_epsilon": 0.0, "spent_delta": 0.0, "remaining_epsilon": 1.0}
    mean = json.loads(mlsec("privacy", "release", "--data", data, "--query", "mean", "--column", "age", "--bounds",
                            "0,100", "--epsilon", "0.5", "--ledger", ledger, "--dataset", "people", check=0).stdout)
    assert set(mean) == {"value", "mechanism", "epsilon", "delta", "remaining_epsilon"}
    assert mean["mechanism"] == "discrete_laplace" and abs(mean["value"] - 49.5) < 5 and mean["remaining_epsilon"] == 0.5
    grouped = json.loads(mlsec("privacy", "release", "--data", data, "--query", "count", "--column", "age",
                               "--group-by", "city", "--epsilon", "0.3", "--delta", "1e-7", "--ledger", ledger,
                               "--dataset", "people", check=0).stdout)
    assert set(grouped["values"]) == {"Oslo", "Rome"} and grouped["mechanism"] == "discrete_gaussian"
    assert all(v == int(v) for v in grouped["values"].values())
    refused = mlsec("privacy", "release", "--data", data, "--query", "sum", "--column", "age", "--bounds", "0,100",
                    "--epsilon", "0.5", "--ledger", ledger, "--dataset", "people", check=1)
    assert refused.stdout == "" and "nothing was released" in refused.stderr
    budget = json.loads(mlsec("privacy", "budget", "--ledger", ledger, "--dataset", "people", check=0).stdout)
    assert abs(budget["spent_epsilon"] - 0.8) < 1e-12 and budget["spent_delta"] == 1e-7
    # Every decision is an audit entry, and the audit log verifies.
    con = sqlite3.connect(f"file:{ledger}.audit?mode=ro", uri=True)
    events = [json.loads(r[0]) for r in con.execute("SELECT data FROM entries ORDER BY idx")]
    con.close()
    assert [e["decision"] for e in events] == ["allow", "allow", "allow", "deny"]
    assert mlsec("audit", "verify", "--log", f"{ledger}.audit", check=0).returncode == 0


def test_concurrent_processes_cannot_overspend(tmp_path):
    data, ledger = table(tmp_path), tmp_path / "ledger.db"
    mlsec("privacy", "budget", "--ledger", ledger, "--dataset", "d", "--set-epsilon", "1", check=0)

    def release(_):
        return mlsec("privacy", "release", "--data", data, "--query", "count", "--column", "age", "--epsilon", "0.2",
                     "--ledger", ledger, "--dataset", "d").returncode
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(release, range(10)))
    assert codes.count(0) == 5 and codes.count(1) == 5, codes
