"""Every pattern that guards a value in confgen.hub matches the whole value: Python's `$` also matches
before a final newline, so `^…$` with re.match let 'value\\n' through (into the submit description,
the job's shell script, or the shell batchspawner runs)."""

from __future__ import annotations

import pytest

from confgen.hub import description, spawner


@pytest.mark.parametrize("guard", [
    lambda: description._attribute("MaxRuntimeHours\n"),
    lambda: description._classad_literal("Rocky9\n"),
    lambda: description.notebook_script({"JUPYTERHUB_USER\n": "x"}, ["true"]),
], ids=["attribute name", "attribute value", "environment name"])
def test_a_value_with_a_trailing_newline_is_refused(guard: object) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        guard()  # type: ignore[operator]


def test_the_path_and_user_name_patterns_refuse_a_trailing_newline() -> None:
    assert description._SAFE_PATH.fullmatch("/var/lib/x") and not description._SAFE_PATH.fullmatch("/var/lib/x\n")
    assert spawner._USER_NAME.fullmatch("eve") and not spawner._USER_NAME.fullmatch("eve\n")
