"""Where in a line a catalog call can be a drop, judged from the text alone (the prefilter's test).

The test must accept every occurrence the rules could report once the file is parsed (the
prefilter-equivalence property test holds it to that), and should reject the common kept shapes
(``await x()``, ``return x()``, ``foo(x())``) so that most files are never parsed. An occurrence of a
name called (``name(``) is a possible drop when

- a fresh result's attribute is read (``x().name``, ``x().add_done_callback(cb)``): anywhere (KR004);
- or, once the receiver chain before the name is set aside (``asyncio.``, ``self.loop.``,
  ``asyncio.get_running_loop().``), what precedes it on its logical line (backslash continuations
  joined) ends where a statement, an operand or an element can start: nothing, ``;``, ``:``, ``=``
  (assignments, ``:=``, keywords such as ``image=``), an opening bracket that is not a call's, ``,``,
  or the words ``and``, ``or``, ``if``, ``else``.

A chain that ends in a call of its own (``f(x).create_task(``) cannot be set aside by a regular
expression; it is accepted.
"""

from __future__ import annotations

import re

_CALL_AFTER = re.compile(rb"[ \t]*\(")
# The receiver chain right before the name: dotted names and calls with flat arguments.
_CHAIN = re.compile(rb"(?:[\w.]|\([^()\n]*\))*\Z")
_OPENS = re.compile(rb"(?:\A|[;:=,(\[{]|\b(?:and|or|if|else|elif|while|assert|in|not|lambda))\Z")
_WORD_OPEN = re.compile(rb"(\w+)[ \t]*\(\Z")
_CLOSE_OPEN = re.compile(rb"[)\]}][ \t]*\(\Z")
_KEYWORDS = frozenset(
    {b"and", b"or", b"not", b"if", b"elif", b"else", b"while", b"in", b"is", b"assert", b"await",
     b"return", b"yield", b"lambda", b"del", b"for", b"with", b"except", b"from"}
)  # fmt: skip
_CONTINUED = re.compile(rb"\\[ \t]*\r?\n\Z")
_SCAN_LIMIT = 20_000


def logical_line_before(data: bytes, at: int) -> bytes:
    """The text before ``at`` on its line, and the lines that a backslash continues into it."""
    start = data.rfind(b"\n", 0, at) + 1
    while start > 0 and _CONTINUED.search(data, 0, start):
        start = data.rfind(b"\n", 0, start - 1) + 1
    return data[start:at].replace(b"\\\n", b" ").replace(b"\\\r\n", b" ")


def _attribute_after(data: bytes, at: int, name: str) -> bool:
    """Is the call's closing bracket followed by ``.`` (an attribute of the fresh result)? True also
    when the arguments cannot be scanned cheaply (a string in them, or too long)."""
    opening = data.find(b"(", at + len(name))
    depth = 0
    end = min(len(data), opening + _SCAN_LIMIT)
    for index in range(opening, end):
        byte = data[index]
        if byte in b"([{":
            depth += 1
        elif byte in b")]}":
            depth -= 1
            if depth == 0:
                rest = data[index + 1 : index + 200].lstrip(b" \t")
                return rest.startswith(b".") or rest.startswith(b"\\")
        elif byte in b"\"'#":
            return True  # a string or comment could hold brackets: cannot tell
    return True


def drop_shaped(data: bytes, at: int, name: str) -> bool:
    """Can the occurrence of ``name`` at ``at`` be a call whose result the rules would report?"""
    if _CALL_AFTER.match(data, at + len(name)) is None:
        return False
    before = logical_line_before(data, at)
    chain = _CHAIN.search(before)
    chain_text = before[chain.start() :] if chain is not None else b""
    if before.endswith(b").") and (not chain_text or chain_text.startswith(b".")):
        return True  # ``f(g()).create_task(``: where the receiver starts is not known
    head = before[: len(before) - len(chain_text)].rstrip(b" \t")
    if head.endswith(b"("):
        word = _WORD_OPEN.search(head)
        if (word is not None and word.group(1) not in _KEYWORDS) or _CLOSE_OPEN.search(head):
            return _attribute_after(data, at, name)  # an argument: the callee may keep it
        return True
    if head.endswith((b"==", b"!=", b"<=", b">=")) or not _OPENS.search(head):
        return _attribute_after(data, at, name)  # ``await x()``, ``return x()``, an operand
    return True
