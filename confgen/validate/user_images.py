"""Built-in checks of job-named images, evaluated on the rendered roles: a path under an allowed prefix
is accepted at submit and runs in exactly that image on every class that starts it, through the site's
attribute and through container_image (ContainerImage); every other path is refused at submit with a
reason listing the prefixes, and no class starts it. Without user_images, a job naming an image is
refused at submit with a reason naming the OS attribute. Expectations come from the site's rules."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from confgen.render.user_images import CONTAINER_IMAGE, SINGULARITY_IMAGE
from confgen.site.load import PathKey
from confgen.site.model import NodeClass, UserImages
from confgen.validate.evaluate import ExecuteRole, SubmitRole, job_ad

if TYPE_CHECKING:
    from confgen.validate.checks import Tally


def good_paths(prefix: str) -> list[str]:
    """Paths under `prefix` (ending in '/') a job may name: a docker-style tag, a .sif, a dotted name."""
    return [prefix + "registry.example/lib/tool:1.2", prefix + "a/b.sif", prefix + "x/..y/.hidden"]


def bad_paths(ui: UserImages, prefix: str) -> list[str]:
    """Paths that must be refused although they resemble `prefix`."""
    stem = prefix.rstrip("/")
    bad = [prefix + "a/../../etc", prefix + "a/..", prefix + "./a", prefix + "a//b", prefix,
           stem + "x/img", stem, prefix.lstrip("/") + "img", "docker://" + stem.lstrip("/") + "/img", "/nonexistent-confgen/img"]
    if prefix.swapcase() != prefix:
        bad.append(prefix.swapcase() + "img")
    return [b for b in bad if not any(b.startswith(p) and _clean(b[len(p):]) for p in ui.prefixes)]


def _clean(rest: str) -> bool:
    return rest != "" and "//" not in "/" + rest and not any(s in (".", "..") for s in rest.split("/"))


def check_user_images(t: Tally, execute: dict[str, ExecuteRole], submit: SubmitRole | None) -> None:
    from confgen.validate.checks import base_job, node_attrs  # here: checks.py calls this module
    from confgen.validate.class_checks import fitting_job, policy_allows

    site = t.site
    ui = site.user_images
    slots = {c.role: (c, execute[c.role], execute[c.role].slot(node_attrs(site))) for c in site.node_classes if c.role in execute}
    if ui is None:
        if submit is not None:
            _refused_without(t, submit, base_job)
        return
    for i, prefix in enumerate(ui.prefixes):
        where: PathKey = ("containers", "user_images", "allowed", i)
        for attr, label in ((ui.attribute, "+" + ui.attribute), (CONTAINER_IMAGE, "container_image")):
            for path in good_paths(prefix):
                job = base_job(site, **{attr: path})
                if submit is not None:
                    got, reason = submit.decide(job)
                    t.expect(got is True, where, f"a job naming {label} = {path!r} is refused at submit: {reason}")
                for cls, role, slot in slots.values():
                    here = fitting_job(site, cls, {**job, **_interactive(cls)})  # a GPU request on a GPU-only class
                    _runs_in(t, where, cls, role, slot, here, path, policy_allows(site, cls, here, slot))
            for path in bad_paths(ui, prefix):
                job = base_job(site, **{attr: path})
                if submit is not None:
                    _refused(t, submit, job, where, (f'"{path}"', ", ".join(ui.allowed)))
                for cls, role, slot in slots.values():
                    got = role.eval("START", slot, job_ad({**job, **_interactive(cls)}))
                    t.expect(got is False, where, f"{cls.role} starts a job naming {label} = {path!r} (START = {got!r})")
    if submit is not None:
        _ambiguous(t, submit, ui, base_job)
        _shared(t, submit, ui)


def _shared(t: Tally, submit: SubmitRole, ui: UserImages) -> None:
    """condor_submit keeps a container_image path only under CONTAINER_SHARED_FS (else it renames
    ContainerImage to the base name and transfers the image): every prefix must be listed there."""
    listed = set(re.split(r"[\s,]+", submit.config.get("CONTAINER_SHARED_FS") or ""))
    for i, prefix in enumerate(ui.prefixes):
        t.expect(prefix in listed, ("containers", "user_images", "allowed", i),
                 f"the submit role's CONTAINER_SHARED_FS ({sorted(listed - {''})}) lacks {prefix!r}: condor_submit would transfer such images and rename them")


def _interactive(cls: NodeClass) -> dict[str, Any]:
    return {"InteractiveJob": True} if cls.interactive == "only" else {}


def _runs_in(t: Tally, where: PathKey, cls: NodeClass, role: ExecuteRole, slot: Any, job: dict[str, Any], path: str, policy: bool) -> None:
    """`policy`: whether the class's own policy (only_gpu_jobs, its start clause, the switch) takes the job."""
    ad = job_ad(job)
    starts = role.eval("START", slot, ad)
    t.expect(starts is policy, where, f"{cls.role} should {'start' if policy else 'refuse (by its class policy)'} a job naming the allowed image {path!r} (START = {starts!r})")
    if not policy:
        return
    got = role.eval("SINGULARITY_IMAGE_EXPR", slot, ad)
    t.expect(got == path, where, f"on {cls.role} a job naming the image {path!r} gets {got!r}")
    container = role.eval("SINGULARITY_JOB", slot, ad)
    t.expect(container is True, ("containers", "all_jobs"), f"on {cls.role} a job naming the image {path!r} runs without a container (SINGULARITY_JOB = {container!r})")


def _refused(t: Tally, submit: SubmitRole, job: dict[str, Any], where: PathKey, needles: tuple[str, ...]) -> None:
    got, reason = submit.decide(job)
    t.expect(got is False, where, f"the job {job} should be refused at submit; it was {'accepted' if got else reason}")
    if got is False:
        for needle in needles:
            t.expect(needle in reason, where, f"the reason {reason!r} should name {needle!r}")


def _ambiguous(t: Tally, submit: SubmitRole, ui: UserImages, base_job: Any) -> None:
    site = t.site
    path = ui.prefixes[0] + "img"
    where: PathKey = ("containers", "user_images")
    for os_name in site.offered_anywhere()[:2]:
        for attr in (ui.attribute, CONTAINER_IMAGE):
            _refused(t, submit, base_job(site, **{site.job_attribute: os_name, attr: path}), where, (site.job_attribute, "name one"))
    _refused(t, submit, base_job(site, **{ui.attribute: path, CONTAINER_IMAGE: path + "2"}), where, ("name one",))
    got, reason = submit.decide(base_job(site, **{ui.attribute: path, CONTAINER_IMAGE: path}))
    t.expect(got is True, where, f"a job naming the same allowed image twice is refused: {reason}")
    if ui.attribute != SINGULARITY_IMAGE:
        _refused(t, submit, base_job(site, **{SINGULARITY_IMAGE: path}), where, (ui.attribute,))


def _refused_without(t: Tally, submit: SubmitRole, base_job: Any) -> None:
    site = t.site
    path = next(iter(site.images.values()))
    for attr in (SINGULARITY_IMAGE, CONTAINER_IMAGE):
        _refused(t, submit, base_job(site, **{attr: path}), ("containers",), (f"by {site.job_attribute}",))
