"""Images resolved on the execute node (`containers.images.<OS>: {path, newest}`): the newest build under
`path` whose name matches the glob `newest`, read by HTCondor through an `include command into`.

What HTCondor does with the include (condor_utils/config.cpp, Parse_macros and Copy_macro_source_into,
and the manual's "include [ifexist] command [into <cache-file>] : <cmdline>"): when the cache file
exists it is read and the command is NOT run; otherwise the command runs (no shell: its line is split
on whitespace after macro expansion), its output is written to the cache file and parsed as config.
A command that exits non-zero aborts the configuration (the daemons do not start, tools refuse) and
leaves no cache. So the node keeps its answer until the cache file is removed (REFRESH below).

The script is plain POSIX shell, shipped beside the fragments in <config_dir>/scripts/ (Puppet's
recursive copy of the role directory; files there are not read as config) and run with /bin/sh, so it
needs no execute bit. It always exits 0 and prints at most one line, `<MACRO> = <path>/<name>`, where
<name> passed a whitelist (letters, digits, '.', '_', '+', '-'; no leading '.'; at most NAME_MAX
characters): any other directory name is skipped, never escaped. With no usable build it prints the
last good answer it kept (re-checked the same way), else nothing: then the placeholder rendered
before the include stays, a path that names the problem when Apptainer cannot open it.
"""

from __future__ import annotations

import dataclasses

from confgen.render import expressions as ex
from confgen.render.env import raw
from confgen.site.model import NewestImage, Site

SCRIPT_DIR = "scripts"
SCRIPT_NAME = "newest-image.sh"
#: Where the node keeps each answer: the include's cache, and the script's last good answer. LOCAL_DIR
#: unless CACHE_KNOB is set (`confgen check` sets it in its own root config, leaving LOCAL_DIR alone).
#: The include line cannot hold `$(A:default)` (its first ':' ends the options), so a knob does.
CACHE_KNOB = "CONFGEN_IMAGE_CACHE_DIR"
CACHE_MACRO = "CONFGEN_IMAGE_CACHE"
CACHE_VALUE = f"$({CACHE_KNOB}:$(LOCAL_DIR))"
CACHE_DIR = f"$({CACHE_MACRO})"
#: Longest build name the script accepts.
NAME_MAX = 100
#: The placeholder's last segment: what Apptainer reports when no build was ever found.
PLACEHOLDER = "confgen-no-build-matching"
#: How a node moves to a newer build (the Puppet example's refresh_newest_images does it daily; it
#: matches the cache files as confgen-newest-image.*_IMAGE).
REFRESH = "remove the cache file and run condor_reconfig; the Puppet example's refresh_newest_images does it daily"

SCRIPT = r"""# Rendered by confgen (confgen/render/newest_images.py). Run by HTCondor's config parser through
#   include command into <cache> : /bin/sh <this file> MACRO DIR GLOB STATE
# Prints "MACRO = DIR/<newest name matching GLOB>" (names compared byte by byte), else the last good
# answer kept in STATE, else nothing. Always exits 0: a failing command would abort the configuration.
# Only names made of [A-Za-z0-9._+-] (no leading '.', at most @NAME_MAX@ characters) are considered:
# anything else could break or inject into the configuration line, and is skipped.
LC_ALL=C
export LC_ALL
macro=${1-} dir=${2-} glob=${3-} state=${4-}
case $macro in '' | *[!A-Z0-9_]*) exit 0 ;; esac
case $dir in /*) ;; *) exit 0 ;; esac
case $dir in *[!A-Za-z0-9._+/-]* | *//* | */./* | */../* | */. | */..) exit 0 ;; esac
safe_name() {
    case $1 in '' | .* | *[!A-Za-z0-9._+-]*) return 1 ;; esac
    [ "${#1}" -le @NAME_MAX@ ]
}
best=
case $glob in '' | */* | *..*) ;; *)
    IFS=
    best=$(for cand in "$dir"/$glob; do
        name=${cand##*/}
        safe_name "$name" || continue
        if [ -d "$cand" ] || [ -f "$cand" ]; then printf '%s\n' "$name"; fi
    done | sort | tail -n 1)
    ;;
esac
if [ -n "$best" ]; then
    line="$macro = $dir/$best"
    if [ -n "$state" ]; then
        { printf '%s\n' "$line" > "$state.tmp.$$" && mv -f "$state.tmp.$$" "$state"; } 2>/dev/null || rm -f "$state.tmp.$$" 2>/dev/null
    fi
    printf '%s\n' "$line"
    exit 0
fi
[ -n "$state" ] && [ -f "$state" ] || exit 0
IFS= read -r last < "$state" 2>/dev/null || exit 0
case $last in "$macro = $dir/"*) ;; *) exit 0 ;; esac
safe_name "${last#"$macro = $dir/"}" && printf '%s\n' "$last"
exit 0
""".replace("@NAME_MAX@", str(NAME_MAX))


@dataclasses.dataclass(frozen=True)
class Resolution:
    """How one OS's image macro is set on the node."""

    os_name: str
    macro: str
    newest: NewestImage
    cache: str
    state: str
    placeholder: str
    command: str

    @property
    def node_cache(self) -> str:
        """The cache file as a node sees it."""
        return self.cache.replace(CACHE_DIR, "$(LOCAL_DIR)")


def script_path(site: Site) -> str:
    return f"{site.config_dir}/{SCRIPT_DIR}/{SCRIPT_NAME}"


def resolution(site: Site, os_name: str) -> Resolution:
    newest = site.newest[os_name]
    macro = ex.image_macro(os_name)
    cache = f"{CACHE_DIR}/confgen-newest-image.{macro}"
    state = f"{cache}.last"
    # path and glob are one word each (site/newest_images.py); raw refuses '$', which would expand
    command = f"/bin/sh {raw(script_path(site))} {macro} {raw(newest.path)} {raw(newest.glob)} {state}"
    return Resolution(os_name, macro, newest, cache, state, f"{newest.path}/{PLACEHOLDER}", command)


def resolutions(site: Site, os_names: list[str]) -> list[Resolution]:
    return [resolution(site, n) for n in os_names if n in site.newest]


def files(site: Site, os_names: list[str], generated: str) -> list[tuple[str, str]]:
    """(name in the role directory, text) of the script, for an execute class that resolves images; its
    first line is the role's provenance line (`generated`), as in every file of a role directory."""
    return [(f"{SCRIPT_DIR}/{SCRIPT_NAME}", f"{generated}\n{SCRIPT}")] if resolutions(site, os_names) else []


def sample(site: Site, os_name: str) -> str:
    """The image `confgen check` assumes for an OS resolved on the node: path/glob as written."""
    newest = site.newest[os_name]
    return f"{newest.path}/{newest.glob}"
