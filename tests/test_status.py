from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from rnnproof import checks, status  # noqa: E402


def write_book(tmp_path: Path, labels: list[str]) -> Path:
    body = "\n".join(f"```{{prf:lemma}} L\n:label: {lab}\n\ntext\n```\n" for lab in labels)
    (tmp_path / "ch.md").write_text("# Chapter\n\n" + body)
    return tmp_path


def test_statements_are_parsed(tmp_path):
    st = status.book_statements(write_book(tmp_path, ["lemma-a", "lemma-b"]))
    assert set(st) == {"lemma-a", "lemma-b"} and st["lemma-a"].kind == "lemma"


def test_missing_label_fails_the_build(tmp_path):
    st = status.book_statements(write_book(tmp_path, ["lemma-a"]))
    with pytest.raises(ValueError, match="no chapter defines"):
        status.validate_labels(st)


def test_graph_colours_by_status():
    res = {cid: checks.run(cid) for cid in ("definition-3.1", "definition-3.2")}
    res["bad"] = checks.run("definition-3.1", control="no-eps-scaling")
    st = status.book_statements()
    g = status.dependency_graph(st, {k: v for k, v in res.items() if k != "bad"})
    assert g.nodes["definition-3.1"]["status"] == res["definition-3.1"].verdict
    bad = {"definition-3.1": res["bad"]}
    assert status.label_status("definition-3.1", bad) == res["bad"].verdict
    assert not res["bad"].passed
    assert status.label_status("definition-3.3", bad) == "none"
    dot = status.dependency_dot(g, st)
    assert dot.startswith("digraph") and '"definition-3.1" -> "definition-3.2"' in dot
    assert 'label="Definition 3.1"' in dot and 'URL="formulation.html#definition-3.1"' in dot
    assert "```{graphviz}" in status.dependency_figure(g, st)


def test_findings_page_lists_findings():
    res = {cid: checks.run(cid) for cid in ("footnote-3", "definition-3.1")}
    md = status.findings_markdown(status.book_statements(), res, figures={})
    assert "finding-footnote-3" in md and "check-footnote-3" in md
    assert "check-definition-3.1" not in md and "| 1 |" in md and "erratum" in md


def test_seed_sample_from_a_sweep_file(tmp_path, monkeypatch):
    from rnnproof import sweep

    out = tmp_path / "s.jsonl"
    rows = [dict(sweep.run_task("definition-3.1", s, "quick")) for s in (0, 1, 2)]
    out.write_text("".join(__import__("json").dumps(r) + "\n" for r in rows))
    monkeypatch.setenv(status.SWEEP_ENV, str(out))
    stab, where = status.seed_sample(profile="quick")
    assert set(stab) == {"definition-3.1"} and stab["definition-3.1"].seeds == 3
    assert "s.jsonl" in where and "3 seeds" in where
    assert status.label_status("definition-3.1", stab) == stab["definition-3.1"].modal
    res = {"definition-3.1": checks.run("definition-3.1")}
    md = status.summary_markdown(status.book_statements(), res, stab)
    assert "definition-3.1" in md and "of seeds" in md
    md = status.status_markdown(status.book_statements(), res, stab)
    assert "100% modal" in md and "check-definition-3.1" in md
    monkeypatch.setenv(status.SWEEP_ENV, str(tmp_path / "none.jsonl"))
    with pytest.raises(FileNotFoundError, match="no such sweep file"):
        status.seed_sample(profile="quick")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    monkeypatch.setenv(status.SWEEP_ENV, str(empty))
    with pytest.raises(ValueError, match="no rows"):
        status.seed_sample(profile="quick")
