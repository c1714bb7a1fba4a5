"""`confgen init`: a first site that passes `confgen check` as written, the schema beside it, and
nothing an admin already has is ever replaced."""

from __future__ import annotations

from pathlib import Path

from confgen.site import load_site
from tests.conftest import Run


def test_the_minimal_site_passes_check_and_is_the_smallest_useful_pool(run: Run, tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    code, out, err = run("init", str(site))
    assert code == 0, err
    assert "next: `confgen check" in out and "security.kerberos" in out
    code, out, err = run("check", str(site))
    assert code == 0 and "0 problem(s)" in out, out + err
    model = load_site(site)
    assert len(model.central_managers) == 1 and model.methods == ("FS",)
    assert len(model.node_classes) == 1 and len(model.images) == 2
    # The editor's schema is beside the site, so the first line resolves wherever the site is kept.
    assert site.read_text().startswith("# yaml-language-server: $schema=site.schema.json\n")
    assert (tmp_path / "site.schema.json").read_text() == run("schema")[1]


def test_the_example_passes_check(run: Run, tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    assert run("init", "--from-example", str(site))[0] == 0
    code, out, err = run("check", str(site))
    assert code == 0 and "5/5 roles" in out, out + err


def test_init_never_replaces_a_file(run: Run, tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("mine\n")
    code, _, err = run("init", str(site))
    assert code == 1 and f"{site} exists; confgen init does not replace it" in err
    assert site.read_text() == "mine\n" and not (tmp_path / "site.schema.json").exists()
    other = tmp_path / "other" / "site.yaml"
    other.parent.mkdir()
    (other.parent / "site.schema.json").write_text("{}")
    code, _, err = run("init", str(other))
    assert code == 1 and "site.schema.json exists" in err and not other.exists()


def test_the_schema_can_be_written_anywhere(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "editor" / "site.schema.json"
    code, _, err = run("schema", "--output", str(target))
    assert code == 1 and "cannot write" in err and not target.exists()  # no such directory: said, nothing left
    target.parent.mkdir()
    code, out, _ = run("schema", "--output", str(target))
    assert code == 0 and f"$schema={target}" in out
    assert target.read_text() == run("schema")[1]
    assert sorted(p.name for p in target.parent.iterdir()) == ["site.schema.json"]
