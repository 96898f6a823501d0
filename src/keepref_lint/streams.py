"""The command's standard output and error, made safe to write to, and what was written kept in order
(for the memo, memo.py)."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


BYPASSED = 2  # in ``SafeStream.written``: something was written past the text stream


class SafeStream:
    """``sys.stdout`` or ``sys.stderr`` for the length of a command, made safe to write to: a text the
    stream's encoding cannot take is written with replacement characters, and once the reader has gone
    (``keepref-lint check . | head -1``) the rest goes nowhere, quietly, and the run ends as it would
    have, with its own exit status.

    ``written``, when given, receives ``(which, text)`` for every text written, in order, as the memo
    stores a run's output (``which`` tells the streams apart: 0 for standard output, 1 for standard
    error). Bytes written to the stream's ``buffer`` are not seen: asking for it adds ``(BYPASSED, "")``,
    and the memo is then not written."""

    def __init__(
        self, stream: "Any", written: "list[tuple[int, str]] | None" = None, which: int = 0
    ) -> None:
        self._stream = stream
        self.written = written
        self.which = which

    def unkept(self) -> "SafeStream":
        """The same stream, without the keeping of what is written (a progress display is not output)."""
        return SafeStream(self._stream)

    def write(self, text: str) -> int:
        if self.written is not None:
            self.written.append((self.which, text))
        return self._write(text)

    def _write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self._stream, "encoding", None) or "utf-8"
            return self._write(text.encode(encoding, "replace").decode(encoding))
        except BrokenPipeError:
            self._reader_gone()
            return len(text)

    def flush(self) -> None:
        if getattr(self._stream, "closed", False):
            return  # closed by the command itself (the language server closes stdout on exit)
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()

    def _reader_gone(self) -> None:
        import os

        try:  # what is still buffered, and whatever follows, is written to nothing
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name: str) -> "Any":
        if name == "buffer" and self.written is not None:
            self.written.append((BYPASSED, ""))
        return getattr(self._stream, name)
