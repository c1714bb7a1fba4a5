"""Job-named images (`containers.user_images`) as ClassAd expressions: which image paths a job may name,
the submit requirements that refuse the others, and how START and SINGULARITY_IMAGE_EXPR honour them.

A job names an image in two ways: the site's attribute (+SingularityImage = "...") and HTCondor's
`container_image` submit command, which sets ContainerImage (and WantContainer, WantSandboxImage or
WantSIF). The starter takes SINGULARITY_IMAGE_EXPR when it yields a string, even for container-universe
jobs, so both ways are handled here by one policy. Every expression is a strict boolean: string tests
use `is` and `substr`, which compare case-sensitively (`==` on strings ignores case)."""

from __future__ import annotations

from confgen.render import expressions as ex
from confgen.render.env import classad
from confgen.site.model import NodeClass, Site, UserImages

SINGULARITY_IMAGE = "SingularityImage"
CONTAINER_IMAGE = "ContainerImage"
FULL_PATH = "ContainerImageFullPath"
#: What the policy says beyond the prefixes; part of every refusal reason.
RULES = "prefixes are case-sensitive; no . or .. segments and no //"


def carriers(ui: UserImages) -> list[str]:
    """The job attributes that name an image path on a site with user_images, in order of precedence."""
    return [ui.attribute, CONTAINER_IMAGE]


def under(ref: str, prefix: str) -> str:
    """`ref` starts with `prefix` (ending in '/') and has more after it; bytes, as substr counts them."""
    n = len(prefix.encode())
    return f"(size({ref}) > {n} && substr({ref}, 0, {n}) is {classad(prefix)})"


def allowed(ui: UserImages, ref: str) -> str:
    """Strict boolean: `ref` is a string path under an allowed prefix that no segment leads out of."""
    prefixes = " || ".join(under(ref, p) for p in ui.prefixes)
    # The trailing '/' lets '/[.][.]?/' also catch a final . or .. segment without '$' (macro syntax).
    clean = f'!regexp("//", {ref}) && !regexp("/[.][.]?/", strcat({ref}, "/"))'
    return f"(isString({ref}) && ({prefixes}) && {clean})"


def listed(ui: UserImages) -> str:
    return ", ".join(ui.allowed)


def requirement_path(ui: UserImages, attr: str, label: str) -> tuple[str, str]:
    ref = f"TARGET.{attr}"
    expr = f"(isUndefined({ref}) || {allowed(ui, ref)})"
    # condor_submit renames an image outside CONTAINER_SHARED_FS to its base name (and transfers it),
    # keeping the path the job wrote in ContainerImageFullPath: the reason shows that path.
    named = f"ifThenElse(isString(TARGET.{FULL_PATH}), TARGET.{FULL_PATH}, {ref})" if attr == CONTAINER_IMAGE else ref
    reason = (f'strcat({classad(label + " = ")}, {ex.shown(named)}, '
              f'{classad(" is not an image this site allows; name a path under one of: " + listed(ui) + " (" + RULES + ")")})')
    return expr, reason


def requirement_one_image(ui: UserImages) -> tuple[str, str]:
    a, c = f"TARGET.{ui.attribute}", f"TARGET.{CONTAINER_IMAGE}"
    expr = f"(isUndefined({a}) || isUndefined({c}) || ({a} is {c}))"
    reason = (f'strcat({classad(ui.attribute + " = ")}, {ex.shown(a)}, " and container_image = ", {ex.shown(c)}, '
              f'{classad(" name two different images; name one")})')
    return expr, reason


def requirement_image_or_os(site: Site, ui: UserImages) -> tuple[str, str]:
    os_ref = f"TARGET.{site.job_attribute}"
    expr = f"(isUndefined({os_ref}) || ({' && '.join(f'isUndefined(TARGET.{c})' for c in carriers(ui))}))"
    reason = (f'strcat({classad("this job names both an OS (" + site.job_attribute + " = ")}, {ex.shown(os_ref)}, '
              f'{classad(") and an image (" + ui.attribute + " or container_image); the image is the OS, so name one of them")})')
    return expr, reason


def requirement_other_attribute(ui: UserImages) -> tuple[str, str]:
    """A site that takes images in another attribute: +SingularityImage would be silently ignored."""
    expr = f"isUndefined(TARGET.{SINGULARITY_IMAGE})"
    reason = classad(f"this site takes job-named images in {ui.attribute} (or container_image), not {SINGULARITY_IMAGE}; "
                     f"write +{ui.attribute} = \"<path>\" with a path under one of: {listed(ui)}")
    return expr, reason


def requirement_no_images(site: Site) -> tuple[str, str]:
    """Without user_images: a job naming an image path would run in the site's OS image instead."""
    expr = f"(isUndefined(TARGET.{SINGULARITY_IMAGE}) && isUndefined(TARGET.{CONTAINER_IMAGE}))"
    attr = site.job_attribute
    reason = classad(f"this site picks container images by {attr}, not by an image path (container_image or +{SINGULARITY_IMAGE}); "
                     f"remove it and set +{attr} to one of: {', '.join(site.offered_anywhere())}")
    return expr, reason


def requirements(site: Site) -> list[tuple[str, str, str]]:
    """(name, expression, reason) of the image requirements, after the OS requirement."""
    ui = site.user_images
    if ui is None:
        return [("Confgen_NoJobImages", *requirement_no_images(site))]
    out = [(f"Confgen{ui.attribute}", *requirement_path(ui, ui.attribute, "+" + ui.attribute)),
           (f"Confgen{CONTAINER_IMAGE}", *requirement_path(ui, CONTAINER_IMAGE, "container_image")),
           ("Confgen_OneImage", *requirement_one_image(ui)),
           ("Confgen_ImageOrOS", *requirement_image_or_os(site, ui))]
    if ui.attribute != SINGULARITY_IMAGE:
        out.append((f"Confgen{SINGULARITY_IMAGE}", *requirement_other_attribute(ui)))
    return out


# --- execute side -----------------------------------------------------------------------------

def names_image(ui: UserImages) -> str:
    return "(" + " || ".join(f"!isUndefined(TARGET.{c})" for c in carriers(ui)) + ")"


def start_os(site: Site, cls: NodeClass) -> str:
    """START's OS part: a job naming an allowed image path, and no OS, starts on any class (the image
    is its OS); one naming no image is matched by its OS as before. Jobs edited after submit
    (condor_qedit) meet the submit test again here."""
    ui = site.user_images
    if ui is None:
        return ex.start_os(site, cls)
    a, c = f"TARGET.{ui.attribute}", f"TARGET.{CONTAINER_IMAGE}"
    by_attribute = f"({allowed(ui, a)} && (isUndefined({c}) || ({c} is {a})))"
    by_container = f"(isUndefined({a}) && {allowed(ui, c)})"
    no_os = f"isUndefined(TARGET.{site.job_attribute})"
    return f"((({by_attribute} || {by_container}) && {no_os}) || (!{names_image(ui)} && {ex.start_os(site, cls)}))"


def singularity_job(site: Site) -> str:
    ui = site.user_images
    if ui is None or site.all_jobs:
        return ex.singularity_job(site)
    return f"(!isUndefined(TARGET.{site.job_attribute}) || {names_image(ui)})"


def image_expr(site: Site) -> str | None:
    """SINGULARITY_IMAGE_EXPR when jobs may name images: the named path, else the OS chain."""
    ui = site.user_images
    if ui is None:
        return None
    expr = "$(CHOSEN_IMAGE)"
    for c in reversed(carriers(ui)):
        expr = f"ifThenElse(isString(TARGET.{c}), TARGET.{c}, {expr})"
    return expr
