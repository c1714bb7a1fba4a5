"""Job-named images (containers.user_images) on real daemons: the shipped site with a user_images
section (another attribute name than HTCondor's SingularityImage, two prefixes) in the loopback pool.

Jobs run in real Apptainer containers; each image directory is marked with its own path and the job
reports the marker (tests/pool/pool.py). Submit decisions are the real condor_submit against the real
schedd. Expectations come from the site's text.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from confgen.render import render_site
from confgen.site.model import Site
from tests.conftest import example_text, site_from_text
from tests.pool.chroot import Root
from tests.pool.pool import Pool, cluster_of, install_images, wait_job
from tests.pool.test_loopback_pool import better_analyze, description, job_output

ATTRIBUTE = "JobImagePath"
ALLOWED = ["/cvmfs/unpacked.example.org", "/srv/site-images/"]


def site_with_user_images() -> Site:
    text = example_text()
    marker = "\ncontainers:\n"
    assert marker in text
    section = f"  user_images:\n    attribute: {ATTRIBUTE}\n    allowed: [{', '.join(ALLOWED)}]\n"
    site = site_from_text(text.replace(marker, marker + section, 1))
    assert site.user_images is not None and site.user_images.attribute == ATTRIBUTE
    return site


@pytest.fixture(scope="module")
def image_pool(root: Root) -> Iterator[tuple[Pool, Site]]:
    root.kill_all()
    site = site_with_user_images()
    pool = Pool(root, render_site(site))
    try:
        pool.start_central_and_submit()
        role = next(c.role for c in site.node_classes if c.interactive != "only")
        pool.start_execute(role)
        install_images(root, [prefix.rstrip("/") + suffix for prefix in ALLOWED for suffix in ("/lib/tool:3.1", "/registry/centos:7")])
        yield pool, site
    finally:
        root.kill_all()


def image_of(pool: Pool, cluster: int) -> str:
    """The image this job ran in, as the job itself read it inside its container."""
    return job_output(pool, cluster)["CONFGEN_IMAGE"]


def runs(pool: Pool, text: str) -> int:
    proc = pool.submit(text)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cluster = cluster_of(proc.stdout)
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
    return cluster


def refused(pool: Pool, text: str) -> str:
    proc = pool.submit(text)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "submitted to cluster" not in out, out
    return out


def test_a_job_naming_an_allowed_image_path_runs_in_exactly_that_image(image_pool: tuple[Pool, Site]) -> None:
    pool, site = image_pool
    for prefix in ALLOWED:
        path = prefix.rstrip("/") + "/lib/tool:3.1"
        cluster = runs(pool, description(site, None, extra=f'+{ATTRIBUTE} = "{path}"\n'))
        assert image_of(pool, cluster) == path


def test_a_container_image_job_under_an_allowed_prefix_runs_in_it(image_pool: tuple[Pool, Site]) -> None:
    pool, site = image_pool
    for prefix in ALLOWED:  # one under /cvmfs (HTCondor's default CONTAINER_SHARED_FS), one not
        path = prefix.rstrip("/") + "/registry/centos:7"
        cluster = runs(pool, description(site, None, extra=f"universe = container\ncontainer_image = {path}\n"))
        assert image_of(pool, cluster) == path


def test_paths_outside_the_prefixes_are_refused_by_condor_submit_with_the_sites_reason(image_pool: tuple[Pool, Site]) -> None:
    pool, site = image_pool
    listed = ", ".join(ALLOWED)
    for path in ["/cvmfs/unpacked.example.orgx/img", ALLOWED[0] + "/a/../../../etc", "/CVMFS/unpacked.example.org/img", "/tmp/img"]:
        out = refused(pool, description(site, None, extra=f'+{ATTRIBUTE} = "{path}"\n'))
        assert f'+{ATTRIBUTE} = "{path}" is not an image this site allows; name a path under one of: {listed}' in out, out
        out = refused(pool, description(site, None, extra=f"universe = container\ncontainer_image = {path}\n"))
        assert f'container_image = "{path}" is not an image this site allows' in out, out
    out = refused(pool, description(site, None, extra="universe = container\ncontainer_image = docker://centos:7\n"))
    assert "docker://centos:7" in out and listed in out, out
    out = refused(pool, description(site, site.default_os, extra=f'+{ATTRIBUTE} = "{ALLOWED[1]}img"\n'))
    assert f"names both an OS ({site.job_attribute} = " in out, out
    out = refused(pool, description(site, None, extra=f'+SingularityImage = "{ALLOWED[1]}img"\n'))
    assert f"this site takes job-named images in {ATTRIBUTE}" in out, out


def test_without_user_images_the_shipped_site_refuses_image_paths_at_submit(root: Root, site: Site) -> None:
    """The shipped site (no user_images): such a job ran in the OS image before; now condor_submit refuses it."""
    root.kill_all()
    shipped = Pool(root, render_site(site))
    try:
        shipped.start_central_and_submit()
        image = next(iter(site.images.values()))
        for extra in (f'+SingularityImage = "{image}"\n', f"universe = container\ncontainer_image = {image}\n", f"container_image = {image}\n"):
            out = refused(shipped, description(site, None, extra=extra))
            assert f"this site picks container images by {site.job_attribute}" in out, out
    finally:
        root.kill_all()
