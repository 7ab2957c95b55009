"""`fieldstation export` as an operator runs it, on the demo project: a file per format, standard output by
default, and errors that say what to give."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import gpxpy
import pytest

from fieldstation.cli.exports import destination


def _fieldstation(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fieldstation", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("export") / "data"
    assert _fieldstation(data_dir, "project", "create", "demo", "--demo", "--json").returncode == 0
    return data_dir


def test_every_track_of_the_demo_project_to_a_gpx_file(demo: Path, tmp_path: Path) -> None:
    target = tmp_path / "demo.gpx"
    done = _fieldstation(demo, "export", "--project", "demo", "--format", "gpx", "--output", str(target))
    assert done.returncode == 0, done.stderr
    gpx = gpxpy.parse(target.read_text())
    assert sorted(str(t.name) for t in gpx.tracks) == ["Kali", "Nandi", "Shaka", "Tembo", "Zuri"]
    assert all(len(t.segments[0].points) > 100 for t in gpx.tracks)  # a week of hourly fixes each
    assert f"fixes written to {target}" in " ".join(done.stderr.split())
    assert not list(tmp_path.glob(".*partial"))


def test_one_device_over_a_period_to_standard_output(demo: Path) -> None:
    done = _fieldstation(
        demo, "export", "--project", "demo", "--format", "movebank", "--device", "1337",
        "--start", "2000-01-01", "--end", "2100-01-01T00:00:00Z",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout, newline="")))
    assert {r["individual-local-identifier"] for r in rows} == {"Tembo"} and len(rows) > 100
    assert done.stderr == ""  # no progress bar off a terminal: stdout is the export alone


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--start", "yesterday"), "--start 'yesterday' is not a time"),
        (("--start", "2026-11-02", "--end", "2026-11-01"), "--end is before --start"),
        (("--device", "no-such-tag"), "has no device 'no-such-tag'"),
        (("--format", "shapefile"), "'shapefile' is not one of"),
    ],
)
def test_bad_input_says_what_to_give(demo: Path, args: tuple[str, ...], said: str) -> None:
    done = _fieldstation(
        demo, "export", "--project", "demo", *(("--format", "csv") if "--format" not in args else ()), *args
    )
    assert done.returncode == 2
    assert said in " ".join(done.stderr.split()), done.stderr


def test_an_export_cut_short_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "cut.csv"

    def cut_short() -> None:
        with destination(target) as out:
            out.write("individual,tag\r\n")
            raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError):
        cut_short()
    assert list(tmp_path.iterdir()) == []
    with destination(target) as out:
        out.write("whole\r\n")
    assert target.read_text() == "whole\n" and list(tmp_path.iterdir()) == [target]


def test_a_reader_that_stops_early_ends_the_export_quietly(demo: Path) -> None:
    """`export | head` is a pipe doing what pipes do: the export stops as `cat` would, saying nothing (it
    printed a traceback of half-read generators)."""
    command = [sys.executable, "-m", "fieldstation", "export", "--project", "demo", "--format", "csv",
               "--data-dir", str(demo)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as export:
        assert export.stdout is not None and export.stderr is not None
        assert export.stdout.readline().startswith(b"individual,tag")
        export.stdout.close()
        said = export.stderr.read()
    assert export.returncode == -13 and said == b""  # SIGPIPE, as `cat`


@pytest.mark.parametrize(
    ("where", "said"), [(".", "is a directory: name a file in it"), ("nowhere/demo.csv", "does not exist")]
)
def test_an_output_that_cannot_be_written_is_refused_before_the_work(
    demo: Path, tmp_path: Path, where: str, said: str
) -> None:
    done = _fieldstation(
        demo, "export", "--project", "demo", "--format", "csv", "--output", str(tmp_path / where)
    )
    assert done.returncode == 2 and said in " ".join(done.stderr.split()), done.stderr
    assert not list(tmp_path.parent.glob(".*partial")) and not list(tmp_path.glob(".*partial"))
