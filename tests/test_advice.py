"""Warnings: valid sites that are probably not what the admin meant. Printed with a position, exit 0;
`--strict` makes them problems (exit 1, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import Run, example_text


def site_with_a_class_without_the_default(tmp_path: Path) -> tuple[Path, str, str]:
    data = yaml.safe_load(example_text())
    default = data["containers"]["default"]
    other = next(o for o in data["containers"]["images"] if o != default)
    cls = sorted(data["node_classes"])[0]
    data["node_classes"][cls]["images"] = [other]
    data.pop("checks", None)  # the example's own checks expect jobs of the default OS on every class
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, cls, default


def test_a_class_without_the_default_os_is_a_warning_with_its_position(run: Run, tmp_path: Path) -> None:
    path, cls, default = site_with_a_class_without_the_default(tmp_path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.strip() == f"{cls}:") + 1
    code, out, err = run("check", str(path))
    assert code == 0 and "warning(s)" in out.splitlines()[-1], out + err
    assert "site.yaml:" in out and f": warning: node_classes.{cls}.images: class {cls!r} does not offer the default OS {default!r}" in out, out
    assert any(f":{n}:" in out for n in range(line, line + 12)), out  # at the class's images
    code, out, err = run("check", str(path), "--format", "json")
    doc = json.loads(out)
    mine = [w for w in doc["warnings"] if w["path"] == f"node_classes.{cls}.images"]
    assert code == 0 and mine and mine[0]["severity"] == "warning"


def test_strict_makes_warnings_problems_and_writes_nothing(run: Run, tmp_path: Path) -> None:
    path, cls, _ = site_with_a_class_without_the_default(tmp_path)
    out_dir = tmp_path / "out"
    code, out, err = run("render", str(path), "-o", str(out_dir), "--strict")
    assert code == 1 and f"warning: node_classes.{cls}.images" in out and "--strict" in err and not out_dir.exists()
    assert run("render", str(path), "-o", str(out_dir))[0] == 0 and out_dir.is_dir()
