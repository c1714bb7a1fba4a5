"""Hostile site.yaml files for tests/test_hostile_yaml.py, made from the shipped site.yaml by changing
one field at a time, each with the line and column of the changed literal (where confgen must refuse
it) or what the rendered output must then say (where it must render it exactly as written).

Kinds: YAML 1.1 forms in every kind of field, floats where integers are meant, trailing line breaks
in every kind of name, path and value, integers past 64 bits, explicit tags, hidden line breaks
(NEL, LS, PS, a lone CR) in values, keys and comments, '.' and '..' path segments, oversize periods.
"""

from __future__ import annotations

import dataclasses

from tests.conftest import example_text

BASE = example_text()
LINES = BASE.split("\n")


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str
    name: str
    text: str
    #: Where the refusal must point (1-based), and text its message must hold; None: must render.
    line: int | None = None
    col: int | None = None
    needle: str = ""
    #: For a rendered case: (file under output/, a line it must contain); "*" as the file: every role's
    #: files are byte-identical to the shipped site's.
    rendered: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.kind}: {self.name}"


def _at(anchor: str) -> int:
    found = [i for i, line in enumerate(LINES) if line == anchor] or [i for i, line in enumerate(LINES) if anchor in line]
    assert len(found) == 1, (anchor, found)
    return found[0]


def _with(lines: list[str]) -> str:
    return "\n".join(lines)


def replaced(anchor: str, old: str, new: str, *, offset: int = 0) -> tuple[str, int, int]:
    """The site with `old` replaced by `new` on the one line holding `anchor`; the line and column of
    `new` (plus `offset` characters into it)."""
    i = _at(anchor)
    line = LINES[i]
    j = line.index(old)
    lines = LINES.copy()
    lines[i] = line[:j] + new + line[j + len(old):]
    return _with(lines), i + 1, j + 1 + offset


def block(anchor: str, old: str) -> tuple[str, int, int]:
    """`old` (the value on the line holding `anchor`, a key's value or a list item) written as a `|`
    block scalar, which keeps its final line break; the position of the `|`."""
    i = _at(anchor)
    line = LINES[i]
    j = line.index(old)
    indent = len(line) - len(line.lstrip(" "))
    if line.lstrip(" ").startswith("- "):
        indent += 2
    lines = LINES.copy()
    lines[i] = line[:j] + "|" + line[j + len(old):]
    lines.insert(i + 1, " " * (indent + 2) + old)
    return _with(lines), i + 1, j + 1


def inserted(after: str, new_line: str, *, col_of: str) -> tuple[str, int, int]:
    """The site with `new_line` after the line holding `after`; the position of `col_of` in it."""
    i = _at(after)
    lines = LINES.copy()
    lines.insert(i + 1, new_line)
    return _with(lines), i + 2, new_line.index(col_of) + 1


def _refused(kind: str, name: str, made: tuple[str, int, int], needle: str) -> Case:
    text, line, col = made
    return Case(kind, name, text, line, col, needle)


def yaml11_cases() -> list[Case]:
    """Plain scalars that YAML 1.1 and YAML 1.2 read differently, in every kind of field."""
    forms = [  # (anchor, old, new literal, what a kind of field it is)
        ("  name: BAF", "BAF", "012", "pool name, octal"),
        ("  name: BAF", "BAF", "yes", "pool name, boolean"),
        ("  name: BAF", "BAF", "1e3", "pool name, 1.2 float"),
        ("  htcondor_version:", '"24.0"', "1:30", "version, sexagesimal"),
        ("  uid_domain:", "physik.uni-bonn.de", "0o17", "UID domain, 1.2 octal"),
        ("- condor-cm1.", "condor-cm1.physik.uni-bonn.de", "0b1", "host, binary"),
        ("private_network_name:", "baf.physik.uni-bonn.de", "3_2", "host, underscores"),
        ("shared_port:", "port: 9618", "port: 022322", "port, octal"),
        ("shared_port:", "port: 9618", "port: 9_618", "port, underscores"),
        ("shared_port:", "port: 9618", "port: 2:40:18", "port, sexagesimal"),
        ("shared_port:", "enabled: true", "enabled: yes", "boolean, yes"),
        ("  ccb: true", "true", "on", "boolean, on"),
        ("  ccb: true", "true", "Y", "boolean, Y (1.1 spec)"),
        ("  methods: [KERBEROS, FS]", "FS", "off", "method, off"),
        ("    realm: UNI-BONN.DE", "UNI-BONN.DE", "N", "realm, N (1.1 spec)"),
        ("    map: {UNI-BONN.DE:", "UNI-BONN.DE:", "012:", "realm key, octal"),
        ("    map: {UNI-BONN.DE:", "physik.uni-bonn.de}", "no}", "map value, no"),
        ("  encryption: required", "required", "no", "security level, no"),
        ("  queue_super_users: [root, condor]", "condor", "yes", "user name, yes"),
        ("  blocked_users: [guest]", "guest", "n", "user name, n (1.1 spec)"),
        ("  all_jobs: true", "true", "ON", "boolean, ON"),
        ("  job_attribute: ContainerOS", "ContainerOS", "0x1_F", "attribute name, hex with underscore"),
        ("  default: Rocky9", "Rocky9", "Off", "OS name, Off"),
        ("    Rocky8: /cvmfs", "Rocky8:", "0o10:", "OS name key, 1.2 octal"),
        ("    - /cephfs", "/cephfs", "1.0e3", "bind, 1.2 float"),
        ("    values: [none, low, medium, high]", "medium", "on", "attribute value, on"),
        ("    default: low", "low", "No", "string default, No"),
        ("    min: 1", "1", "0b1", "attribute min, binary"),
        ("    max: 168", "168", "0250", "attribute max, octal 168"),
        ("    interactive_max: 24", "24", "024", "interactive_max, octal 20"),
        ("  [NUMEXPR_NUM_THREADS,", "CUBACORES", "y", "environment variable, y (1.1 spec)"),
        ("  period: 5m", "5m", "1:30", "period, sexagesimal"),
        ("  spread_days: 10", "10", "012", "days, octal"),
        ("  max_uptime_days: 30", "30", "0o36", "days, 1.2 octal"),
        ("    interactive: allowed                      # interactive jobs may land", "allowed", "no", "interactive: no"),
        ("    gpus: true", "true", "yes", "gpus: yes"),
        ("    cpus: 64", "64", "0100", "cpus, octal 64"),
        ("    memory_gb: 512", "512", "5_12", "memory, underscores"),
        ("  max_cpus: 8", "8", "010", "notebook CPUs, octal 8"),
        ("  max_gpus: 1", "1", "0b1", "notebook GPUs, binary"),
        ("  environments: [stable, testing]", "testing", "off", "environment, off"),
        ("  - name: a Debian 12 job", "a Debian 12 job runs in the Debian 12 image", "no", "check name, no"),
        ("    job: {ContainerOS: Debian12}", "Debian12", "2001-12-14", "sample value, a date"),
        ("    job: {ContainerOS: Rocky9, InteractiveJob: true}", "true", "on", "sample value, on"),
        ("    job: {InteractiveJob: true, MaxRuntimeHours: 48}", "48", "060", "sample value, octal 48"),
        ("    node: interactive", "interactive", "n", "check node, n"),
        ("    expect: {start: false}", "false", "no", "expected start, no"),
        ("    expect: {image: Debian12}", "Debian12", "=", "expected image, the 'value' key ="),
    ]
    cases = []
    for anchor, old, new, what in forms:
        literal = new.split(": ")[-1].rstrip(":}")
        offset = new.index(literal)
        cases.append(_refused("YAML 1.1 form", f"{what} ({literal})", replaced(anchor, old, new, offset=offset), f"{literal} is read as"))
    cases.append(_refused("YAML 1.1 form", "job attribute key (yes)", replaced("  CephFS_IO:", "CephFS_IO", "yes"), 'write "yes" (quoted)'))
    cases.append(_refused("YAML 1.1 form", "node class key (y)", replaced("  gpu:", "gpu", "y"), 'write "y" (quoted)'))
    cases.append(_refused("YAML 1.1 form", "sample attribute key (N)", replaced("    job: {ContainerOS: CentOS7}", "ContainerOS", "N"), 'write "N" (quoted)'))
    # The same text, read alike by YAML 1.1 and 1.2: rendered as the number it is.
    text, _, _ = replaced("    default: 3", "3", "03")
    cases.append(Case("YAML 1.1 form", "attribute default 03 (3 for both readers)", text,
                      rendered=(("submit/50-submit-policy.conf", "DEFAULT MaxRuntimeHours 3"),)))
    text, _, _ = replaced("  ccb: true", "true", "True")
    cases.append(Case("YAML 1.1 form", "boolean True (a boolean for both readers)", text, rendered=(("*", ""),)))
    return cases


def float_cases() -> list[Case]:
    """Floats where integers are meant: refused with the integer literal to write."""
    forms = [
        ("shared_port:", "9618", "9618.0", "9618"),
        ("  spread_days: 10", "10", "10.0", "10"),
        ("  max_uptime_days: 30", "30", "3.0e+1", "30"),
        ("    cpus: 64", "64", "64.", "64"),
        ("    memory_gb: 512", "512", "512.0", "512"),
        ("  max_cpus: 8", "8", "8.0", "8"),
        ("  max_runtime_hours: 12", "12", "12.5", "12"),
        ("    min: 1", "1", "1.0", "1"),
        ("    max: 168", "168", "168.0", "168"),
        ("    interactive_max: 24", "24", "24.0", "24"),
        ("    default: 3", "3", "3.0", "3"),
        ("  max_gpus: 1", "1", "1.0", "1"),
    ]
    return [_refused("float for an integer", f"{anchor.strip()} as {new}", replaced(anchor, old, new), f"{new} is ") for anchor, old, new, _ in forms] + [
        _refused("float for an integer", f"{anchor.strip()} as {new}: what to write", replaced(anchor, old, new), f"write {integer}")
        for anchor, old, new, integer in forms[:2]
    ]


def trailing_newline_cases() -> list[Case]:
    """A final line break (a `|` block keeps it; "\\n" in a quoted string) in every kind of field."""
    blocks = [  # (anchor, the value to write as a block, what it is)
        ("  name: BAF", "BAF", "pool name"),
        ("  uid_domain:", "physik.uni-bonn.de", "UID domain"),
        ("- condor-cm1.", "condor-cm1.physik.uni-bonn.de", "central manager host"),
        ("private_network_name:", "baf.physik.uni-bonn.de", "private network host"),
        ("    realm: UNI-BONN.DE", "UNI-BONN.DE", "realm"),
        ("    server_keytab:", "/etc/krb5.keytab", "keytab path"),
        ("  runtime: /usr/bin/apptainer", "/usr/bin/apptainer", "runtime path"),
        ("  job_attribute: ContainerOS", "ContainerOS", "OS attribute name"),
        ("  default: Rocky9", "Rocky9", "default OS name"),
        ("    Rocky9: /cvmfs", "/cvmfs/images.physik.uni-bonn.de/rocky9/latest", "image path"),
        ("    - /cephfs", "/cephfs", "bind"),
        ("  target_dir: /srv", "/srv", "target dir"),
        ("    default: low", "low", "string attribute default"),
        ("  script: /usr/libexec/condor/node-health", "/usr/libexec/condor/node-health", "health script"),
        ("  period: 5m", "5m", "health period"),
        ("  check: /usr/local/sbin/reboot-needed", "/usr/local/sbin/reboot-needed", "reboot check"),
        ("  - name: a Debian 12 job", "a Debian 12 job runs in the Debian 12 image", "check name"),
        ("    node: interactive", "interactive", "check node"),
    ]
    cases = [_refused("trailing newline", f"{what} as a | block", block(anchor, old), "ends with a line break") for anchor, old, what in blocks]
    quoted = [  # (anchor, old, new with "\n" inside quotes, what it is)
        ("    map: {UNI-BONN.DE:", "UNI-BONN.DE:", '"UNI-BONN.DE\\n":', "realm key of the map"),
        ("    map: {UNI-BONN.DE:", "physik.uni-bonn.de}", '"physik.uni-bonn.de\\n"}', "UID domain in the map"),
        ("  queue_super_users: [root, condor]", "condor", '"condor\\n"', "queue super user"),
        ("  blocked_users: [guest]", "guest", '"guest\\n"', "blocked user"),
        ("  methods: [KERBEROS, FS]", "FS", '"FS\\n"', "security method"),
        ("    Rocky8: /cvmfs", "Rocky8:", '"Rocky8\\n":', "OS name key"),
        ("    - {source: /etc/krb5.conf", "target: /etc/krb5.conf", 'target: "/etc/krb5.conf\\n"', "bind target"),
        ("  CephFS_IO:", "CephFS_IO:", '"CephFS_IO\\n":', "job attribute name"),
        ("    values: [none, low, medium, high]", "high", '"high\\n"', "attribute value"),
        ("  [NUMEXPR_NUM_THREADS,", "CUBACORES", '"CUBACORES\\n"', "thread variable"),
        ("  interactive:", "interactive:", '"interactive\\n":', "node class name"),
        ("    images: [Rocky9, Ubuntu2004]", "Ubuntu2004", '"Ubuntu2004\\n"', "class OS name"),
        ("  environments: [stable, testing]", "testing", '"testing\\n"', "notebook environment"),
        ("    job: {ContainerOS: Debian12}", "ContainerOS", '"ContainerOS\\n"', "sample attribute name"),
        ("    expect: {image: Debian12}", "Debian12", '"Debian12\\n"', "expected image"),
        ("  encryption: required", "required", '"required\\n"', "security level"),
        ("    interactive: only", "only", '"only\\t"', "interactive mode, a tab"),
        ("  name: BAF", "BAF", '"B\\u200bAF"', "pool name, a zero-width space"),
        ("  default: Rocky9", "Rocky9", '"Rocky9\\u00ad"', "OS name, a soft hyphen"),
        ("    server_keytab:", "/etc/krb5.keytab", '"/etc/krb5.keytab\\U000E0041"', "keytab path, an invisible tag character"),
    ]
    cases += [_refused("trailing newline", f"{what} as \\n in quotes", replaced(anchor, old, new, offset=new.index('"')), "U+")
              for anchor, old, new, what in quoted]
    return cases


def big_integer_cases() -> list[Case]:
    """Integers a ClassAd cannot hold, and bounds per field."""
    cases = [
        _refused("big integer", "port 2**63", replaced("shared_port:", "9618", "9223372036854775808"), "outside the range of a ClassAd integer"),
        _refused("big integer", "cpus 2**64", replaced("    cpus: 64", "64", "18446744073709551616"), "outside the range of a ClassAd integer"),
        _refused("big integer", "sample value 2**63", replaced("    job: {InteractiveJob: true, MaxRuntimeHours: 48}", "48", "9223372036854775808"),
                 "9223372036854775808 is outside the range"),
        _refused("big integer", "sample value -2**63-1", replaced("    job: {InteractiveJob: true, MaxRuntimeHours: 48}", "48", "-9223372036854775809"),
                 "-9223372036854775809 is outside the range"),
        _refused("big integer", "attribute max 10**16", replaced("    max: 168", "168", "10000000000000000"), "maximum of 1000000000000000"),
        _refused("big integer", "attribute min -10**16", replaced("    min: 1", "1", "-10000000000000000"), "minimum of -1000000000000000"),
        _refused("big integer", "attribute default 10**23", replaced("    default: 3", "3", "99999999999999999999999"), "outside the range of a ClassAd integer"),
        _refused("big integer", "sample float past 2**63", replaced("    job: {InteractiveJob: true, MaxRuntimeHours: 48}", "48", "1.0e+19"), "maximum"),
        _refused("big integer", "sample float .inf", replaced("    job: {InteractiveJob: true, MaxRuntimeHours: 48}", "48", ".inf"), "not a finite number"),
        _refused("big integer", "sample float 1.0e+999 (inf)", replaced("    job: {InteractiveJob: true, MaxRuntimeHours: 48}", "48", "1.0e+999"), "not a finite number"),
    ]
    for value in ("9223372036854775807", "-9223372036854775808"):
        text, _, _ = replaced("    job: {InteractiveJob: true, MaxRuntimeHours: 48}", "48", value)
        cases.append(Case("big integer", f"sample value {value} (the ClassAd limit)", text, rendered=(("*", ""),)))
    return cases


def tag_cases() -> list[Case]:
    forms = [  # (anchor, old, new, the tag as the message shows it, what is tagged)
        ("network:", "network:", "network: !!map", "!!map", "the network mapping"),
        ("  central_managers:", "central_managers:", "central_managers: !!seq", "!!seq", "the central managers list"),
        ("  name: BAF", "BAF", "!foo BAF", "!foo", "the pool name"),
        ("  name: BAF", "BAF", "!!str 012", "!!str", "the pool name, a string tag"),
        ("shared_port:", "9618", '!!int "9618"', "!!int", "the port"),
        ("  period: 5m", "5m", "! 5m", "!", "the health period, the non-specific tag"),
        ("  runtime: /usr/bin/apptainer", "/usr/bin/apptainer", "!!python/object/apply:os.system [id]", "!!python/object/apply:os.system", "the runtime"),
        ("  ccb: true", "true", "!!bool yes", "!!bool", "ccb"),
        ("    job: {ContainerOS: Debian12}", "{ContainerOS: Debian12}", "!!omap [{ContainerOS: Debian12}]", "!!omap", "a sample job"),
        ("  environments: [stable, testing]", "[stable, testing]", "!!set {stable, testing}", "!!set", "the environments"),
        ("    default: low", "low", "!<tag:yaml.org,2002:str> low", "!!str", "a string default, a verbatim tag"),
        ("    Rocky8: /cvmfs", "Rocky8:", "!!str Rocky8:", "!!str", "an OS name key"),
    ]
    cases = []
    for anchor, old, new, tag, what in forms:
        made = replaced(anchor, old, new, offset=new.index("!"))
        cases.append(_refused("explicit tag", f"{tag} on {what}", made, f"the tag {tag} is not supported"))
    return cases


def line_break_cases() -> list[Case]:
    """Line breaks other than LF and CRLF: refused at the character, in comments too."""
    forms = [  # (anchor, old, new, the character, where it is)
        # The finding: text after a NEL in a comment became a list item (a queue super user).
        ("  queue_super_users: [root, condor]", "[root, condor]", "[root, condor]   # admins\x85  , mallory", "\x85", "a comment after the super users"),
        ("  name: BAF", "# pool name", "# pool name\u2028  evil: 1", "\u2028", "a comment, before a key"),
        ("  name: BAF", "# pool name", "# pool name\u2029", "\u2029", "a comment"),
        ("  name: BAF", "# pool name", "# pool\rname", "\r", "a comment"),
        ("  name: BAF", "BAF", "B\x85AF", "\x85", "a plain value"),
        ("  uid_domain:", "physik.uni-bonn.de", '"physik\u2028.uni-bonn.de"', "\u2028", "a quoted value"),
        ("    Rocky8: /cvmfs", "Rocky8", "Roc\u2029ky8", "\u2029", "a key"),
        ("  blocked_users: [guest]", "guest", "gu\rest", "\r", "a list item"),
        ("    - {source: /etc/krb5.conf", "read_only: true", "read_only: true\x85", "\x85", "a flow mapping"),
        ("  - name: a Debian 12 job", "Debian 12 job", "Debian 12\u2028job", "\u2028", "a check name"),
    ]
    cases = []
    for anchor, old, new, ch, where in forms:
        text, line, col = replaced(anchor, old, new, offset=new.index(ch))
        needle = f"U+{ord(ch):04X}"
        cases.append(Case("hidden line break", f"{needle} in {where} ({anchor.strip()[:24]})", text, line, col, needle))
    # CRLF line ends are a line break everyone agrees on: the same site, the same bytes out.
    cases.append(Case("hidden line break", "the whole file with CRLF line ends", BASE.replace("\n", "\r\n"), rendered=(("*", ""),)))
    return cases


def traversal_cases() -> list[Case]:
    forms = [
        ("    Rocky8: /cvmfs", "/cvmfs/images.physik.uni-bonn.de/rocky8/latest", "/cvmfs/images/../../etc/rocky8", "/etc/rocky8"),
        ("    - /cvmfs", "/cvmfs", "/cvmfs/..", "/"),
        ("    - {source: /etc/krb5.conf", "target: /etc/krb5.conf", "target: /etc/./krb5.conf", "/etc/krb5.conf"),
        ("    - {source: /etc/krb5.conf", "source: /etc/krb5.conf", "source: /etc/../root/.k5login", "/root/.k5login"),
        ("  runtime: /usr/bin/apptainer", "/usr/bin/apptainer", "/usr/bin/../../tmp/apptainer", "/tmp/apptainer"),
        ("  target_dir: /srv", "/srv", "/srv/..", "/"),
        ("    server_keytab:", "/etc/krb5.keytab", "/etc/../tmp/krb5.keytab", "/tmp/krb5.keytab"),
        ("  script: /usr/libexec/condor/node-health", "/usr/libexec/condor/node-health", "/usr/libexec/condor/./node-health", "/usr/libexec/condor/node-health"),
        ("  check: /usr/local/sbin/reboot-needed", "/usr/local/sbin/reboot-needed", "/usr/local/sbin/../../../tmp/x", "/tmp/x"),
    ]
    cases = []
    for anchor, old, new, normal in forms:
        made = replaced(anchor, old, new, offset=new.index("/") if ":" in new else 0)
        cases.append(_refused("path traversal", f"{new.split(' ')[-1]}", made, f"write the path without . and .. segments: {normal}"))
    cases.append(_refused("path traversal", "jupyterhub.config_dir /etc/jupyterhub/../../tmp",
                          inserted("  max_cpus: 8", "  config_dir: /etc/jupyterhub/../../tmp", col_of="/etc"), "segments: /tmp"))
    cases.append(_refused("path traversal", "site.config_dir /etc/condor/.",
                          inserted("  uid_domain:", "  config_dir: /etc/condor/.", col_of="/etc"), "segments: /etc/condor"))
    text, _, _ = replaced("  target_dir: /srv", "/srv", "/srv/.scratch..d")
    cases.append(Case("path traversal", "dots inside a segment are a name", text, rendered=(("execute-batch/50-containers.conf", "SINGULARITY_TARGET_DIR = /srv/.scratch..d"),)))
    return cases


def period_cases() -> list[Case]:
    forms = [
        ("  period: 5m", "5m", "9999999h", "at most 24h"),
        ("  period: 5m", "5m", "25h", "at most 24h"),
        ("  period: 5m", "5m", "86401s", "at most 24h"),
        ("  period: 5m", "5m", "1441m", "at most 24h"),
    ]
    cases = [_refused("oversize period", f"health {new}", replaced(anchor, old, new), needle) for anchor, old, new, needle in forms]
    for period, needle in (("169h", "at most 168h"), ("604801s", "at most 168h"), ("9999999m", "at most 168h")):
        cases.append(_refused("oversize period", f"reboot check {period}", inserted("  check: /usr/local/sbin/reboot-needed", f"  period: {period}", col_of=period), needle))
    text, _, _ = replaced("  period: 5m", "5m", "24h")
    cases.append(Case("oversize period", "health 24h, the longest", text, rendered=(("execute-batch/60-health.conf", "STARTD_CRON_HEALTH_PERIOD = 86400s"),)))
    text, _, _ = inserted("  check: /usr/local/sbin/reboot-needed", "  period: 168h", col_of="168h")
    cases.append(Case("oversize period", "reboot check 168h, the longest", text, rendered=(("execute-gpu/70-reboots.conf", "STARTD_CRON_REBOOT_PERIOD = 604800s"),)))
    return cases


def corpus() -> list[Case]:
    cases = yaml11_cases() + float_cases() + trailing_newline_cases() + big_integer_cases() + tag_cases() + line_break_cases() + traversal_cases() + period_cases()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    return cases
