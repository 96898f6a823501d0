"""``python -m keepref_lint``: the command line. Importing this module runs nothing (tools that discover
rules or plugins by importing every module of a package, as Fixit does, must not start a run)."""

if __name__ == "__main__":
    try:
        from keepref_lint.cli import main

        status = main()
    except KeyboardInterrupt:  # before main() could catch it (while importing)
        exec("None", {})  # clear CPython's "unhandled KeyboardInterrupt" mark (see cli.main)
        status = 130
    import signal

    # The run is over and its status stands: a Ctrl-C while the interpreter shuts down (when it has
    # put back the default action, which would end the process by the signal) changes nothing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(status)
