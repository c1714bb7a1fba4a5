"""A live host's configuration against what a rendered role would give it (`confgen diff --live`)."""

from confgen.live.diff import KnobChange, LiveDiff, live_diff
from confgen.live.dump import Dump, Knob, parse_dump, read_live_dump

__all__ = ["Dump", "Knob", "KnobChange", "LiveDiff", "live_diff", "parse_dump", "read_live_dump"]
