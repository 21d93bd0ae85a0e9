"""Splitting a JSONL corpus by byte ranges: every line read once, numbered as in
the file, and a run with several workers gives what one worker gives."""

from __future__ import annotations

import csv
import json
from itertools import pairwise
from pathlib import Path

from simkit import deal, simulate, write_jsonl, write_scenario
from test_sim_figures import ROWS

from decision_service.simulation.partition import jsonl_chunks


def test_chunks_start_at_lines_and_cover_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deals.jsonl"
    path.write_bytes(b"".join(b'{"n": %d}\n' % (i * 7919 % 1000) for i in range(500)))
    chunks = jsonl_chunks(path, 7)
    data = path.read_bytes()
    assert len(chunks) == 7
    assert chunks[0][0] == 0 and chunks[-1][1] == len(data)
    for (_, end), (start, _) in pairwise(chunks):
        assert end == start and data[start - 1:start] == b"\n"


def test_more_chunks_than_lines_leaves_none_empty(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "deals.jsonl", ROWS[:2])
    chunks = jsonl_chunks(path, 8)
    assert all(start < end for start, end in chunks)
    assert chunks[0][0] == 0 and chunks[-1][1] == path.stat().st_size


def _corpus() -> list[object]:
    # A10 chains, bad rows and blank lines spread over the file, so that chunk
    # boundaries fall among them; the file does not end with a newline
    rows: list[object] = []
    for i in range(120):
        rows.append(deal(["FR", "AR", "DE", "CN-BJ"][i % 4], f"C{i % 9}",
                         3_000_000 + 1_000_000 * (i % 17), f"2026-0{1 + i % 6}-{10 + i % 9}"))
        if i % 23 == 5:
            rows.append("{not json")
        if i % 31 == 7:
            rows.append("")
        if i % 29 == 11:
            rows.append(deal("ZZ", "C1", 5, "2026-01-01"))
    return rows


def test_several_workers_give_what_one_gives(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "deals.jsonl", _corpus())
    corpus.write_bytes(corpus.read_bytes().rstrip(b"\n"))
    scenario = write_scenario(tmp_path, "deals.jsonl", max_bad=50)
    outs = {}
    for workers in ("1", "3"):
        out = tmp_path / f"out-{workers}"
        code, _, err = simulate(str(scenario), "--out", str(out), "--workers", workers)
        assert code == 0, err
        outs[workers] = out
    for name in ("summary.json", "changed.csv", "bad_rows.csv"):
        assert (outs["1"] / name).read_bytes() == (outs["3"] / name).read_bytes(), name
    lines = corpus.read_text().split("\n")
    with (outs["3"] / "bad_rows.csv").open() as handle:
        bad = [int(row["row"]) for row in csv.DictReader(handle)]
    expected = [n for n, text in enumerate(lines, 1)
                if text == "{not json" or (text and json.loads(text)["office"] == "ZZ")]
    assert bad == expected and len(bad) == 9
    assert json.loads((outs["3"] / "summary.json").read_text())["rows"] == len(
        [text for text in lines if text])
