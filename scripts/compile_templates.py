"""Write confgen/render/compiled/: each template of confgen/render/templates compiled to Python
(see confgen/render/precompiled.py). `--check`: exit 1 if a module is missing, stale or left over."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confgen.render.env import make_env  # noqa: E402
from confgen.render.precompiled import all_modules  # noqa: E402

TARGET = ROOT / "confgen" / "render" / "compiled"


def main() -> int:
    env = make_env()
    wanted = all_modules(env, env.list_templates)
    wanted["__init__.py"] = '"""Templates compiled by scripts/compile_templates.py; see confgen/render/precompiled.py."""\n'
    present = {p.name: p.read_text(encoding="utf-8") for p in TARGET.glob("*.py")}
    if "--check" in sys.argv[1:]:
        wrong = sorted(n for n in set(wanted) | set(present) if wanted.get(n) != present.get(n))
        if wrong:
            print(f"confgen/render/compiled is not current ({', '.join(wrong)}): run scripts/compile_templates.py", file=sys.stderr)
            return 1
        return 0
    TARGET.mkdir(exist_ok=True)
    for name in set(present) - set(wanted):
        (TARGET / name).unlink()
    for name, text in wanted.items():
        (TARGET / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
