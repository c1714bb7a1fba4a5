"""The `images` output directory: what the site's image recipes need from site.yaml. Not HTCondor
configuration (never fed to HTCondor's parser): files that go INTO the Apptainer images.

- `profile.d/confgen-job.sh`, the login snippet (/etc/profile.d in every image): inside a job it exports
  the site's thread variables from the job's CPU request and greets an interactive user with what the job
  requested. One file for all OSes: it is plain POSIX sh (bash, dash and busybox sh read it alike) and what
  it reads (the job and machine ads) is the same whatever the OS.
- `apptainer/99-zz-confgen-login.sh`, the login-environment hook (/.singularity.d/env of every image):
  Apptainer sources that directory before every job command; the hook sources /etc/profile when the job's
  environment has LOGIN_SWITCH=1, which `containers.login_environment: true` sets for every job through
  STARTER_JOB_ENVIRONMENT (HTCondor 25's USER_JOB_WRAPPER runs on the host around the apptainer command
  line, not inside the container, so a wrapper cannot start a login shell there).
- `recipes/<OS>.def`, per OS, the Apptainer recipe fragment (%files) that installs both, each naming
  the image it is for.

The snippet reads the ads as text and never evaluates them: a value is used only when it is plain digits
(or `true`), matched with `case`, so a hostile attribute value cannot run code.
"""

from __future__ import annotations

from confgen.render.provenance import generated_line
from confgen.site.model import Site

ROLE = "images"
SNIPPET = "profile.d/confgen-job.sh"
SNIPPET_TARGET = "/etc/profile.d/confgen-job.sh"
HOOK = "apptainer/99-zz-confgen-login.sh"
HOOK_TARGET = "/.singularity.d/env/99-zz-confgen-login.sh"
#: The job environment variable that makes the hook source /etc/profile (containers.login_environment).
LOGIN_SWITCH = "CONFGEN_LOGIN_ENVIRONMENT"

#: Job ad attribute -> (shell variable, machine ad attribute used when the job's value is not plain digits).
#: RequestMemory is an expression when the user asked for nothing; the slot's own size is then what they got.
NUMBERS = (("RequestCpus", "cpus", "Cpus"), ("RequestMemory", "memory", "Memory"),
           ("RequestDisk", "disk", "Disk"), ("RequestGPUs", "gpus", "GPUs"))


def files(site: Site, source: str) -> list[tuple[str, str]]:
    """(name under output/images/, text) of every file, sorted."""
    out = [(SNIPPET, snippet_text(site, source)), (HOOK, hook_text(site, source))]
    out += [(f"recipes/{os_name}.def", recipe_text(site, source, os_name)) for os_name in sorted(site.images)]
    return sorted(out)


def _anycase(name: str) -> str:
    """A `case` pattern matching `name` in any letter case (ClassAd attribute names are case-insensitive)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in name)


def _case_lines(ad: str, attrs: list[tuple[str, str]]) -> list[str]:
    """`case` branches keeping `_confgen_<ad>_<var>` for each (attribute, var); empty unless plain digits."""
    return [f'            {ad}/{_anycase(attr)}" = "*) _confgen_{ad}_{var}=$_confgen_digits ;;' for attr, var in attrs]


def snippet_text(site: Site, source: str) -> str:
    job = [(attr, var) for attr, var, _ in NUMBERS]
    machine = [(m_attr, var) for _, var, m_attr in NUMBERS]
    exports = [f'    export {name}="$_confgen_cpus"' for name in site.threads_env]
    return "\n".join([
        generated_line(site, source, f"the images of {site.name}: {SNIPPET_TARGET}"),
        "# Inside an HTCondor job: exports the thread variables (threads_env) from the job's CPU request, and greets",
        "# an interactive user with what the job requested. Plain POSIX sh, one file for every OS. It reads",
        "# $_CONDOR_JOB_AD and $_CONDOR_MACHINE_AD as text and never evaluates them: only values of plain digits",
        "# are used. Outside a job, or with a missing file or attribute, it prints and exports nothing.",
        "_confgen_scan() {",
        "    # $1: which ad (job or machine), $2: its file",
        '    [ -n "${2-}" ] && [ -f "$2" ] && [ -r "$2" ] || return 0',
        "    _confgen_line=",
        '    while IFS= read -r _confgen_line || [ -n "$_confgen_line" ]; do',
        '        _confgen_digits=${_confgen_line#*" = "}',
        '        case $_confgen_digits in ""|*[!0-9]*) _confgen_digits= ;; esac',
        '        case $1/$_confgen_line in',
        *_case_lines("job", job),
        *_case_lines("machine", machine),
        f'            job/{_anycase("InteractiveJob")}" = "{_anycase("true")}) _confgen_interactive=1 ;;',
        "        esac",
        '    done < "$2"',
        "}",
        "_confgen_interactive=",
        *(f"_confgen_job_{var}= ; _confgen_machine_{var}=" for _, var, _ in NUMBERS),
        '_confgen_scan job "${_CONDOR_JOB_AD-}"',
        '_confgen_scan machine "${_CONDOR_MACHINE_AD-}"',
        *(f'_confgen_{var}=${{_confgen_job_{var}:-$_confgen_machine_{var}}}' for _, var, _ in NUMBERS),
        'if [ -n "$_confgen_cpus" ]; then',
        *(exports or ["    :  # the site lists no thread variables"]),
        "fi",
        "# The greeting: an interactive job's interactive shell only (not its batch payload, not ssh_to_job <command>).",
        'case "$_confgen_interactive/$-" in',
        "    1/*i*)",
        '        _confgen_said=',
        '        [ -z "$_confgen_cpus" ] || _confgen_said="$_confgen_cpus core(s)"',
        '        [ -z "$_confgen_memory" ] || _confgen_said="${_confgen_said:+$_confgen_said, }$_confgen_memory MB RAM"',
        '        [ -z "$_confgen_disk" ] || _confgen_said="${_confgen_said:+$_confgen_said, }$_confgen_disk kB disk space"',
        '        case $_confgen_gpus in *[1-9]*) _confgen_said="${_confgen_said:+$_confgen_said, }$_confgen_gpus GPU(s)" ;; esac',
        '        [ -z "$_confgen_said" ] || printf \'You requested %s\\n\' "$_confgen_said"',
        "        ;;",
        "esac",
        "unset _confgen_line _confgen_digits _confgen_interactive _confgen_said " + " ".join(
            f"_confgen_{var} _confgen_job_{var} _confgen_machine_{var}" for _, var, _ in NUMBERS),
        "unset -f _confgen_scan",
        "",
    ])


def hook_text(site: Site, source: str) -> str:
    return "\n".join([
        generated_line(site, source, f"the images of {site.name}: {HOOK_TARGET}"),
        "# Apptainer sources every file of /.singularity.d/env before it runs a job's command. With",
        f"# {LOGIN_SWITCH}=1 in the job's environment (containers.login_environment: true sets it for every job",
        "# with STARTER_JOB_ENVIRONMENT) a batch job gets the login environment of an interactive one: /etc/profile",
        "# and /etc/profile.d, as a login shell reads them. Without it this file does nothing.",
        f'if [ "${{{LOGIN_SWITCH}-}}" = 1 ] && [ -r /etc/profile ]; then',
        "    . /etc/profile",
        "fi",
        "",
    ])


def recipe_text(site: Site, source: str, os_name: str) -> str:
    return "\n".join([
        generated_line(site, source, f"the image of {os_name} ({site.images[os_name]})"),
        f"# Add to the Apptainer recipe of {os_name}; build from output/images/ (the %files sources are relative to it).",
        f"# {SNIPPET_TARGET}: thread variables and the greeting inside jobs; {HOOK_TARGET}: batch",
        "# jobs source /etc/profile when the site sets containers.login_environment.",
        "# No %post: %files keeps the files' mode, 0644 as confgen writes them.",
        "%files",
        f"    {SNIPPET} {SNIPPET_TARGET}",
        f"    {HOOK} {HOOK_TARGET}",
        "",
    ])
