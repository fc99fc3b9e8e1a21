"""Property tests of every parser that reads untrusted text.

Each parser gets arbitrary text or bytes, near-valid input (valid grammar with
one twist: a character deleted, inserted, replaced or case-swapped, or the
input cut short) and, for the JSON parsers, arbitrary JSON from st.recursive.
Whatever the input, a parser returns or raises an OcilabError subclass, and a
validator returns its findings. Where a format has a writer or a grammar that
hypothesis can generate, parsing valid input must succeed and give back what
was written.

The number of examples that ran is printed at the end of the module (pytest's
output, even without -s). Budgets are set per test in ``settings``: the whole
file ran in 30 to 45 seconds on a 2-core Debian 12 VM that was busy with
other tests.
"""

from __future__ import annotations

import json
import shutil
import string
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ocilab.cri._format import split_image_reference
from ocilab.cri.endpoint import parse_endpoint
from ocilab.cri.logs import format_timestamp, parse_line, parse_timestamp
from ocilab.distribution.auth import Challenge, parse_www_authenticate
from ocilab.distribution.copy import (
    LayoutReference,
    RegistryReference,
    parse_reference,
)
from ocilab.distribution.docker_config import load_docker_config
from ocilab.distribution.exchange import media_type_of
from ocilab.distribution.links import Link, parse_link_header
from ocilab.errors import (
    EndpointError,
    ImageError,
    LogFormatError,
    RegistryError,
    RuntimeConfigError,
)
from ocilab.image import mediatypes
from ocilab.image.digest import (
    REGISTERED_ALGORITHMS,
    digest_bytes,
    parse_digest,
    verify_bytes,
)
from ocilab.image.models import (
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    Platform,
    parse_document,
)
from ocilab.image.validate import validate_document
from ocilab.runtime import spec
from ocilab.runtime.validate import validate_config

# Hypothesis caches constants under .hypothesis in the working directory, so
# its home is moved to a temporary folder that the module removes at the end.
HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="ocilab-hypothesis-")
set_hypothesis_home_dir(HYPOTHESIS_HOME)

# Examples run per test function, printed by the module fixture below.
EXAMPLES: Counter[str] = Counter()

# database=None: no .hypothesis folder is written into the repository.
FAST = settings(max_examples=200, deadline=None, database=None)
SLOW = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def tally(name: str) -> None:
    EXAMPLES[name] += 1


@pytest.fixture(scope="module", autouse=True)
def _report_examples(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    total = sum(EXAMPLES.values())
    lines = [f"property examples run: {total} in {len(EXAMPLES)} tests"]
    lines += [f"  {name}: {count}" for name, count in sorted(EXAMPLES.items())]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))
    shutil.rmtree(HYPOTHESIS_HOME, ignore_errors=True)


# --- strategies ------------------------------------------------------------


def _apply_twist(text: str, operation: str, position: int, char: str) -> str:
    """Break ``text`` in one place: delete, insert, replace, swap case or cut."""
    if not text:
        return char
    index = position % len(text)
    if operation == "delete":
        return text[:index] + text[index + 1 :]
    if operation == "insert":
        return text[:index] + char + text[index:]
    if operation == "replace":
        return text[:index] + char + text[index + 1 :]
    if operation == "swapcase":
        return text[:index] + text[index].swapcase() + text[index + 1 :]
    return text[:index]  # "cut"


TWIST_CHARS = st.sampled_from(list(':/@"\\,;=<> \t\n\x00.-_+Aa0é\u2028\udcff'))


def twisted(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Valid text with one twist, or the valid text itself."""
    operations = st.sampled_from(["delete", "insert", "replace", "swapcase", "cut"])
    broken = st.builds(
        _apply_twist, valid, operations, st.integers(0, 10_000), TWIST_CHARS
    )
    return st.one_of(valid, broken)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
JSON_OBJECTS = st.dictionaries(st.text(max_size=12), JSON, max_size=6)

HEX = "0123456789abcdef"
DIGESTS = st.binary(max_size=64).map(digest_bytes) | st.binary(max_size=64).map(
    lambda data: digest_bytes(data, "sha512")
)
TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
TOKENS = st.text(TOKEN_CHARS, min_size=1, max_size=12)

# Malformed JSON text that crashes naive readers: deep nesting
# (RecursionError) and integers beyond Python's 4300-digit limit (ValueError).
HOSTILE_JSON = st.sampled_from(
    [
        "[" * 3000,
        '{"a":' * 3000,
        "1" * 5000,
        '{"size": ' + "9" * 5000 + "}",
        "NaN",
        '{"a": Infinity}',
        "\ufeff{}",
        "",
    ]
)


def _mutate(document: Any, data: st.DataObject) -> Any:
    """Replace one value of a JSON document, at a random path, with arbitrary JSON."""
    if isinstance(document, dict) and document and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(document)))
        copy = dict(document)
        if data.draw(st.booleans()):
            copy[key] = _mutate(copy[key], data)
        elif data.draw(st.booleans()):
            del copy[key]
        else:
            copy[key] = data.draw(JSON)
        return copy
    if isinstance(document, list) and document and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(document) - 1))
        copy = list(document)
        copy[index] = _mutate(copy[index], data)
        return copy
    return data.draw(JSON)


# --- digests ---------------------------------------------------------------


def _digest_like() -> st.SearchStrategy[str]:
    algorithm = st.sampled_from(["sha256", "sha512", "sha384", "SHA256", "md5", ""])
    encoded = st.text(HEX + "ABCDEFxyz=_-", max_size=140)
    return st.builds(lambda a, e: f"{a}:{e}", algorithm, encoded)


@FAST
@given(st.one_of(st.text(), twisted(DIGESTS), _digest_like()))
def test_parse_digest_raises_image_error(text: str) -> None:
    tally("parse_digest")
    try:
        algorithm, encoded = parse_digest(text)
    except ImageError:
        return
    assert f"{algorithm}:{encoded}" == text
    assert len(encoded) == REGISTERED_ALGORITHMS[algorithm]
    assert set(encoded) <= set(HEX)


@FAST
@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text())))
def test_parse_digest_non_string(value: Any) -> None:
    tally("parse_digest_non_string")
    with pytest.raises(ImageError):
        parse_digest(value)


@FAST
@given(st.binary(max_size=256), st.sampled_from(["sha256", "sha512"]))
def test_digest_round_trip(data: bytes, algorithm: str) -> None:
    tally("digest_round_trip")
    digest = digest_bytes(data, algorithm)
    assert parse_digest(digest) == tuple(digest.split(":", 1))
    verify_bytes(data, digest, len(data))


@FAST
@given(st.binary(max_size=64), twisted(DIGESTS))
def test_verify_bytes_raises_image_error(data: bytes, digest: str) -> None:
    tally("verify_bytes")
    try:
        verify_bytes(data, digest)
    except ImageError:
        return
    assert digest == digest_bytes(data, digest.split(":", 1)[0])


# --- media types -----------------------------------------------------------

MEDIA_TYPES = st.sampled_from(
    sorted(
        mediatypes.MANIFEST_TYPES
        | mediatypes.INDEX_TYPES
        | mediatypes.CONFIG_TYPES
        | mediatypes.LAYER_TYPES
        | {mediatypes.OCI_LAYOUT, mediatypes.OCI_DESCRIPTOR, mediatypes.OCI_EMPTY}
    )
)


@FAST
@given(st.one_of(st.text(), twisted(MEDIA_TYPES)))
def test_media_type_of_header(value: str) -> None:
    tally("media_type_of")
    request = httpx.Request("GET", "http://127.0.0.1/v2/")
    # Header bytes as they come off the wire; httpx rejects non-ASCII str values.
    raw = value.encode("utf-8", "surrogateescape")
    response = httpx.Response(200, headers={"Content-Type": raw}, request=request)
    result = media_type_of(response)
    assert result == result.strip().lower()
    assert ";" not in result


@FAST
@given(MEDIA_TYPES, st.lists(st.tuples(TOKENS, TOKENS), max_size=3))
def test_media_type_of_drops_parameters(media_type: str, params: list) -> None:
    tally("media_type_of_round_trip")
    header = media_type.upper() + "".join(f"; {k}={v}" for k, v in params)
    request = httpx.Request("GET", "http://127.0.0.1/v2/")
    response = httpx.Response(200, headers={"Content-Type": header}, request=request)
    assert media_type_of(response) == media_type


# --- image references ------------------------------------------------------

HOSTS = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z]{2,5}){0,2}", fullmatch=True
)
PORTS = st.integers(1, 65535).map(lambda port: f":{port}")
COMPONENT = st.from_regex(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)?", fullmatch=True)
REPOSITORIES = st.lists(COMPONENT, min_size=1, max_size=3).map("/".join)
TAGS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True)


@st.composite
def registry_references(draw: st.DrawFn, digest: bool = True) -> dict[str, Any]:
    parts = {
        "host": draw(HOSTS) + draw(st.just("") | PORTS),
        "repository": draw(REPOSITORIES),
        "tag": draw(st.none() | TAGS),
        "digest": draw(st.none() | DIGESTS) if digest else None,
    }
    text = f"{parts['host']}/{parts['repository']}"
    if parts["tag"]:
        text += f":{parts['tag']}"
    if parts["digest"]:
        text += f"@{parts['digest']}"
    parts["text"] = text
    return parts


@FAST
@given(st.one_of(st.text(), twisted(registry_references().map(lambda p: p["text"]))))
def test_parse_reference_raises_image_error(text: str) -> None:
    tally("parse_reference")
    try:
        reference = parse_reference(text)
    except ImageError:
        return
    assert isinstance(reference, LayoutReference | RegistryReference)
    if isinstance(reference, RegistryReference) and reference.digest:
        parse_digest(reference.digest)


@FAST
@given(registry_references())
def test_parse_reference_round_trip(parts: dict[str, Any]) -> None:
    tally("parse_reference_round_trip")
    reference = parse_reference(parts["text"])
    assert isinstance(reference, RegistryReference)
    assert reference.host == parts["host"]
    assert reference.repository == parts["repository"]
    assert reference.tag == parts["tag"]
    assert reference.digest == parts["digest"]
    assert str(reference) == parts["text"]


@FAST
@given(
    st.text(string.ascii_letters + string.digits + "/._-", min_size=1, max_size=30),
    st.none() | TAGS,
)
def test_parse_layout_reference_round_trip(path: str, ref: str | None) -> None:
    tally("parse_layout_reference_round_trip")
    text = f"oci:{path}" + (f":{ref}" if ref else "")
    reference = parse_reference(text)
    assert isinstance(reference, LayoutReference)
    assert reference.ref == ref


@FAST
@given(st.one_of(st.text(), twisted(registry_references().map(lambda p: p["text"]))))
def test_split_image_reference_total(text: str) -> None:
    tally("split_image_reference")
    repository, tag = split_image_reference(text)
    if tag == "<none>":
        assert repository == text
    else:
        assert f"{repository}:{tag}" == text
        assert "/" not in tag


@FAST
@given(registry_references(digest=False))
def test_split_image_reference_round_trip(parts: dict[str, Any]) -> None:
    tally("split_image_reference_round_trip")
    repository, tag = split_image_reference(parts["text"])
    assert repository == f"{parts['host']}/{parts['repository']}"
    assert tag == (parts["tag"] or "<none>")


# --- WWW-Authenticate ------------------------------------------------------


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


PARAM_NAMES = st.text(
    string.ascii_lowercase + string.digits + "_-", min_size=1, max_size=10
)
CHALLENGES = st.builds(
    Challenge,
    TOKENS.map(str.lower),
    st.dictionaries(PARAM_NAMES, st.text(max_size=20), max_size=4),
)


def _format_challenge(challenge: Challenge) -> str:
    params = ", ".join(f"{k}={_quote(v)}" for k, v in challenge.params.items())
    return f"{challenge.scheme} {params}".rstrip()


def _format_challenges(challenges: list[Challenge]) -> str:
    return ", ".join(_format_challenge(challenge) for challenge in challenges)


@FAST
@given(
    st.one_of(
        st.text(),
        twisted(st.lists(CHALLENGES, min_size=1, max_size=3).map(_format_challenges)),
    )
)
def test_www_authenticate_raises_registry_error(header: str) -> None:
    tally("parse_www_authenticate")
    try:
        challenges = parse_www_authenticate(header, url="http://127.0.0.1/v2/")
    except RegistryError as error:
        assert error.status == 401
        return
    assert challenges


@FAST
@given(st.lists(CHALLENGES, min_size=1, max_size=3))
def test_www_authenticate_round_trip(challenges: list[Challenge]) -> None:
    tally("parse_www_authenticate_round_trip")
    assert parse_www_authenticate(_format_challenges(challenges)) == challenges


# --- Link ------------------------------------------------------------------

URLS = st.text(
    string.ascii_letters + string.digits + "/?&=%:._-~;,", min_size=1, max_size=40
)
LINKS = st.builds(
    Link, URLS, st.dictionaries(PARAM_NAMES, st.text(max_size=20), max_size=3)
)


def _format_link(link: Link) -> str:
    params = "".join(f"; {k}={_quote(v)}" for k, v in link.params.items())
    return f"<{link.url}>{params}"


def _format_links(links: list[Link]) -> str:
    return ", ".join(_format_link(link) for link in links)


@FAST
@given(
    st.one_of(
        st.text(),
        st.lists(st.text(), max_size=3),
        twisted(st.lists(LINKS, min_size=1, max_size=3).map(_format_links)),
    )
)
def test_link_header_raises_registry_error(values: str | list[str]) -> None:
    tally("parse_link_header")
    try:
        links = parse_link_header(values, url="http://127.0.0.1/v2/", status=200)
    except RegistryError as error:
        assert error.status == 200
        return
    assert all(isinstance(link, Link) for link in links)


@FAST
@given(st.lists(LINKS, max_size=3))
def test_link_header_round_trip(links: list[Link]) -> None:
    tally("parse_link_header_round_trip")
    assert parse_link_header(_format_links(links)) == links


# --- CRI log lines ---------------------------------------------------------

# The range that parse_timestamp accepts: years 0001 to 9999 in UTC.
NS_MIN = parse_timestamp("0001-01-01T00:00:00Z")
NS_MAX = parse_timestamp("9999-12-31T23:59:59.999999999Z")
STREAMS = st.sampled_from(["stdout", "stderr"])
CONTENT = st.text(max_size=40).filter(lambda text: not text.endswith("\n"))


@st.composite
def log_lines(draw: st.DrawFn) -> str:
    stamp = format_timestamp(draw(st.integers(NS_MIN, NS_MAX)))
    tag = draw(st.sampled_from(["F", "P", "P:x", "F:"]))
    return f"{stamp} {draw(STREAMS)} {tag} {draw(CONTENT)}"


@FAST
@given(st.one_of(st.text(), twisted(log_lines())), st.integers(0, 10))
def test_parse_line_raises_log_format_error(line: str, line_number: int) -> None:
    tally("parse_line")
    try:
        record = parse_line(line, line_number)
    except LogFormatError as error:
        if line_number:
            assert f"line {line_number}" in str(error)
        return
    assert record.stream in ("stdout", "stderr")
    assert record.tag in ("F", "P")


@FAST
@given(st.integers(NS_MIN, NS_MAX), STREAMS, st.sampled_from(["F", "P"]), CONTENT)
def test_log_line_round_trip(ns: int, stream: str, tag: str, content: str) -> None:
    tally("parse_line_round_trip")
    record = parse_line(f"{format_timestamp(ns)} {stream} {tag} {content}\n", 3)
    assert record.timestamp_ns == ns
    assert record.stream == stream
    assert record.tag == tag
    assert record.content == content
    assert record.line_number == 3


@FAST
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.none(),
    ),
    st.integers(0, 999_999_999),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
def test_timestamp_offset_round_trip(
    moment: datetime, fraction: int, offset: int
) -> None:
    tally("parse_timestamp_offset")
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset), 60)
    # strftime's %Y gives "999", not "0999", for years before 1000 on glibc.
    text = (
        f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{fraction:09d}"
        f"{sign}{hours:02d}:{minutes:02d}"
    )
    utc = moment.replace(microsecond=0) - timedelta(minutes=offset)
    epoch = datetime(1970, 1, 1)
    expected = (utc - epoch) // timedelta(seconds=1) * 1_000_000_000 + fraction
    assert parse_timestamp(text) == expected
    assert parse_timestamp(format_timestamp(expected)) == expected


@FAST
@given(
    st.integers(1, 9999),
    st.integers(0, 19),
    st.integers(0, 39),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
)
def test_timestamp_fields_checked(
    year: int, month: int, day: int, hour: int, minute: int, second: int
) -> None:
    tally("parse_timestamp_fields")
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"
    try:
        # datetime rejects the same fields, a leap second (:60) included.
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        with pytest.raises(LogFormatError):
            parse_timestamp(text)
        return
    expected = (moment - datetime(1970, 1, 1)) // timedelta(seconds=1)
    assert parse_timestamp(text) == expected * 1_000_000_000


# --- CRI endpoints ---------------------------------------------------------


@FAST
@given(
    st.one_of(
        st.text(),
        twisted(
            st.sampled_from(["unix:///run/containerd/containerd.sock", "/run/x.sock"])
        ),
    )
)
def test_parse_endpoint_raises_endpoint_error(text: str) -> None:
    tally("parse_endpoint")
    try:
        endpoint = parse_endpoint(text)
    except EndpointError:
        return
    assert endpoint.path.startswith("/")


# --- runtime config JSON ---------------------------------------------------


@SLOW
@given(st.one_of(st.text(), st.binary(), HOSTILE_JSON, JSON.map(json.dumps)))
def test_runtime_parse_raises_config_error(text: str | bytes) -> None:
    tally("runtime_parse")
    try:
        config = spec.parse(text)
    except RuntimeConfigError:
        return
    assert isinstance(config.raw, dict)


@SLOW
@given(st.data())
def test_runtime_near_valid_config(data: st.DataObject) -> None:
    tally("runtime_near_valid")
    document = _mutate(spec.default_config().raw, data)
    text = json.dumps(document)
    try:
        config = spec.parse(text)
    except RuntimeConfigError:
        assert not isinstance(document, dict)
        return
    assert config.raw == document
    findings = validate_config(text)
    assert all(finding.level in ("MUST", "SHOULD") for finding in findings)
    assert validate_config(document) == findings


@SLOW
@given(JSON_OBJECTS)
def test_runtime_dumps_round_trip(document: dict[str, Any]) -> None:
    tally("runtime_round_trip")
    assert spec.parse(spec.dumps(document)).raw == document


@SLOW
@given(st.one_of(st.text(), st.binary(), HOSTILE_JSON, JSON, JSON.map(json.dumps)))
def test_validate_config_never_raises(data: Any) -> None:
    tally("validate_config")
    findings = validate_config(data, for_run=True)
    assert isinstance(list(findings), list)


def test_default_config_is_valid() -> None:
    assert validate_config(spec.dumps(spec.default_config())).errors == []


# --- image JSON ------------------------------------------------------------

DOCUMENT_TYPES = st.sampled_from(
    [
        mediatypes.OCI_MANIFEST,
        mediatypes.OCI_INDEX,
        mediatypes.OCI_CONFIG,
        mediatypes.OCI_DESCRIPTOR,
        mediatypes.OCI_LAYOUT,
        mediatypes.DOCKER_MANIFEST,
    ]
)


@st.composite
def descriptors(draw: st.DrawFn, media_type: st.SearchStrategy[str]) -> dict:
    data = draw(st.binary(max_size=32))
    return {
        "mediaType": draw(media_type),
        "digest": digest_bytes(data),
        "size": len(data),
    }


@st.composite
def manifests(draw: st.DrawFn) -> dict:
    layer_types = st.sampled_from(sorted(mediatypes.LAYER_TYPES - {
        mediatypes.DOCKER_LAYER_TAR, mediatypes.DOCKER_LAYER_TAR_GZIP,
        mediatypes.DOCKER_FOREIGN_LAYER,
    }))  # fmt: skip
    return {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": draw(descriptors(st.just(mediatypes.OCI_CONFIG))),
        # An empty layers list breaks a MUST rule of manifest.md.
        "layers": draw(st.lists(descriptors(layer_types), min_size=1, max_size=3)),
    }


@st.composite
def indexes(draw: st.DrawFn) -> dict:
    children = st.lists(descriptors(st.just(mediatypes.OCI_MANIFEST)), max_size=3)
    return {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": draw(children),
    }


@SLOW
@given(
    st.one_of(st.text(), st.binary(), HOSTILE_JSON, JSON.map(json.dumps), JSON_OBJECTS),
    st.none() | DOCUMENT_TYPES | st.text(max_size=20),
)
def test_parse_document_raises_image_error(data: Any, media_type: str | None) -> None:
    tally("parse_document")
    try:
        document = parse_document(data, media_type)
    except ImageError:
        return
    assert isinstance(document, ImageManifest | ImageIndex)


@SLOW
@given(st.data(), st.sampled_from(["manifest", "index"]))
def test_near_valid_image_documents(data: st.DataObject, kind: str) -> None:
    tally("image_near_valid")
    valid = data.draw(manifests() if kind == "manifest" else indexes())
    document = _mutate(valid, data)
    media_type = valid["mediaType"]
    findings = validate_document(json.dumps(document), media_type)
    assert all(finding.level in ("MUST", "SHOULD") for finding in findings)
    try:
        parse_document(json.dumps(document))
    except ImageError:
        pass


@SLOW
@given(st.one_of(manifests(), indexes()))
def test_image_document_round_trip(document: dict) -> None:
    tally("image_round_trip")
    text = json.dumps(document)
    assert validate_document(text, document["mediaType"]).ok
    parsed = parse_document(text)
    assert parsed.raw == document
    if isinstance(parsed, ImageManifest):
        assert [layer.digest for layer in parsed.layers] == [
            layer["digest"] for layer in document["layers"]
        ]
    else:
        assert [child.size for child in parsed.manifests] == [
            child["size"] for child in document["manifests"]
        ]


@SLOW
@given(
    st.one_of(st.text(), st.binary(), HOSTILE_JSON, JSON, JSON.map(json.dumps)),
    st.one_of(DOCUMENT_TYPES, st.text(max_size=20), st.none(), st.integers()),
)
def test_validate_document_never_raises(data: Any, media_type: Any) -> None:
    tally("validate_document")
    findings = validate_document(data, media_type)
    assert isinstance(list(findings), list)


@SLOW
@given(JSON_OBJECTS)
def test_model_from_json_never_raises(raw: dict[str, Any]) -> None:
    tally("model_from_json")
    for model in (Descriptor, ImageManifest, ImageIndex, ImageConfig, Platform):
        assert model.from_json(raw).raw == raw


@FAST
@given(
    st.one_of(
        st.text(),
        twisted(st.sampled_from(["linux/amd64", "linux/arm64/v8", "windows/amd64"])),
    )
)
def test_platform_parse_raises_image_error(text: str) -> None:
    tally("platform_parse")
    try:
        platform = Platform.parse(text)
    except ImageError:
        return
    assert str(platform) == "/".join(text.strip().split("/"))


DOCKER_CONFIG_KEYS = st.sampled_from(["auths", "credHelpers", "credsStore", "other"])
DOCKER_CONFIGS = st.dictionaries(DOCKER_CONFIG_KEYS, JSON, max_size=3) | st.builds(
    lambda entry: {"auths": {"r.test": entry}}, JSON
)


@FAST
@given(document=DOCKER_CONFIGS)
def test_docker_config_raises_registry_error(document: dict) -> None:
    tally("load_docker_config")
    with tempfile.TemporaryDirectory(prefix="ocilab-docker-config-") as folder:
        path = Path(folder) / "config.json"
        path.write_text(json.dumps(document))
        try:
            load_docker_config(path).credentials_for("r.test")
        except RegistryError:
            pass
