"""Read container logs in the kubelet's CRI log format.

The runtime (containerd, CRI-O) writes one record per line::

    2026-12-04T15:20:58.551033374Z stdout F hello world
    <timestamp>                    <stream> <tag> <content>

The timestamp is RFC 3339 with 0 to 9 fractional digits. The stream is
``stdout`` or ``stderr``. The tag is ``F`` for a full line, or ``P`` for a
partial one that continues in the next record of the same stream. A tag may
carry ``:``-separated extensions (``P:x``), and only the part before the first
``:`` counts. The header ends at the third space, so the content keeps its
leading spaces and may be empty.

>>> entries = read_log("/var/log/pods/default_web_1234/nginx/0.log", tail=10)
>>> print(log_text(entries, timestamps=True))

Timestamps are integer nanoseconds since the Unix epoch and are computed
without floats, so they are exact. Records (`LogRecord`, one physical line)
are joined into entries (`LogEntry`, one logical line) by `join_records`.
"""

from __future__ import annotations

import collections
import datetime
import logging
import math
import os
import re
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from ..errors import LogFormatError, LogPathError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_MAX_BYTES",
    "LogEntry",
    "LogFormatError",
    "LogPathError",
    "LogRecord",
    "follow_log",
    "format_timestamp",
    "join_records",
    "log_frame",
    "log_text",
    "parse_line",
    "parse_timestamp",
    "previous_log_path",
    "read_log",
]

log = logging.getLogger(__name__)

STREAMS = ("stdout", "stderr")
TAG_FULL = "F"
TAG_PARTIAL = "P"
# Maximum size of one joined entry in UTF-8 bytes before join_records cuts it.
DEFAULT_MAX_BYTES = 1 << 20
ERROR_MODES = ("raise", "skip")
_LINE_FORMAT = "'<RFC 3339 timestamp> <stdout|stderr> <F|P>[:extension] <content>'"
_NS_PER_SECOND = 1_000_000_000
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
# The range of datetime64[ns]: int64 nanoseconds, whose minimum is NaT in pandas.
_NS_MIN = -(2**63) + 1
_NS_MAX = 2**63 - 1
# Bytes that follow_log reads per call, so that a large file is read in steps.
_READ_CHUNK = 1 << 20

# ASCII digits only: \d would also match other scripts' digits.
_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?:(?P<utc>[Zz])"
    r"|(?P<sign>[+-])(?P<offset_hour>[0-9]{2}):(?P<offset_minute>[0-9]{2}))"
)
_TIMESTAMP_FORMAT = (
    "expected YYYY-MM-DDTHH:MM:SS, an optional '.' with 1 to 9 fractional digits, "
    "then Z or an offset such as +02:00"
)
_SKIP_HINT = " Pass errors='skip' to read past malformed lines."
_LOG_NAME = re.compile(r"(?P<attempt>0|[1-9][0-9]*)\.log")


# Timestamps


def parse_timestamp(text: str) -> int:
    """Convert an RFC 3339 timestamp to integer nanoseconds since the Unix epoch.

    Accepts 0 to 9 fractional digits and ``Z``, ``z`` or a ``±HH:MM`` offset.
    Raises LogFormatError for anything else, including a leap second (``:60``),
    which Go's time package, used by containerd and CRI-O, never formats.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise LogFormatError(
            f"invalid RFC 3339 timestamp {text[:80]!r}: {_TIMESTAMP_FORMAT}"
        )
    try:
        date = datetime.date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as error:
        raise LogFormatError(f"invalid RFC 3339 timestamp {text!r}: {error}") from error

    hour = int(match["hour"])
    minute = int(match["minute"])
    second = int(match["second"])
    offset_seconds = 0
    if match["sign"] is not None:
        offset_hour = int(match["offset_hour"])
        offset_minute = int(match["offset_minute"])
        _check_range(text, "offset hour", offset_hour, 23)
        _check_range(text, "offset minute", offset_minute, 59)
        offset_seconds = offset_hour * 3600 + offset_minute * 60
        if match["sign"] == "-":
            offset_seconds = -offset_seconds
    _check_range(text, "hour", hour, 23)
    _check_range(text, "minute", minute, 59)
    _check_range(text, "second", second, 59)

    days = date.toordinal() - _EPOCH_ORDINAL
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds
    # "5" means 500000000 ns: pad the digits on the right to 9.
    fraction_ns = int((match["fraction"] or "").ljust(9, "0"))
    return seconds * _NS_PER_SECOND + fraction_ns


def _check_range(text: str, name: str, value: int, maximum: int) -> None:
    if value > maximum:
        raise LogFormatError(
            f"invalid RFC 3339 timestamp {text!r}: {name} {value} is out of range "
            f"0..{maximum}"
        )


def format_timestamp(timestamp_ns: int) -> str:
    """Format nanoseconds since the epoch as RFC 3339 UTC with 9 fractional digits."""
    seconds, fraction_ns = divmod(timestamp_ns, _NS_PER_SECOND)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    moment = epoch + datetime.timedelta(seconds=seconds)
    # %Y gives "999", not "0999", for years before 1000 on glibc.
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{fraction_ns:09d}Z"


# Records and entries


@dataclass(frozen=True)
class LogRecord:
    """One physical line of a CRI log.

    ``tag`` is the base tag, "F" or "P", without extensions. ``line_number``
    counts from 1, or is 0 when the line did not come from a file.
    """

    timestamp_ns: int
    stream: str
    tag: str
    content: str
    line_number: int = 0


@dataclass(frozen=True)
class LogEntry:
    """One logical line: the content of a run of P records and the F that ends it.

    ``timestamp_ns`` is the time of the first fragment. ``partial`` is True when
    the run had not ended: at the end of the input, at log rotation, or where
    the size cap of join_records cut it. ``fragments`` counts the records joined.
    """

    timestamp_ns: int
    stream: str
    content: str
    partial: bool = False
    fragments: int = 1

    @property
    def time(self) -> pd.Timestamp:
        """The first fragment's time as a nanosecond-exact pandas Timestamp in UTC.

        Raises pandas' OutOfBoundsDatetime outside the range that log_frame gives.
        """
        import pandas as pd

        return pd.Timestamp(self.timestamp_ns, unit="ns", tz="UTC")


def parse_line(line: str, line_number: int = 0) -> LogRecord:
    """Parse one CRI log line into a LogRecord.

    One trailing "\\n" is removed, but a "\\r" stays in the content. Raises
    LogFormatError naming the line number (when given) and the problem.
    """
    return _parse_line(line, line_number, source=None)


def _parse_line(
    line: str, line_number: int, source: str | None, hint: str = ""
) -> LogRecord:
    line = line.removesuffix("\n")
    # Only the first three spaces separate fields, so content keeps its spaces.
    fields = line.split(" ", 3)
    try:
        timestamp_ns = parse_timestamp(fields[0])
    except LogFormatError as error:
        raise _line_error(line, line_number, source, hint, str(error)) from error
    if len(fields) < 2:
        raise _line_error(line, line_number, source, hint, "the stream is missing")
    stream = fields[1]
    if stream not in STREAMS:
        raise _line_error(
            line,
            line_number,
            source,
            hint,
            f"the stream {stream[:20]!r} is neither stdout nor stderr",
        )
    if len(fields) < 3:
        raise _line_error(line, line_number, source, hint, "the tag is missing")
    tag = fields[2].split(":", 1)[0]
    if tag not in (TAG_FULL, TAG_PARTIAL):
        raise _line_error(
            line,
            line_number,
            source,
            hint,
            f"the tag {fields[2][:20]!r} is neither F nor P",
        )
    content = fields[3] if len(fields) == 4 else ""
    return LogRecord(timestamp_ns, stream, tag, content, line_number)


def _line_error(
    line: str, line_number: int, source: str | None, hint: str, problem: str
) -> LogFormatError:
    if source is not None:
        where = f"{source}, line {line_number}: "
    elif line_number:
        where = f"line {line_number}: "
    else:
        where = ""
    return LogFormatError(
        f"{where}invalid CRI log line {line[:80]!r}: {problem}. "
        f"Expected {_LINE_FORMAT}.{hint}"
    )


# Joining partial records


@dataclass
class _OpenEntry:
    timestamp_ns: int
    parts: list[str] = field(default_factory=list)
    size: int = 0
    last_sequence: int = 0


class _Joiner:
    """Per-stream buffers of P fragments, shared by join_records and follow_log."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._open: dict[str, _OpenEntry] = {}
        self._sequence = 0

    def add(self, record: LogRecord) -> list[LogEntry]:
        """Add one record and return the entries that it closes (zero to two)."""
        self._sequence += 1
        closed = []
        size = len(record.content.encode("utf-8", "surrogatepass"))
        current = self._open.get(record.stream)
        if current is not None and current.size + size > self._max_bytes:
            closed.append(self._close(record.stream, partial=True))
            current = None
        if current is None:
            current = _OpenEntry(record.timestamp_ns)
            self._open[record.stream] = current
        current.parts.append(record.content)
        current.size += size
        current.last_sequence = self._sequence
        if record.tag == TAG_FULL:
            closed.append(self._close(record.stream, partial=False))
        return closed

    def flush(self) -> list[LogEntry]:
        """Close every open entry as partial, in the order of its last fragment."""
        streams = sorted(self._open, key=lambda name: self._open[name].last_sequence)
        return [self._close(stream, partial=True) for stream in streams]

    def _close(self, stream: str, *, partial: bool) -> LogEntry:
        entry = self._open.pop(stream)
        return LogEntry(
            timestamp_ns=entry.timestamp_ns,
            stream=stream,
            content="".join(entry.parts),
            partial=partial,
            fragments=len(entry.parts),
        )


def _check_max_bytes(max_bytes: int) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(
            f"invalid max_bytes {max_bytes!r}: give a positive number of bytes"
        )
    return max_bytes


def join_records(
    records: Iterable[LogRecord], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[LogEntry]:
    """Join runs of P records into entries, with one buffer per stream.

    Fragments are concatenated exactly as written, so a stderr record between
    two stdout fragments never lands inside the stdout entry. An F record with
    no P before it is a whole entry.

    Entries come out in the order they close, which for complete entries is the
    order of their F record (their last fragment). A streaming join can do no
    better without holding back finished entries of one stream while the other
    stream has an open run. An entry also closes, marked partial, in two cases:

    - when the next fragment would grow it past ``max_bytes`` (UTF-8 bytes of
      content). The buffered part comes out as a partial entry at that record,
      and the fragment starts a new entry. A single fragment larger than
      max_bytes is kept whole.
    - at the end of the input. Open entries are never dropped. They come out
      last, in the order of their last fragment.
    """
    joiner = _Joiner(_check_max_bytes(max_bytes))
    for record in records:
        yield from joiner.add(record)
    yield from joiner.flush()


# Reading a file


def _check_read_options(stream: str | None, errors: str) -> None:
    if stream is not None and stream not in STREAMS:
        raise ValueError(f"invalid stream {stream!r}: use 'stdout', 'stderr' or None")
    if errors not in ERROR_MODES:
        raise ValueError(f"invalid errors {errors!r}: use 'raise' or 'skip'")


def _decode(raw: bytes) -> str:
    return raw.removesuffix(b"\n").decode("utf-8", "replace")


def read_log(
    path: str | os.PathLike[str],
    *,
    stream: str | None = None,
    since_ns: int | None = None,
    tail: int | None = None,
    errors: str = "raise",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[LogEntry]:
    """Read a CRI log file and return its entries, joined and filtered.

    Lines end at "\\n" only, so a "\\r" stays in the content. Bytes that are
    not UTF-8 become U+FFFD. A final line without "\\n" is parsed too.

    Filters apply in this order: ``stream``, then ``since_ns`` (keep entries
    whose first fragment is at or after it), then ``tail`` (keep the last N).
    Entries are in join_records order.

    With ``errors="raise"`` a malformed line raises LogFormatError naming the
    file and line number. With ``errors="skip"`` malformed lines are left out,
    and one warning on this module's logger gives their count and the first one.
    """
    _check_read_options(stream, errors)
    if tail is not None and (
        isinstance(tail, bool) or not isinstance(tail, int) or tail < 0
    ):
        raise ValueError(
            f"invalid tail {tail!r}: give a number of entries >= 0 or None"
        )
    joiner = _Joiner(_check_max_bytes(max_bytes))
    kept: collections.deque[LogEntry] = collections.deque(maxlen=tail)
    source = os.fspath(path)
    skipped = 0
    first_problem: LogFormatError | None = None

    def keep(entries: list[LogEntry]) -> None:
        for entry in entries:
            if stream is not None and entry.stream != stream:
                continue
            if since_ns is not None and entry.timestamp_ns < since_ns:
                continue
            kept.append(entry)

    with open(path, "rb") as file:
        # Iterating a binary file splits on b"\n" only.
        for line_number, raw in enumerate(file, start=1):
            try:
                record = _parse_line(_decode(raw), line_number, source, _SKIP_HINT)
            except LogFormatError as error:
                if errors == "raise":
                    raise
                skipped += 1
                if first_problem is None:
                    first_problem = error
                continue
            keep(joiner.add(record))
    keep(joiner.flush())

    if skipped:
        log.warning(
            "skipped %d malformed line(s) in %s. The first: %s",
            skipped,
            source,
            first_problem,
        )
    return list(kept)


# Views


def log_frame(entries: Iterable[LogEntry]) -> pd.DataFrame:
    """Build a DataFrame with columns time, stream, content, partial and fragments.

    ``time`` is datetime64[ns, UTC] and exact to the nanosecond. Raises
    OverflowError for a timestamp that datetime64[ns] cannot hold, which is
    one before 1677-09-21T00:12:43.145224193Z or after
    2262-04-11T23:47:16.854775807Z.
    """
    import numpy as np
    import pandas as pd

    entries = list(entries)
    for entry in entries:
        if not _NS_MIN <= entry.timestamp_ns <= _NS_MAX:
            raise OverflowError(
                f"timestamp {format_timestamp(entry.timestamp_ns)} of a "
                f"{entry.stream} entry is outside the range of datetime64[ns]"
            )
    nanoseconds = np.asarray([entry.timestamp_ns for entry in entries], dtype=np.int64)
    return pd.DataFrame(
        {
            "time": pd.to_datetime(nanoseconds, unit="ns", utc=True),
            "stream": pd.Series([entry.stream for entry in entries], dtype="str"),
            "content": pd.Series([entry.content for entry in entries], dtype="str"),
            "partial": pd.Series([entry.partial for entry in entries], dtype=bool),
            "fragments": pd.Series(
                [entry.fragments for entry in entries], dtype=np.int64
            ),
        }
    )


def log_text(entries: Iterable[LogEntry], *, timestamps: bool = False) -> str:
    """Join the entries' content into text, one line per entry, each ending in "\\n".

    With ``timestamps=True`` each line starts with the first fragment's time in
    RFC 3339 UTC with 9 fractional digits, then a space.
    """
    lines = []
    for entry in entries:
        if timestamps:
            lines.append(f"{format_timestamp(entry.timestamp_ns)} {entry.content}\n")
        else:
            lines.append(f"{entry.content}\n")
    return "".join(lines)


# Following a file


class _LogFile:
    """An open log file, its identity, and the bytes of a line not yet complete."""

    def __init__(self, path: str) -> None:
        self.path = path
        # _follow closes the file in its finally block.
        self.file: BinaryIO = open(path, "rb")  # noqa: SIM115
        status = os.fstat(self.file.fileno())
        self.identity = (status.st_dev, status.st_ino)
        self.pending = b""
        self.line_number = 0

    def read_lines(self) -> list[tuple[int, str]] | None:
        """Read up to one chunk and return its complete lines, or None at the end."""
        chunk = self.file.read(_READ_CHUNK)
        if not chunk:
            return None
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        numbered = []
        for raw in lines:
            self.line_number += 1
            numbered.append((self.line_number, _decode(raw)))
        return numbered

    def skip(self, size: int) -> None:
        """Skip size bytes, counting lines, and keep an unfinished last line."""
        while size > 0 and (chunk := self.file.read(min(size, _READ_CHUNK))):
            size -= len(chunk)
            self.line_number += chunk.count(b"\n")
            _, newline, rest = chunk.rpartition(b"\n")
            self.pending = rest if newline else self.pending + chunk

    def change(self) -> str | None:
        """Return "replaced" or "truncated" when the path no longer has our data."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            # Between the rename and the new file: keep reading the old one.
            return None
        if (status.st_dev, status.st_ino) != self.identity:
            return "replaced"
        # NOTE: a file truncated and then refilled past our position between
        # two checks looks unchanged, so that truncation goes unnoticed.
        if os.fstat(self.file.fileno()).st_size < self.file.tell():
            return "truncated"
        return None

    def rewind(self) -> None:
        self.file.seek(0)
        self.pending = b""
        self.line_number = 0


def follow_log(
    path: str | os.PathLike[str],
    *,
    poll_interval: float = 0.2,
    stop: threading.Event | None = None,
    from_start: bool = True,
    errors: str = "raise",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Generator[LogEntry]:
    """Yield entries of a CRI log file as lines are appended, like ``tail -F``.

    Only complete ("\\n"-terminated) lines are parsed, so a line written in two
    chunks is read once it is whole. P runs stay open across reads. With
    ``from_start=False`` the lines that exist at the call are skipped, and a P
    run that began before that point is joined only from there on.

    Every ``poll_interval`` seconds without new data, the path is checked for
    rotation. When it names a new file (another inode), the old file is read
    to its end first. When the file shrank, it was truncated. In both cases,
    open P runs are yielded marked partial, and reading restarts at the start
    of the file that the path now names.

    When ``stop`` is set, the generator reads what was written, yields open P
    runs marked partial, and returns. An unfinished last line is dropped then.
    Without ``stop`` it runs until the caller closes it. ``errors`` works as in
    read_log, but "skip" logs one warning per skipped line with the running
    count. Invalid arguments and a missing file raise at the call.
    """
    _check_read_options(None, errors)
    if (
        isinstance(poll_interval, bool)
        or not isinstance(poll_interval, (int, float))
        or not math.isfinite(poll_interval)
        or poll_interval <= 0
    ):
        raise ValueError(
            f"invalid poll_interval {poll_interval!r}: give a finite number of "
            "seconds above 0"
        )
    _check_max_bytes(max_bytes)
    # The file is opened at the first next(), so an unused generator keeps no
    # file descriptor open. Its size now marks where from_start=False begins.
    status = os.stat(path)
    return _follow(
        os.fspath(path),
        start=(status.st_dev, status.st_ino, 0 if from_start else status.st_size),
        poll_interval=float(poll_interval),
        stop=stop if stop is not None else threading.Event(),
        errors=errors,
        max_bytes=max_bytes,
    )


def _follow(
    path: str,
    *,
    poll_interval: float,
    start: tuple[int, int, int],
    stop: threading.Event,
    errors: str,
    max_bytes: int,
) -> Generator[LogEntry]:
    joiner = _Joiner(max_bytes)
    skipped = 0
    current = _LogFile(path)

    def entries_of(lines: list[tuple[int, str]]) -> Iterator[LogEntry]:
        nonlocal skipped
        for line_number, line in lines:
            try:
                record = _parse_line(line, line_number, path, _SKIP_HINT)
            except LogFormatError as error:
                if errors == "raise":
                    raise
                skipped += 1
                log.warning("skipped a malformed line (%d so far): %s", skipped, error)
                continue
            yield from joiner.add(record)

    try:
        device, inode, offset = start
        # A path rotated since the call names a new file, which is read whole.
        if current.identity == (device, inode):
            current.skip(offset)
        log.debug("following %s from line %d", path, current.line_number + 1)
        while True:
            # Sampled before reading, so every line written before stop.set()
            # is read before the generator returns.
            stopping = stop.is_set()
            lines = current.read_lines()
            if lines is not None:
                yield from entries_of(lines)
                continue

            change = current.change()
            if change == "replaced":
                # The writer may have appended to the old file after our last
                # read, so it is read to its end before switching.
                while (lines := current.read_lines()) is not None:
                    yield from entries_of(lines)
                try:
                    replacement = _LogFile(path)
                except FileNotFoundError:
                    replacement = None
                if replacement is not None:
                    _drop_pending(current, change)
                    current.file.close()
                    current = replacement
                    log.info(
                        "%s was replaced; reading the new file from the start", path
                    )
                    yield from joiner.flush()
                    continue
            elif change == "truncated":
                _drop_pending(current, change)
                current.rewind()
                log.info("%s was truncated; reading it again from the start", path)
                yield from joiner.flush()
                continue

            if stopping:
                _drop_pending(current, "stop")
                yield from joiner.flush()
                return
            stop.wait(poll_interval)
    finally:
        current.file.close()


def _drop_pending(current: _LogFile, reason: str) -> None:
    # At stop the writer may simply be mid-line. At rotation the bytes are lost.
    level = logging.DEBUG if reason == "stop" else logging.WARNING
    if current.pending:
        log.log(
            level,
            "%s: dropped %d bytes of an unfinished line %d at %s",
            current.path,
            len(current.pending),
            current.line_number + 1,
            reason,
        )
        current.pending = b""


# Paths


def previous_log_path(log_path: str | os.PathLike[str]) -> str:
    """Return the log path of the container's previous attempt.

    The kubelet names container logs ``<pod log dir>/<container name>/<restart
    count>.log``, so ``.../nginx/2.log`` gives ``.../nginx/1.log``. The file is
    not checked for existence, since the kubelet may have removed it. Raises
    LogPathError when the name is not ``<N>.log`` or N is 0.
    """
    text = os.fspath(log_path)
    directory, name = os.path.split(text)
    match = _LOG_NAME.fullmatch(name)
    if match is None:
        raise LogPathError(
            f"invalid container log path {text!r}: expected a file named "
            "<restart count>.log, such as 2.log (rotated files such as "
            "2.log.20240501-100000 have no previous attempt)"
        )
    attempt = int(match["attempt"])
    if attempt == 0:
        raise LogPathError(
            f"{text!r} is the log of the first attempt (0.log), so there is no "
            "previous attempt"
        )
    return os.path.join(directory, f"{attempt - 1}.log")
