"""Templates compiled by scripts/compile_templates.py; see confgen/render/precompiled.py."""
