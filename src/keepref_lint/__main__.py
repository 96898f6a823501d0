"""``python -m keepref_lint``: the command line. Importing this module runs nothing (tools that discover
rules or plugins by importing every module of a package, as Fixit does, must not start a run)."""

from keepref_lint.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
