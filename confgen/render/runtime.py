"""The runtime limit, enforced by HTCondor: the submit transform turns the runtime attribute into the
job's AllowedExecuteDuration (seconds, which the starter enforces, and which draining nodes read), and a
named periodic hold of the schedd holds a job that runs past its limit, with a reason naming the
attribute and the limit. The periodic hold comes first: AllowedExecuteDuration is the limit plus
GRACE_S, a backstop for a schedd whose periodic evaluation falls behind."""

from __future__ import annotations

from confgen.render.env import classad
from confgen.site.model import JobAttribute, RuntimeLimit

#: Seconds past the limit at which the starter's own AllowedExecuteDuration holds the job; the
#: schedd's periodic hold (every PERIODIC_EXPR_INTERVAL, 60 s by default) comes well before.
GRACE_S = 600
TRANSFORM = "ConfgenRuntime"
HOLD = "ConfgenRuntime"
#: HoldReasonSubCode of the hold (HoldReasonCode is 26, a system job policy)
HOLD_SUBCODE = 1


def limit_seconds(limit: RuntimeLimit) -> str:
    """The job's limit in seconds, as an expression of its runtime attribute."""
    return f"({limit.attribute} * {limit.seconds})" if limit.seconds != 1 else f"{limit.attribute}"


def allowed_execute_duration(limit: RuntimeLimit) -> str:
    """The transform's value: the limit plus the grace, or the job's own AllowedExecuteDuration if shorter."""
    hard = f"({limit_seconds(limit)} + {GRACE_S})"
    return f"ifThenElse(isInteger(AllowedExecuteDuration) && AllowedExecuteDuration < {hard}, AllowedExecuteDuration, {hard})"


def transform_lines(limit: RuntimeLimit) -> list[str]:
    return [f"REQUIREMENTS isInteger({limit.attribute})",
            f"EVALSET AllowedExecuteDuration {allowed_execute_duration(limit)}"]


def hold_expression(limit: RuntimeLimit) -> str:
    """True while a running job has run longer than its limit in this execution (strict boolean). A
    JobCurrentStartExecutingDate older than JobCurrentStartDate is the previous run's (a re-run still
    transferring its input): not this execution's."""
    this_run = "((JobCurrentStartExecutingDate >= JobCurrentStartDate) =!= False)"
    return (f"((JobStatus =?= 2) && isInteger({limit.attribute}) && {this_run} && "
            f"((time() - JobCurrentStartExecutingDate > {limit_seconds(limit)}) =?= True))")


def hold_reason(limit: RuntimeLimit, attr: JobAttribute) -> str:
    cap = f"at most {attr.max}" + (f", for interactive jobs at most {attr.interactive_max}" if attr.interactive_max is not None else "")
    return (f'strcat({classad(f"The job ran longer than its runtime limit {limit.attribute} = ")}, string({limit.attribute}), '
            f'{classad(f" {limit.unit}; submit it with a larger +{limit.attribute} ({cap}) or make it shorter")})')
