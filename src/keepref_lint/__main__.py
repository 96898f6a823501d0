"""``python -m keepref_lint``: the command line. Importing this module runs nothing (tools that discover
rules or plugins by importing every module of a package, as Fixit does, must not start a run)."""

if __name__ == "__main__":
    try:
        from keepref_lint.console import console
    except KeyboardInterrupt:  # while importing, before main() could catch it
        exec("None", {})  # clear CPython's "unhandled KeyboardInterrupt" mark (see cli.main)
        raise SystemExit(130) from None
    console()  # ends the process with the run's status (no interpreter shutdown to interrupt)
