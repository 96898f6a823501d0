"""``python -m keepref_lint``: the command line. Importing this module runs nothing (tools that discover
rules or plugins by importing every module of a package, as Fixit does, must not start a run)."""

if __name__ == "__main__":
    try:
        from keepref_lint.cli import main

        status = main()
    except KeyboardInterrupt:  # before main() could catch it (while importing)
        exec("None", {})  # clear CPython's "unhandled KeyboardInterrupt" mark (see cli.main)
        status = 130
    raise SystemExit(status)
