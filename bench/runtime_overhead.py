"""The cost of runtime mode (docs/runtime.md): a call of a marked function, wrapped and not.

    python bench/runtime_overhead.py [--repeat 5]

Each row times one statement with ``timeit`` (best of ``--repeat`` runs, each long enough for ~0.2 s of
this process's CPU time, ``time.process_time``, so other processes on a shared machine count less) and
prints nanoseconds per call beside the same statement on the unmarked function. The result is stored
in a list slot, so each call's result is collected when the next one replaces it: a watched result costs
its weak reference, its record and the callback that looks at its death (not a drop, so no warning).
Without ``KEEPREF_LINT_RUNTIME`` a marked function is the function itself, so that row is the plain one.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import timeit
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from keepref_lint import DroppedReferenceWarning, runtime


class Server:
    pass


class Slotted:
    __slots__ = ("n",)


def make() -> Server:
    return Server()


def number() -> int:
    return 5


def slotted() -> Slotted:
    return Slotted()


class Method:
    def open(self) -> Server:
        return Server()


async def connect() -> Server:
    return Server()


def _drive(coro: object) -> object:
    try:
        coro.send(None)  # type: ignore[attr-defined]
    except StopIteration as done:
        return done.value
    raise RuntimeError("the coroutine suspended")


class Marked(Server):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    wrapped_class = runtime.wrap(Marked)
    service = Method()
    wrapped_open = runtime.wrap(Method.open).__get__(service)
    names = {
        "out": [None],
        "make": make,
        "wrapped_make": runtime.wrap(make),
        "number": number,
        "wrapped_number": runtime.wrap(number),
        "slotted": slotted,
        "wrapped_slotted": runtime.wrap(slotted),
        "Server": Server,
        "Marked": wrapped_class,
        "open": service.open,
        "wrapped_open": wrapped_open,
        "connect": connect,
        "wrapped_connect": runtime.wrap(connect),
        "drive": _drive,
    }
    rows = [
        ("function, result kept until replaced", "out[0] = make()", "out[0] = wrapped_make()"),
        ("method", "out[0] = open()", "out[0] = wrapped_open()"),
        ("class instantiation", "out[0] = Server()", "out[0] = Marked()"),
        (
            "async def (driven by hand)",
            "out[0] = drive(connect())",
            "out[0] = drive(wrapped_connect())",
        ),
        ("result not weakly referenceable (int)", "out[0] = number()", "out[0] = wrapped_number()"),
        (
            "result not weakly referenceable (__slots__)",
            "out[0] = slotted()",
            "out[0] = wrapped_slotted()",
        ),
        ("bare call: a drop, recorded and warned", "make()", "wrapped_make()"),
    ]

    def per_call(stmt: str) -> float:
        timer = timeit.Timer(stmt, timer=time.process_time, globals=names)
        loops, _ = timer.autorange()
        loops = max(loops, int(loops * 0.2 / max(timer.timeit(loops), 1e-9)))
        best = min(timer.repeat(repeat=args.repeat, number=loops))
        runtime.take_drops()
        return best / loops * 1e9

    warnings.simplefilter("ignore", DroppedReferenceWarning)  # shown once per site anyway
    print(
        f"Python {platform.python_version()} on {platform.machine()}; ns of CPU time per call (process_time), best of {args.repeat}"
    )
    print()
    print("| call | unmarked | runtime mode | overhead |")
    print("|---|---:|---:|---:|")
    for label, plain, wrapped in rows:
        before, after = per_call(plain), per_call(wrapped)
        print(
            f"| {label} | {before:.0f} | {after:.0f} | +{after - before:.0f} ({after / before:.1f}x) |"
        )


if __name__ == "__main__":
    main()
