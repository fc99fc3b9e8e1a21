"""CRI log files: timestamps, line parsing, joining partial lines, reading, following."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pandas as pd
import pytest

from ocilab.cri.logs import (
    LogEntry,
    LogFormatError,
    LogPathError,
    LogRecord,
    follow_log,
    format_timestamp,
    join_records,
    log_frame,
    log_text,
    parse_line,
    parse_timestamp,
    previous_log_path,
    read_log,
)
from ocilab.errors import OcilabError

NS = 1_000_000_000
# 2024-05-01 is day 19844 after 1970-01-01.
BASE_S = 19_844 * 86_400 + 10 * 3600  # 2024-05-01T10:00:00Z
BASE_NS = BASE_S * NS
# Seconds until a follow test gives up waiting (the stop event ends the generator).
WATCHDOG_S = 10.0

# Line 2 (stderr) sits between stdout fragments, and line 6 keeps a leading
# space in its content. Splitting on every space or joining across streams
# breaks this case.
INTERLEAVED = (
    '2024-05-01T10:00:00.000000001Z stdout P {"level":"info","msg":"abc\n'
    "2024-05-01T10:00:00.000000002Z stderr F disk almost full\n"
    "2024-05-01T10:00:00.000000003Z stdout P def\n"
    '2024-05-01T10:00:00.000000004Z stdout F ghi"}\n'
    "2024-05-01T10:00:00.000000005Z stdout F\n"
    "2024-05-01T10:00:00.000000006Z stderr P  leading spaces kept\n"
)


def record(offset_ns: int, stream: str, tag: str, content: str) -> LogRecord:
    return LogRecord(BASE_NS + offset_ns, stream, tag, content)


def line(offset_ns: int, stream: str, tag: str, content: str) -> str:
    stamp = format_timestamp(BASE_NS + offset_ns)
    return f"{stamp} {stream} {tag} {content}\n"


def write_log(tmp_path: Path, text: str | bytes, name: str = "0.log") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


# Timestamps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", BASE_NS),
        ("2024-05-01T10:00:00.5Z", BASE_NS + 500_000_000),
        ("2024-05-01T10:00:00.123Z", BASE_NS + 123_000_000),
        ("2024-05-01T10:00:00.123456Z", BASE_NS + 123_456_000),
        ("2024-05-01T10:00:00.123456789Z", BASE_NS + 123_456_789),
        ("2024-05-01T10:00:00.000000001Z", BASE_NS + 1),
        ("2024-05-01t10:00:00z", BASE_NS),
        ("2024-05-01T12:00:00+02:00", BASE_NS),
        ("2024-05-01T04:30:00-05:30", BASE_NS),
        ("2024-05-01T12:00:00.25+02:00", BASE_NS + 250_000_000),
        ("2024-05-01T10:00:00-00:00", BASE_NS),
        ("2024-05-01T00:30:00+01:00", BASE_NS - (10 * 3600 + 30 * 60) * NS),
        (
            "2026-12-04T15:20:58.551033374Z",
            (20_791 * 86_400 + 15 * 3600 + 20 * 60 + 58) * NS + 551_033_374,
        ),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999999999Z", -1),
        ("9999-12-31T23:59:59.999999999Z", 253_402_300_799 * NS + 999_999_999),
    ],
    ids=[
        "0-digits",
        "1-digit",
        "3-digits",
        "6-digits",
        "9-digits",
        "1-nanosecond",
        "lowercase-t-z",
        "offset-plus-0200",
        "offset-minus-0530",
        "offset-with-fraction",
        "offset-minus-0000",
        "offset-crosses-midnight",
        "containerd-example",
        "epoch",
        "before-epoch",
        "year-9999",
    ],
)
def test_timestamp_cases(text: str, expected: int) -> None:
    assert parse_timestamp(text) == expected


def test_timestamp_is_int() -> None:
    assert type(parse_timestamp("2024-05-01T10:00:00.123456789Z")) is int


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024-05-01T10:00:00",
        "2024-05-01T10:00:00.1234567890Z",
        "2024-05-01T10:00:00.Z",
        "2024-05-01 10:00:00Z",
        "2024-05-01T10:00Z",
        "2024-5-01T10:00:00Z",
        "2024-05-01T10:00:00+0200",
        "2024-05-01T10:00:00+2:00",
        "2024-05-01T10:00:00Z\n",
        "\u0662\u0660\u0662\u0664-05-01T10:00:00Z",
        "2024-13-01T10:00:00Z",
        "2024-02-30T10:00:00Z",
        "0000-01-01T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T10:60:00Z",
        "2024-05-01T10:00:60Z",
        "2024-05-01T10:00:00+24:00",
        "2024-05-01T10:00:00+02:60",
    ],
    ids=[
        "empty",
        "no-zone",
        "10-digits",
        "dot-without-digits",
        "space-separator",
        "no-seconds",
        "one-digit-month",
        "offset-without-colon",
        "offset-one-digit-hour",
        "trailing-newline",
        "arabic-indic-digits",
        "month-13",
        "february-30",
        "year-0",
        "hour-24",
        "minute-60",
        "leap-second",
        "offset-hour-24",
        "offset-minute-60",
    ],
)
def test_timestamp_invalid(text: str) -> None:
    with pytest.raises(LogFormatError) as caught:
        parse_timestamp(text)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, OcilabError)
    assert repr(text)[:20] in str(caught.value)


def test_format_timestamp_nine_digits() -> None:
    assert format_timestamp(BASE_NS + 5) == "2024-05-01T10:00:00.000000005Z"
    assert format_timestamp(-1) == "1969-12-31T23:59:59.999999999Z"


def test_format_timestamp_round_trip() -> None:
    value = parse_timestamp("2026-12-04T15:20:58.551033374Z")
    assert parse_timestamp(format_timestamp(value)) == value


# Parsing one line


def test_parse_line_fields() -> None:
    parsed = parse_line("2024-05-01T10:00:00.123456789Z stdout F hello world", 7)
    assert parsed.timestamp_ns == BASE_NS + 123_456_789
    assert parsed.stream == "stdout"
    assert parsed.tag == "F"
    assert parsed.content == "hello world"
    assert parsed.line_number == 7


def test_parse_line_tag_extension() -> None:
    parsed = parse_line("2024-05-01T10:00:00Z stderr P:x:y part")
    assert parsed.tag == "P"
    assert parsed.stream == "stderr"
    assert parsed.content == "part"


@pytest.mark.parametrize(
    "text",
    ["2024-05-01T10:00:00Z stdout F", "2024-05-01T10:00:00Z stdout F "],
    ids=["no-trailing-space", "trailing-space"],
)
def test_parse_line_empty_content(text: str) -> None:
    parsed = parse_line(text)
    assert parsed.content == ""
    assert parsed.tag == "F"


def test_parse_line_keeps_spaces() -> None:
    parsed = parse_line("2024-05-01T10:00:00Z stdout F   a  b  ")
    assert parsed.content == "  a  b  "


def test_parse_line_strips_one_newline() -> None:
    parsed = parse_line("2024-05-01T10:00:00Z stdout F text\r\n")
    assert parsed.content == "text\r"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "invalid RFC 3339 timestamp"),
        ("not-a-time stdout F x", "invalid RFC 3339 timestamp"),
        ("2024-05-01T10:00:00Z", "the stream is missing"),
        ("2024-05-01T10:00:00Z stdot F x", "neither stdout nor stderr"),
        ("2024-05-01T10:00:00Z stdout", "the tag is missing"),
        ("2024-05-01T10:00:00Z stdout X x", "neither F nor P"),
        ("2024-05-01T10:00:00Z stdout  x", "neither F nor P"),
        ("2024-05-01T10:00:00Z  stdout F x", "neither stdout nor stderr"),
    ],
    ids=[
        "empty",
        "bad-timestamp",
        "no-stream",
        "unknown-stream",
        "no-tag",
        "unknown-tag",
        "empty-tag",
        "double-space",
    ],
)
def test_parse_line_invalid(text: str, problem: str) -> None:
    with pytest.raises(LogFormatError) as caught:
        parse_line(text, 12)
    message = str(caught.value)
    assert problem in message
    assert message.startswith("line 12: ")
    assert repr(text) in message
    assert "Expected '<RFC 3339 timestamp>" in message
    assert "errors=" not in message


def test_parse_line_error_cuts_long_line() -> None:
    text = "garbage " + "x" * 200
    with pytest.raises(LogFormatError) as caught:
        parse_line(text)
    assert repr(text[:80]) in str(caught.value)
    assert "x" * 100 not in str(caught.value)


# Joining records


def test_join_interleaved_streams() -> None:
    records = [parse_line(text) for text in INTERLEAVED.splitlines()]
    entries = list(join_records(records))
    assert len(entries) == 4
    stderr_full, stdout_json, stdout_empty, stderr_open = entries

    assert stderr_full == LogEntry(BASE_NS + 2, "stderr", "disk almost full", False, 1)
    assert stdout_json.content == '{"level":"info","msg":"abcdefghi"}'
    assert stdout_json.timestamp_ns == BASE_NS + 1
    assert stdout_json.stream == "stdout"
    assert stdout_json.fragments == 3
    assert not stdout_json.partial
    assert stdout_empty == LogEntry(BASE_NS + 5, "stdout", "", False, 1)
    assert stderr_open.content == " leading spaces kept"
    assert stderr_open.stream == "stderr"
    assert stderr_open.partial
    assert stderr_open.timestamp_ns == BASE_NS + 6


def test_join_full_without_partial() -> None:
    entries = list(join_records([record(0, "stdout", "F", "whole")]))
    assert entries == [LogEntry(BASE_NS, "stdout", "whole", False, 1)]


def test_join_adds_nothing_between_fragments() -> None:
    records = [
        record(0, "stdout", "P", "a "),
        record(1, "stdout", "P", ""),
        record(2, "stdout", "P", " b\r"),
        record(3, "stdout", "F", ""),
    ]
    [entry] = join_records(records)
    assert entry.content == "a  b\r"
    assert entry.fragments == 4


def test_join_open_partials_at_end() -> None:
    records = [
        record(0, "stderr", "P", "err-"),
        record(1, "stdout", "P", "out-"),
        record(2, "stderr", "P", "more"),
    ]
    entries = list(join_records(records))
    assert [entry.stream for entry in entries] == ["stdout", "stderr"]
    assert [entry.content for entry in entries] == ["out-", "err-more"]
    assert all(entry.partial for entry in entries)


def test_join_order_of_last_fragment() -> None:
    records = [
        record(0, "stdout", "P", "first-started"),
        record(1, "stderr", "F", "first-finished"),
        record(2, "stdout", "F", "-done"),
    ]
    entries = list(join_records(records))
    assert [entry.content for entry in entries] == [
        "first-finished",
        "first-started-done",
    ]


def test_join_buffer_cap() -> None:
    records = [
        record(0, "stdout", "P", "aaaa"),
        record(1, "stdout", "P", "bbbb"),
        record(2, "stdout", "P", "cccc"),
        record(3, "stdout", "F", "dd"),
    ]
    entries = list(join_records(records, max_bytes=8))
    assert [entry.content for entry in entries] == ["aaaabbbb", "ccccdd"]
    assert entries[0].partial
    assert not entries[1].partial
    assert entries[0].timestamp_ns == BASE_NS
    assert entries[1].timestamp_ns == BASE_NS + 2
    assert [entry.fragments for entry in entries] == [2, 2]


def test_join_buffer_cap_counts_utf8_bytes() -> None:
    records = [record(0, "stdout", "P", "é"), record(1, "stdout", "F", "é")]
    entries = list(join_records(records, max_bytes=3))
    assert [entry.content for entry in entries] == ["é", "é"]
    assert entries[0].partial


def test_join_oversized_fragment_kept_whole() -> None:
    records = [record(0, "stdout", "P", "x" * 20), record(1, "stdout", "F", "")]
    entries = list(join_records(records, max_bytes=8))
    assert [entry.content for entry in entries] == ["x" * 20, ""]
    assert entries[0].partial


def test_join_buffer_cap_per_stream() -> None:
    records = [
        record(0, "stdout", "P", "aaaa"),
        record(1, "stderr", "P", "bbbb"),
        record(2, "stdout", "F", "cccc"),
        record(3, "stderr", "F", "dddd"),
    ]
    entries = list(join_records(records, max_bytes=8))
    assert [entry.content for entry in entries] == ["aaaacccc", "bbbbdddd"]
    assert not any(entry.partial for entry in entries)


@pytest.mark.parametrize("max_bytes", [0, -1, 1.5, True], ids=str)
def test_join_invalid_max_bytes(max_bytes: object) -> None:
    with pytest.raises(ValueError, match="invalid max_bytes"):
        list(join_records([], max_bytes=max_bytes))  # type: ignore[arg-type]


# Reading files


def test_read_interleaved_file(tmp_path: Path) -> None:
    path = write_log(tmp_path, INTERLEAVED)
    entries = read_log(path)
    assert [entry.content for entry in entries] == [
        "disk almost full",
        '{"level":"info","msg":"abcdefghi"}',
        "",
        " leading spaces kept",
    ]
    assert entries[1].timestamp_ns == BASE_NS + 1
    assert [entry.partial for entry in entries] == [False, False, False, True]


def test_read_no_empty_record_at_eof(tmp_path: Path) -> None:
    path = write_log(tmp_path, line(0, "stdout", "F", "only"))
    assert len(read_log(path)) == 1


def test_read_unterminated_last_line(tmp_path: Path) -> None:
    text = line(0, "stdout", "F", "one") + line(1, "stdout", "F", "two").rstrip("\n")
    entries = read_log(write_log(tmp_path, text))
    assert [entry.content for entry in entries] == ["one", "two"]


def test_read_crlf_keeps_carriage_return(tmp_path: Path) -> None:
    text = (
        line(0, "stdout", "F", "windows\r")
        + line(1, "stdout", "F", "inner\rreturn")
        + line(2, "stdout", "P", "half\r")
        + line(3, "stdout", "F", "done")
    )
    entries = read_log(write_log(tmp_path, text))
    assert [entry.content for entry in entries] == [
        "windows\r",
        "inner\rreturn",
        "half\rdone",
    ]


def test_read_invalid_utf8_replaced(tmp_path: Path) -> None:
    raw = line(0, "stdout", "F", "").encode().rstrip(b"\n") + b"bad \xff byte\n"
    [entry] = read_log(write_log(tmp_path, raw))
    assert entry.content == "bad \ufffd byte"


def test_read_stream_filter(tmp_path: Path) -> None:
    path = write_log(tmp_path, INTERLEAVED)
    stdout = read_log(path, stream="stdout")
    stderr = read_log(path, stream="stderr")
    assert [entry.content for entry in stdout] == [
        '{"level":"info","msg":"abcdefghi"}',
        "",
    ]
    assert [entry.content for entry in stderr] == [
        "disk almost full",
        " leading spaces kept",
    ]


def test_read_since_filter(tmp_path: Path) -> None:
    path = write_log(tmp_path, INTERLEAVED)
    entries = read_log(path, since_ns=BASE_NS + 2)
    assert [entry.timestamp_ns for entry in entries] == [
        BASE_NS + 2,
        BASE_NS + 5,
        BASE_NS + 6,
    ]


def test_read_since_uses_first_fragment(tmp_path: Path) -> None:
    path = write_log(tmp_path, INTERLEAVED)
    entries = read_log(path, stream="stdout", since_ns=BASE_NS + 3)
    assert [entry.content for entry in entries] == [""]


def test_read_tail_filter(tmp_path: Path) -> None:
    path = write_log(tmp_path, INTERLEAVED)
    entries = read_log(path, tail=2)
    assert [entry.content for entry in entries] == ["", " leading spaces kept"]
    assert read_log(path, tail=0) == []
    assert len(read_log(path, tail=100)) == 4


def test_read_filters_combined(tmp_path: Path) -> None:
    text = "".join(line(index, "stdout", "F", f"line {index}") for index in range(10))
    text += line(10, "stderr", "F", "error")
    entries = read_log(
        write_log(tmp_path, text), stream="stdout", since_ns=BASE_NS + 3, tail=2
    )
    assert [entry.content for entry in entries] == ["line 8", "line 9"]


def test_read_max_bytes(tmp_path: Path) -> None:
    text = line(0, "stdout", "P", "aaaa") + line(1, "stdout", "F", "bbbb")
    entries = read_log(write_log(tmp_path, text), max_bytes=6)
    assert [entry.content for entry in entries] == ["aaaa", "bbbb"]
    assert [entry.partial for entry in entries] == [True, False]


def test_read_malformed_raises(tmp_path: Path) -> None:
    bad = "2024-05-01T10:00:00Z stdout Q " + "y" * 100
    text = line(0, "stdout", "F", "ok") + line(1, "stdout", "F", "ok") + bad + "\n"
    path = write_log(tmp_path, text)
    with pytest.raises(LogFormatError) as caught:
        read_log(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line 3: ")
    assert repr(bad[:80]) in message
    assert "the tag 'Q' is neither F nor P" in message
    assert "Expected '<RFC 3339 timestamp> <stdout|stderr>" in message
    assert "Pass errors='skip'" in message


def test_read_malformed_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = (
        "garbage\n"
        + line(0, "stdout", "F", "kept")
        + "\n"
        + line(1, "stdout", "F", "also kept")
    )
    path = write_log(tmp_path, text)
    with caplog.at_level(logging.WARNING, logger="ocilab.cri.logs"):
        entries = read_log(path, errors="skip")
    assert [entry.content for entry in entries] == ["kept", "also kept"]
    warnings = [r for r in caplog.records if r.name == "ocilab.cri.logs"]
    assert len(warnings) == 1
    assert "skipped 2 malformed line(s)" in warnings[0].getMessage()
    assert f"{path}, line 1" in warnings[0].getMessage()


def test_read_clean_file_logs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_log(tmp_path, INTERLEAVED)
    with caplog.at_level(logging.DEBUG, logger="ocilab.cri.logs"):
        read_log(path, errors="skip")
    assert not caplog.records


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"errors": "ignore"}, "invalid errors"),
        ({"stream": "stdin"}, "invalid stream"),
        ({"tail": -1}, "invalid tail"),
        ({"tail": True}, "invalid tail"),
    ],
    ids=["errors", "stream", "negative-tail", "bool-tail"],
)
def test_read_invalid_options(
    tmp_path: Path, options: dict[str, object], problem: str
) -> None:
    path = write_log(tmp_path, INTERLEAVED)
    with pytest.raises(ValueError, match=problem):
        read_log(path, **options)  # type: ignore[arg-type]


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_log(tmp_path / "absent.log")


# Views


def test_entry_time_exact() -> None:
    entry = LogEntry(BASE_NS + 123_456_789, "stdout", "x")
    assert entry.time.value == BASE_NS + 123_456_789
    assert str(entry.time.tz) == "UTC"


def test_frame_columns_and_types(tmp_path: Path) -> None:
    frame = log_frame(read_log(write_log(tmp_path, INTERLEAVED)))
    assert list(frame.columns) == ["time", "stream", "content", "partial", "fragments"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["partial"].dtype == bool
    assert frame["fragments"].dtype == "int64"
    assert frame["content"].tolist()[1] == '{"level":"info","msg":"abcdefghi"}'
    assert frame["fragments"].tolist() == [1, 3, 1, 1]
    assert frame["partial"].tolist() == [False, False, False, True]


def test_frame_time_nanosecond_exact() -> None:
    stamp = "2024-05-01T10:00:00.123456789Z"
    expected = parse_timestamp(stamp)
    entries = join_records([parse_line(f"{stamp} stdout F x")])
    frame = log_frame(entries)
    assert frame["time"].iloc[0].value == expected
    assert expected % NS == 123_456_789
    assert frame["time"].iloc[0] == pd.Timestamp(stamp)


@pytest.mark.parametrize(
    "stamp",
    ["9999-12-31T23:59:59Z", "1677-09-21T00:12:43.145224192Z"],
    ids=["year-9999", "int64-minimum"],
)
def test_frame_out_of_range(stamp: str) -> None:
    entry = LogEntry(parse_timestamp(stamp), "stdout", "x")
    with pytest.raises(OverflowError, match="outside the range of datetime64"):
        log_frame([entry])


def test_frame_range_limits() -> None:
    stamps = ["1677-09-21T00:12:43.145224193Z", "2262-04-11T23:47:16.854775807Z"]
    entries = [LogEntry(parse_timestamp(stamp), "stdout", "x") for stamp in stamps]
    frame = log_frame(entries)
    assert frame["time"].iloc[0].value == parse_timestamp(stamps[0])
    assert frame["time"].iloc[1].value == parse_timestamp(stamps[1])


def test_frame_empty() -> None:
    frame = log_frame([])
    assert len(frame) == 0
    assert list(frame.columns) == ["time", "stream", "content", "partial", "fragments"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"


def test_log_text_plain(tmp_path: Path) -> None:
    text = log_text(read_log(write_log(tmp_path, INTERLEAVED)))
    assert text == (
        'disk almost full\n{"level":"info","msg":"abcdefghi"}\n\n leading spaces kept\n'
    )


def test_log_text_timestamps() -> None:
    entries = [LogEntry(BASE_NS + 1, "stdout", "a"), LogEntry(BASE_NS, "stderr", "")]
    assert log_text(entries, timestamps=True) == (
        "2024-05-01T10:00:00.000000001Z a\n2024-05-01T10:00:00.000000000Z \n"
    )


def test_log_text_empty() -> None:
    assert log_text([]) == ""


# Following a file


@contextlib.contextmanager
def following(path: Path, **options: object) -> Iterator[Generator[LogEntry]]:
    """Follow path with a stop event that a watchdog sets after WATCHDOG_S."""
    stop = threading.Event()
    watchdog = threading.Timer(WATCHDOG_S, stop.set)
    watchdog.start()
    entries = follow_log(path, poll_interval=0.01, stop=stop, **options)  # type: ignore[arg-type]
    try:
        yield entries
    finally:
        watchdog.cancel()
        stop.set()
        entries.close()


def next_entries(entries: Iterator[LogEntry], count: int) -> list[LogEntry]:
    """Return the next count entries, or fail when the watchdog ends the generator."""
    taken = []
    for _ in range(count):
        entry = next(entries, None)
        assert entry is not None, f"follow_log ended after {len(taken)} of {count}"
        taken.append(entry)
    return taken


def append(path: Path, data: str) -> None:
    with open(path, "ab") as file:
        file.write(data.encode())


def follow_while_writing(path: Path, write: Callable[[], None]) -> list[LogEntry]:
    """Follow path until write() returns, and return every entry yielded.

    write() starts once the first entry (the file's existing line) is out, so
    the follower has opened the file before it changes. The stop event is set
    when write() returns, or by a watchdog after WATCHDOG_S.
    """
    stop = threading.Event()
    opened = threading.Event()

    def run_writer() -> None:
        try:
            if opened.wait(WATCHDOG_S):
                write()
        finally:
            stop.set()

    watchdog = threading.Timer(WATCHDOG_S, stop.set)
    writer = threading.Thread(target=run_writer)
    watchdog.start()
    writer.start()
    entries = []
    try:
        for entry in follow_log(path, poll_interval=0.01, stop=stop):
            entries.append(entry)
            opened.set()
    finally:
        opened.set()
        writer.join(timeout=WATCHDOG_S)
        watchdog.cancel()
    assert not writer.is_alive()
    return entries


@pytest.mark.timeout(30)
def test_follow_appends_until_stop(tmp_path: Path) -> None:
    path = write_log(tmp_path, line(0, "stdout", "F", "existing"))
    two_chunks = line(2, "stderr", "F", "written in two chunks")

    def write() -> None:
        append(path, line(1, "stdout", "P", "joined "))
        append(path, line(1, "stderr", "F", "between"))
        append(path, two_chunks[:20])
        time.sleep(0.1)
        append(path, two_chunks[20:])
        append(path, line(3, "stdout", "F", "across reads"))
        time.sleep(0.05)
        append(path, line(4, "stderr", "P", "open at stop"))

    entries = follow_while_writing(path, write)
    assert [entry.content for entry in entries] == [
        "existing",
        "between",
        "written in two chunks",
        "joined across reads",
        "open at stop",
    ]
    assert entries[3].timestamp_ns == BASE_NS + 1
    assert entries[3].fragments == 2
    assert [entry.partial for entry in entries] == [False, False, False, False, True]


@pytest.mark.timeout(30)
def test_follow_rotation_by_rename(tmp_path: Path) -> None:
    path = write_log(tmp_path, line(0, "stdout", "F", "old"))

    def rotate() -> None:
        append(path, line(1, "stdout", "P", "cut by "))
        append(path, line(2, "stdout", "F", "last of old"))
        append(path, line(3, "stdout", "P", "unfinished"))
        os.rename(path, tmp_path / "0.log.20240501-100000")
        time.sleep(0.05)
        append(path, line(4, "stdout", "F", "rotation"))
        append(path, line(5, "stdout", "F", "new"))

    entries = follow_while_writing(path, rotate)
    assert [entry.content for entry in entries] == [
        "old",
        "cut by last of old",
        "unfinished",
        "rotation",
        "new",
    ]
    assert [entry.partial for entry in entries] == [False, False, True, False, False]


def test_follow_truncation(tmp_path: Path) -> None:
    text = line(0, "stdout", "F", "before truncation, a long line") + line(
        1, "stdout", "P", "never finished"
    )
    path = write_log(tmp_path, text)
    with following(path) as entries:
        [first] = next_entries(entries, 1)
        path.write_bytes(line(2, "stdout", "F", "short").encode())
        cut, after = next_entries(entries, 2)
    assert first.content == "before truncation, a long line"
    assert cut.content == "never finished"
    assert cut.partial
    assert after.content == "short"
    assert not after.partial


def test_follow_from_end(tmp_path: Path) -> None:
    existing = line(0, "stdout", "F", "old")
    unfinished = line(1, "stdout", "F", "being written")
    path = write_log(tmp_path, existing + unfinished[:15])
    with following(path, from_start=False) as entries:
        append(path, unfinished[15:])
        append(path, line(2, "stdout", "F", "new"))
        got = next_entries(entries, 2)
    assert [entry.content for entry in got] == ["being written", "new"]


def test_follow_from_end_line_numbers(tmp_path: Path) -> None:
    path = write_log(
        tmp_path, line(0, "stdout", "F", "a") + line(1, "stdout", "F", "b")
    )
    with following(path, from_start=False) as entries:
        append(path, "garbage\n")
        with pytest.raises(LogFormatError, match=r", line 3: "):
            next(entries)


def test_follow_skips_malformed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "garbage\n" + line(0, "stdout", "F", "kept")
    path = write_log(tmp_path, text)
    with (
        caplog.at_level(logging.WARNING, logger="ocilab.cri.logs"),
        following(path, errors="skip") as entries,
    ):
        [entry] = next_entries(entries, 1)
    assert entry.content == "kept"
    assert "skipped a malformed line (1 so far)" in caplog.text
    assert f"{path}, line 1" in caplog.text


def test_follow_stop_before_start(tmp_path: Path) -> None:
    path = write_log(tmp_path, INTERLEAVED)
    stop = threading.Event()
    stop.set()
    entries = list(follow_log(path, stop=stop))
    assert [entry.content for entry in entries] == [
        entry.content for entry in read_log(path)
    ]


@pytest.mark.parametrize("poll_interval", [0, -1, float("nan"), float("inf")], ids=str)
def test_follow_invalid_poll_interval(tmp_path: Path, poll_interval: float) -> None:
    with pytest.raises(ValueError, match="invalid poll_interval"):
        follow_log(tmp_path / "0.log", poll_interval=poll_interval)


def test_follow_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        follow_log(tmp_path / "absent.log")


# Previous attempt


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/var/log/pods/default_web_0f1e/nginx/2.log",
            "/var/log/pods/default_web_0f1e/nginx/1.log",
        ),
        ("nginx/1.log", "nginx/0.log"),
        ("10.log", "9.log"),
    ],
    ids=["absolute", "relative", "two-digits"],
)
def test_previous_log_path(path: str, expected: str) -> None:
    assert previous_log_path(path) == expected


def test_previous_log_path_pathlike() -> None:
    assert previous_log_path(Path("/logs/app/3.log")) == "/logs/app/2.log"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/logs/app/0.log", "first attempt"),
        ("/logs/app/app.log", "<restart count>.log"),
        ("/logs/app/2.log.20240501-100000", "<restart count>.log"),
        ("/logs/app/-1.log", "<restart count>.log"),
        ("/logs/app/02.log", "<restart count>.log"),
        ("/logs/app/2.LOG", "<restart count>.log"),
        ("", "<restart count>.log"),
    ],
    ids=["zero", "name", "rotated", "negative", "leading-zero", "upper-case", "empty"],
)
def test_previous_log_path_invalid(path: str, problem: str) -> None:
    with pytest.raises(LogPathError, match=problem) as caught:
        previous_log_path(path)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, OcilabError)
