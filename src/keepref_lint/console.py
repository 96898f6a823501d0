"""The installed ``keepref-lint`` command (and ``python -m keepref_lint``).

A repeated ``check`` is answered from its memo (memo.py) with nothing else imported; any other command
line, or one whose memo no longer holds, runs the whole command (cli.main). Either way the process then
ends at once with the run's status.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def console() -> "NoReturn":
    """Everything the run writes is written and closed by the end (fixes and caches are complete files,
    renamed into place); freeing a large tree's syntax trees and index object by object on the way out
    would take longer than some whole runs (a third of a second on a 3,000-file tree), for memory the
    system takes back anyway."""
    try:
        status = _replayed()
    except KeyboardInterrupt:
        print("keepref-lint: interrupted", file=sys.stderr)
        status = 130
    try:
        if status is None:
            from keepref_lint import cli, engine

            engine.held_until_exit = []
            status = cli.main()
    except KeyboardInterrupt:  # before main() could catch it
        status = 130
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``): what could be written was
            pass
    if sys.getprofile() is not None or sys.gettrace() is not None:
        # A profiler or coverage is watching: let it write its results at exit.
        raise SystemExit(status)
    os._exit(status)


def _replayed() -> "int | None":
    """The memo's status, its output written, when this command line has a memo that still holds."""
    if sys.stdout is None or sys.stderr is None:  # an interpreter without a console
        return None
    from keepref_lint import memo
    from keepref_lint.streams import SafeStream

    return memo.replay(sys.argv[1:], SafeStream(sys.stdout), SafeStream(sys.stderr))
