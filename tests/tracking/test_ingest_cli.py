"""``herald ingest events`` and ``herald ingest flush`` through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from herald.cli import main
from herald.project import Project
from herald.raw_schema import ESP_EVENTS
from senders.tracking.spool import SegmentWriter, segments_dir
from tests.tracking.serving import SHARED, events, landed_events


@pytest.fixture(autouse=True)
def _project_env(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_HOME", str(project.root))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(project.warehouse_dir))


def test_every_official_sample_through_the_cli(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    read = landed = rejected = 0
    for sample in sorted((SHARED / "events").glob("*.json")):
        path = tmp_path / sample.name
        shutil.copyfile(sample, path)
        assert main(["ingest", "events", str(path)]) == 0
        out = capsys.readouterr().out
        counts = [int(x.split()[1].replace(",", "")) for x in out.splitlines()[0].split(": ", 1)[1].split(", ")]
        assert counts[0] == counts[1] + counts[2], out  # read = landed + rejected
        read, landed, rejected = read + counts[0], landed + counts[1], rejected + counts[2]
    assert len(landed_events(project)) == landed
    # Every sample lands, the older ones without sg_event_id too (under an id derived from the event).
    assert (read, rejected) == (landed, 0)


def test_json_lines_with_bad_lines_go_to_rejects_with_line_numbers(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = events(3)
    lines = [
        json.dumps(good[0]),
        "",
        "{not json",
        json.dumps(good[1:]),  # a line may hold an array of events
        json.dumps({"sg_event_id": "e9", "event": "open"}),
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rejects = tmp_path / "bad.jsonl"
    assert main(["ingest", "events", str(path), "--rejects", str(rejects)]) == 0
    out = capsys.readouterr().out
    assert "read 5, landed 3, rejected 2" in out and str(rejects) in out
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(b["line"], b["reason"].split(":")[0]) for b in bad] == [(3, "not JSON"), (5, "missing timestamp")]
    assert sorted(r[0] for r in landed_events(project)) == ["e000000", "e000001", "e000002"]


def test_a_json_array_rejects_point_at_the_events_line(project: Project, tmp_path: Path) -> None:
    batch = [*events(2), {"event": "open", "email": "x@example.com"}]  # no timestamp
    path = tmp_path / "export.json"
    path.write_text(json.dumps(batch, indent=2))
    assert main(["ingest", "events", str(path)]) == 0
    [bad] = [json.loads(line) for line in (tmp_path / "export.json.rejects.jsonl").read_text().splitlines()]
    assert path.read_text().splitlines()[bad["line"] - 1].strip() == "{"
    assert path.read_text().splitlines()[bad["line"]].strip() == '"event": "open",'


def test_unreadable_files_exit_2_and_land_nothing(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "events", str(tmp_path / "missing.json")]) == 2
    broken = tmp_path / "broken.json"
    broken.write_text('[{"a": 1},')
    assert main(["ingest", "events", str(broken), "--format", "json"]) == 2
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00[")
    assert main(["ingest", "events", str(binary)]) == 2
    assert capsys.readouterr().err.count("herald: error:") == 3
    assert not (project.landing_dir / "esp_events").exists()


def test_flush_lands_the_spool(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    writer = SegmentWriter(segments_dir(project, ESP_EVENTS))
    writer.submit(json.dumps(events(4)).encode()).result()
    writer.close()
    assert main(["ingest", "flush"]) == 0
    assert "4 events landed in 1 batch(es), 0 rejected" in capsys.readouterr().out
    assert len(landed_events(project)) == 4
    assert main(["ingest", "flush"]) == 0
    assert "0 segment(s)" in capsys.readouterr().out


def test_flush_lands_what_a_running_server_acknowledged(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    writer = SegmentWriter(segments_dir(project, ESP_EVENTS), roll_seconds=60)  # the server's writer, still open
    try:
        writer.submit(json.dumps(events(4)).encode()).result()
        assert main(["ingest", "flush"]) == 0
        assert "4 events landed in 1 batch(es), 0 rejected" in capsys.readouterr().out
        assert len(landed_events(project)) == 4
    finally:
        writer.close()
    assert main(["ingest", "flush"]) == 0
    assert "0 segment(s)" in capsys.readouterr().out
    assert len(landed_events(project)) == 4
