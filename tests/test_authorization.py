"""Who may do what, as HTCondor's own parser reads the rendered roles, for the shipped and generated sites.

Expectations come from the site's rules: the daemon identity condor@<uid_domain> only from
security.pool_hosts (default: every host of the UID domain), users of the UID domain write only on the
access point and only from those hosts, NEGOTIATOR only from the central managers, nobody at CONFIG;
remote configuration is the admin switch alone (persistent, on the startd, at ADMINISTRATOR).
The security lint refuses a configuration that reintroduces a wildcard at those levels.
"""

from __future__ import annotations

import pytest

from confgen.render import Fragment, render_site
from confgen.site.model import Site
from confgen.validate import validate
from confgen.validate.lint import lint
from confgen.validate.parser import RoleConfig, load_roles
from tests.conftest import ROOT, site_from_text
from tests.generate import dump, make_site

SITES = [("shipped", (ROOT / "site.yaml").read_text())] + [(f"generated-{seed}", dump(make_site(seed))) for seed in range(12)]


def entries(config: RoleConfig, level: str) -> list[tuple[str, str]]:
    """(identity, host) of every ALLOW_<level> entry; host '' when the entry names none."""
    out = []
    for entry in (config.get(f"ALLOW_{level}") or "").replace(",", " ").split():
        user, _, host = entry.partition("/")
        out.append((user, host))
    return out


def expected_pool_hosts(site: Site) -> set[str]:
    """What the site lists (default: its UID domain), and each central manager outside those names."""
    listed = site.doc.data.get("security", {}).get("pool_hosts", [f"*.{site.uid_domain}"])
    names = [p.lower() for p in listed]
    def covered(cm: str) -> bool:
        return cm.lower() in names or any(p.startswith("*.") and cm.lower().endswith(p[1:]) for p in names)
    return set(listed) | {cm for cm in site.central_managers if not covered(cm)}


@pytest.fixture(scope="module", params=SITES, ids=[name for name, _ in SITES])
def loaded(request: pytest.FixtureRequest) -> tuple[Site, dict[str, RoleConfig]]:
    site = site_from_text(request.param[1])
    configs, problems = load_roles(render_site(site))
    assert not problems, problems
    return site, configs


def test_the_daemon_identity_is_accepted_only_from_the_pool_hosts(loaded: tuple[Site, dict[str, RoleConfig]]) -> None:
    site, configs = loaded
    daemon, hosts = f"condor@{site.uid_domain}", expected_pool_hosts(site)
    for role, config in configs.items():
        got = entries(config, "DAEMON")
        assert got and set(got) == {(daemon, h) for h in hosts}, (role, got)


def test_users_write_only_on_the_access_point_and_only_from_pool_hosts(loaded: tuple[Site, dict[str, RoleConfig]]) -> None:
    site, configs = loaded
    hosts = expected_pool_hosts(site)
    for role, config in configs.items():
        got = set(entries(config, "WRITE"))
        if role == "submit":
            assert got == {(f"*@{site.uid_domain}", h) for h in hosts}, got
        else:  # an execute point's slot ads and the collector's daemon ads are written by daemons only
            assert got == {(f"condor@{site.uid_domain}", h) for h in hosts}, (role, got)


def test_negotiator_and_administrator_only_from_the_central_managers(loaded: tuple[Site, dict[str, RoleConfig]]) -> None:
    site, configs = loaded
    cms = set(site.central_managers)
    for role, config in configs.items():
        assert set(entries(config, "NEGOTIATOR")) == {(f"condor@{site.uid_domain}", h) for h in cms}, role
        for user, host in entries(config, "ADMINISTRATOR"):
            assert user in (f"condor@{site.uid_domain}", f"root@{site.uid_domain}"), (role, user)
            # $(FULL_HOSTNAME) is the host itself: root there (whose tools authenticate with FS as the
            # daemon identity) administers its own daemons; no pattern, no other host.
            assert host in cms or (host and "*" not in host), (role, user, host)
        own = {(u, h) for u, h in entries(config, "ADMINISTRATOR") if h not in cms}
        assert {u for u, _ in own} == {f"condor@{site.uid_domain}", f"root@{site.uid_domain}"} and len({h for _, h in own}) == 1, (role, own)
        assert config.get("ALLOW_CONFIG") is None
        assert (config.get("ENABLE_RUNTIME_CONFIG") or "").lower() == "false"
        assert (config.get("ENABLE_PERSISTENT_CONFIG") or "").lower() == "false"


def test_remote_configuration_is_exactly_the_admin_switch_on_the_startd(loaded: tuple[Site, dict[str, RoleConfig]]) -> None:
    """Persistent configuration only for the startd of execute roles, settable only the switch, only at
    ADMINISTRATOR; runtime configuration off everywhere (also per daemon)."""
    site, configs = loaded
    switch = site.doc.data.get("admin_switch", {}).get("attribute", "SiteStartJobs")
    for role, config in configs.items():
        execute = role.startswith("execute-")
        settable = {k: v for k, v in config.knobs.items() if "SETTABLE_ATTRS" in k}
        assert settable == ({"STARTD.SETTABLE_ATTRS_ADMINISTRATOR": switch} if execute else {}), (role, settable)
        persistent = {k: (v or "").lower() for k, v in config.knobs.items() if k.endswith("ENABLE_PERSISTENT_CONFIG")}
        assert persistent == ({"ENABLE_PERSISTENT_CONFIG": "false", "STARTD.ENABLE_PERSISTENT_CONFIG": "true"} if execute else {"ENABLE_PERSISTENT_CONFIG": "false"}), (role, persistent)
        runtime = {k: (v or "").lower() for k, v in config.knobs.items() if k.endswith("ENABLE_RUNTIME_CONFIG")}
        assert runtime == {"ENABLE_RUNTIME_CONFIG": "false"}, (role, runtime)
        assert not [k for k in config.knobs if k.endswith("ALLOW_CONFIG")], role


def test_read_is_encrypted_and_integrity_checked_as_the_site_requires(loaded: tuple[Site, dict[str, RoleConfig]]) -> None:
    site, configs = loaded
    for role, config in configs.items():
        # HTCondor's current recommended template relaxes READ authentication only, not its encryption.
        assert config.get("SEC_READ_ENCRYPTION") is None and config.get("SEC_READ_INTEGRITY") is None, role
        assert (config.get("SEC_DEFAULT_ENCRYPTION") or "").lower() == site.encryption
        assert (config.get("SEC_DEFAULT_INTEGRITY") or "").lower() == site.integrity


def test_the_rendered_roles_pass_the_security_lint(loaded: tuple[Site, dict[str, RoleConfig]]) -> None:
    site, configs = loaded
    assert lint(site, configs) == []


REINTRODUCED = [
    ("execute", "ALLOW_WRITE = *@{dom}", "a wildcard user"),
    ("execute", "ALLOW_WRITE = $(ALLOW_WRITE), alice@{dom}/*", "any host"),
    ("central-manager", "ALLOW_ADVERTISE_STARTD = *@{dom}/*.{dom}", "a wildcard user"),
    ("central-manager", "ALLOW_NEGOTIATOR = condor@{dom}", "any host"),
    ("submit", "ALLOW_DAEMON = condor@{dom}", "any host"),
    ("submit", "ALLOW_ADMINISTRATOR = *", "any user"),
    ("submit", "ALLOW_CONFIG = root@{dom}/*", "any host"),
]


@pytest.mark.parametrize(("role_kind", "line", "why"), REINTRODUCED)
def test_the_lint_refuses_a_wildcard_reintroduced_at_a_daemon_level(role_kind: str, line: str, why: str) -> None:
    site = site_from_text(SITES[0][1])
    fragments = render_site(site)
    role = next(f.role for f in fragments if f.role.startswith(role_kind))
    extra = Fragment(role, "99-hand-written.conf", line.format(dom=site.uid_domain) + "\n")
    report = validate(site, [*fragments, extra])
    lint_lines = [d.message for d in report.diagnostics if d.code == "security"]
    assert any(f"{role}:" in m and why in m for m in lint_lines), report.diagnostics


def test_the_lint_refuses_runtime_configuration() -> None:
    site = site_from_text(SITES[0][1])
    fragments = render_site(site)
    extra = Fragment("submit", "99-hand-written.conf", "ENABLE_RUNTIME_CONFIG = True\n")
    report = validate(site, [*fragments, extra])
    assert any("ENABLE_RUNTIME_CONFIG" in d.message for d in report.diagnostics if d.code == "security"), report.diagnostics
