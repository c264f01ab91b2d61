import json
import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "rnnproof", *args], capture_output=True,
                          text=True, env={"RNNPROOF_BACKEND": "numpy", "PATH": ""}, timeout=300)


def test_check_table_and_json(tmp_path):
    out = tmp_path / "r.json"
    p = run("check", "definition-3.1", "footnote-3", "--json", str(out))
    assert p.returncode == 0, p.stderr
    assert "definition-3.1" in p.stdout and "2 of 2 passed" in p.stdout
    rows = json.loads(out.read_text())
    assert {r["id"] for r in rows} == {"definition-3.1", "footnote-3"}
    assert all({"id", "label", "claim", "passed", "measured"} <= set(r) for r in rows)


def test_unknown_id_is_an_error():
    p = run("check", "lemma-99")
    assert p.returncode == 2 and "unknown check ids" in p.stderr


def test_info():
    p = run("info")
    assert p.returncode == 0 and "backend: numpy" in p.stdout


def test_exit_status_fails_only_on_refuted():
    from rnnproof.__main__ import exit_status
    assert exit_status(["exact", "confirmed", "corrected", "inconclusive", "out-of-reach"]) == 0
    assert exit_status(["confirmed", "refuted"]) == 1
    assert exit_status([]) == 0
