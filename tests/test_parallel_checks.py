"""The checks in two processes (confgen/validate/parallel.py) give what one process gives: the same count
and the same failures in the same order, on the shipped site and on generated sites whose rendered roles
were broken so that many checks of both halves fail; an error in the copy is raised in the caller."""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Any

import pytest

from confgen.render import Fragment, render_site
from confgen.site.model import Site
from confgen.validate import Report, parallel, validate
from tests.conftest import example_text, site_from_text
from tests.generate import dump, make_site


def one_process(first: Any, second: Any) -> tuple[Any, Any]:
    return first(), second()


def broken(fragments: list[Fragment], site: Site) -> list[Fragment]:
    """The execute roles start no job and give every job the default OS's image, and the submit role
    accepts no OS: failures in the checks of the classes and of the pool alike."""
    out = []
    for frag in fragments:
        text = frag.text
        if frag.role.startswith("execute-"):
            text = text.replace(f"(MY.{site.switch_attribute} =!= False)", "False")
            text = text.replace("SINGULARITY_IMAGE_EXPR =", f'SINGULARITY_IMAGE_EXPR = "{site.images[site.default_os]}" ?: ', 1)
        if frag.role == "submit":
            text = text.replace("SUBMIT_REQUIREMENT_NAMES =", "SUBMIT_REQUIREMENT_NAMES = ConfgenNone", 1)
            text += "\nSUBMIT_REQUIREMENT_ConfgenNone = False\n"
        out.append(dataclasses.replace(frag, text=text))
    return out


def report_of(site: Site, fragments: list[Fragment], monkeypatch: pytest.MonkeyPatch, split: bool) -> Report:
    with monkeypatch.context() as m:
        if not split:
            m.setattr(parallel, "both", one_process)
        return validate(site, fragments)


@pytest.mark.parametrize("seed", [None, 3, 11])
def test_two_processes_report_what_one_reports(seed: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    site = site_from_text(example_text() if seed is None else dump(make_site(seed)))
    for fragments in (render_site(site), broken(render_site(site), site)):
        split, single = report_of(site, fragments, monkeypatch, True), report_of(site, fragments, monkeypatch, False)
        assert split.checks_evaluated == single.checks_evaluated > 0
        assert split.diagnostics == single.diagnostics
    messages = [d.message for d in split.errors]
    assert any("START is False" in m for m in messages) and any("should be accepted at submit" in m for m in messages), messages[:5]


def test_the_first_half_runs_in_another_process_and_comes_first() -> None:
    first, second = parallel.both(lambda: ("first", os.getpid()), lambda: ("second", os.getpid()))
    assert first[0] == "first" and second == ("second", os.getpid())
    assert first[1] != os.getpid()


def test_an_error_in_the_copy_is_raised_here() -> None:
    ran = []

    def fails() -> None:
        ran.append(os.getpid())
        raise KeyError("a bug in a check")

    with pytest.raises(KeyError, match="a bug in a check"):
        parallel.both(fails, lambda: None)
    assert ran == [os.getpid()]  # raised again here (the copy's own append stayed in the copy)


def test_with_another_thread_running_both_halves_run_here() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        first, _ = parallel.both(os.getpid, lambda: None)
    finally:
        stop.set()
        thread.join()
    assert first == os.getpid()
