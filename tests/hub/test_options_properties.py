"""Whatever a user sends, the spawner's check either gives a Choice inside the site's lists and ranges,
whose submit description has exactly the expected lines, or refuses with OptionsError: never another
exception, never a line of its own in the description."""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from confgen.hub import options as hub_options
from confgen.hub.description import submit_description
from tests.conftest import example_text, site_from_text
from tests.hub.conftest import write_hub_files


@functools.cache
def shipped_options() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return hub_options.load(write_hub_files(site_from_text(example_text()), Path(tmp))[1])


NAMES = [*hub_options.FIXED, "CephFS_IO", "request_cpus", "_xsrf", ""]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["Rocky9", "8", "32", "12", "1", "0", "stable", "high", "Rocky9\nqueue 9"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=2))
USER_OPTIONS = st.one_of(st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=10)), VALUES, max_size=9), VALUES)
LINE = re.compile(r'^(universe = vanilla|executable = /srv/x/notebook|initialdir = /srv/x|transfer_executable = true|'
                  r'should_transfer_files = YES|when_to_transfer_output = ON_EXIT|getenv = false|batch_name = jupyterhub|'
                  r'request_(cpus|memory|gpus) = [0-9]+|MY\.[A-Za-z_][A-Za-z0-9_]* = ("[A-Za-z0-9_.+-]*"|[0-9]+|true)|queue)$')


@given(USER_OPTIONS)
def test_any_user_options_are_a_valid_choice_or_refused(user_options: Any) -> None:
    options = shipped_options()
    try:
        choice = hub_options.check(options, user_options)
    except hub_options.OptionsError as exc:
        assert exc.problems and all(isinstance(p, str) and "\n" not in p for p in exc.problems)
        return
    assert choice.os in options["os"]["choices"]
    for name in ("cpus", "memory_gb", "runtime_hours", "gpus"):
        assert options[name]["min"] <= getattr(choice, name) <= options[name]["max"]
    text = submit_description(options, choice, executable="/srv/x/notebook", initialdir="/srv/x")
    assert all(LINE.match(line) for line in text.splitlines()), text


@given(st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=10)), st.lists(st.text(max_size=20), max_size=3), max_size=9))
def test_any_form_post_is_a_valid_choice_or_refused(form: dict[str, list[str]]) -> None:
    options = shipped_options()
    try:
        choice = hub_options.check(options, hub_options.from_form(options, form))
    except hub_options.OptionsError:
        return
    text = submit_description(options, choice, executable="/srv/x/notebook", initialdir="/srv/x")
    assert all(LINE.match(line) for line in text.splitlines()), text
