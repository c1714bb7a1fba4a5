"""A condor_q that could not ask the schedd means "unknown", never "the job is gone": batchspawner's
CondorSpawner cancels a pending spawn (and drops a running notebook) on "gone". The failure text below
is what the real condor_q 25.14.1 printed in the test pool when the schedd did not finish FS
authentication in time (the spawn was cancelled: "Cancelling job 1")."""

from __future__ import annotations

import re

import pytest
from batchspawner import CondorSpawner

from confgen.hub.spawner import SiteCondorSpawner

SEEN = """-- Failed to fetch ads from: <127.0.0.1:9628?addrs=127.0.0.1-9628&alias=condor-cm1.physik.uni-bonn.de&noUDP&sock=schedd_132203_2785> : condor-cm1.physik.uni-bonn.de

    AUTHENTICATE:1006:exceeded 1796044469 deadline during authentication
    AUTHENTICATE:1004:Failed to authenticate using FS
"""


def unknown(spawner_class: type, text: str) -> bool:
    pattern = spawner_class.class_traits()["state_unknown_re"].default_value
    return bool(pattern) and re.search(pattern, text) is not None


@pytest.mark.parametrize("text", [SEEN, "-- Failed to fetch ads from: <10.0.0.1:9618> : ap1\nSECMAN:2007:Failed to end classad message.\n"])
def test_a_failed_query_is_unknown_not_gone(text: str) -> None:
    assert unknown(SiteCondorSpawner, text)
    assert not unknown(CondorSpawner, text)  # upstream reads it as "gone"


@pytest.mark.parametrize("text", ["2, slot1_1@wn1.example", "1, ", "", "4, slot1@wn1"])
def test_an_answer_is_not_unknown(text: str) -> None:
    assert not unknown(SiteCondorSpawner, text)
