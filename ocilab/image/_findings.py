"""Findings of the image validators, the rule table, and checks shared by rule groups.

The rule modules ``_rules_descriptor``, ``_rules_manifest`` and ``_rules_config``
import from here, and :mod:`ocilab.image.validate` re-exports the public names.
"""

from __future__ import annotations

import dataclasses
import re
import reprlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ImageError, ValidationError
from .digest import DIGEST_GRAMMAR as _DIGEST_GRAMMAR
from .digest import REGISTERED_ALGORITHMS as _REGISTERED_ALGORITHMS
from .digest import parse_digest
from .models import Descriptor, ImageConfig, ImageIndex, ImageManifest, OCILayoutHeader

if TYPE_CHECKING:
    import pandas as pd

MUST = "MUST"
SHOULD = "SHOULD"
FRAME_COLUMNS = ("rule", "level", "pointer", "message")

# Fields of the image config that are plain optional strings, at the top level
# and in the execution parameters ("config").
_CONFIG_STRINGS = ("author", "variant", "os.version")
_EXECUTION_STRINGS = ("User", "WorkingDir", "StopSignal")
_EXECUTION_STRING_ARRAYS = ("Env", "Entrypoint", "Cmd")
_HISTORY_STRINGS = ("author", "created_by", "comment")

# Every rule id and the spec level that it reports.
RULES: dict[str, str] = {
    "json.syntax": MUST,
    "document.type": MUST,
    # Not a spec rule: ocilab cannot vouch for a document it has no rules for.
    "document.mediaType.unknown": MUST,
    "descriptor.type": MUST,
    "descriptor.mediaType.required": MUST,
    "descriptor.mediaType.format": MUST,
    "descriptor.digest.required": MUST,
    "descriptor.digest.format": MUST,
    "descriptor.digest.unsupported": SHOULD,
    "descriptor.size.required": MUST,
    "descriptor.size.type": MUST,
    "descriptor.size.range": MUST,
    "descriptor.urls.type": MUST,
    "descriptor.urls.format": MUST,
    "descriptor.urls.scheme": SHOULD,
    "descriptor.annotations.type": MUST,
    "descriptor.data.format": MUST,
    "descriptor.data.size.mismatch": MUST,
    "descriptor.data.digest.mismatch": MUST,
    "descriptor.artifactType.format": MUST,
    "blob.size.mismatch": MUST,
    "blob.digest.mismatch": MUST,
    "platform.type": MUST,
    "platform.architecture.required": MUST,
    "platform.architecture.type": MUST,
    "platform.os.required": MUST,
    "platform.os.type": MUST,
    "platform.os.version.type": MUST,
    "platform.os.features.type": MUST,
    "platform.variant.type": MUST,
    "manifest.schemaVersion.required": MUST,
    "manifest.schemaVersion.value": MUST,
    "manifest.mediaType.missing": SHOULD,
    "manifest.mediaType.value": MUST,
    "manifest.artifactType.format": MUST,
    "manifest.artifactType.required": MUST,
    "manifest.config.required": MUST,
    "manifest.layers.required": MUST,
    "manifest.layers.type": MUST,
    "manifest.layers.empty": MUST,
    "manifest.annotations.type": MUST,
    "index.schemaVersion.required": MUST,
    "index.schemaVersion.value": MUST,
    "index.mediaType.missing": SHOULD,
    "index.mediaType.value": MUST,
    "index.artifactType.format": MUST,
    "index.manifests.required": MUST,
    "index.manifests.type": MUST,
    "index.annotations.type": MUST,
    "config.architecture.required": MUST,
    "config.architecture.type": MUST,
    "config.os.required": MUST,
    "config.os.type": MUST,
    **{f"config.{key}.type": MUST for key in _CONFIG_STRINGS},
    "config.os.features.type": MUST,
    "config.created.format": MUST,
    "config.config.type": MUST,
    **{f"config.config.{key}.type": MUST for key in _EXECUTION_STRINGS},
    **{f"config.config.{key}.type": MUST for key in _EXECUTION_STRING_ARRAYS},
    "config.config.ArgsEscaped.type": MUST,
    "config.config.Env.format": MUST,
    "config.config.ExposedPorts.type": MUST,
    "config.config.ExposedPorts.format": SHOULD,
    "config.config.Volumes.type": MUST,
    "config.config.Labels.type": MUST,
    "config.rootfs.required": MUST,
    "config.rootfs.type": MUST,
    "config.rootfs.type.required": MUST,
    "config.rootfs.type.value": MUST,
    "config.rootfs.diff_ids.required": MUST,
    "config.rootfs.diff_ids.type": MUST,
    "config.rootfs.diff_ids.format": MUST,
    "config.rootfs.diff_ids.unsupported": SHOULD,
    "config.history.type": MUST,
    "config.history.created.format": MUST,
    **{f"config.history.{key}.type": MUST for key in _HISTORY_STRINGS},
    "config.history.empty_layer.type": MUST,
    "layout.imageLayoutVersion.required": MUST,
    "layout.imageLayoutVersion.value": MUST,
}


@dataclass(frozen=True)
class Finding:
    """One problem in a document: the rule it breaks, where, and what is wrong."""

    rule: str
    level: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.level} {self.rule} at {self.pointer or '(root)'}: {self.message}"


class Findings(list[Finding]):
    """The findings of one validation, MUST and SHOULD alike."""

    @property
    def errors(self) -> Findings:
        """The MUST findings, each of which makes the document invalid."""
        return Findings(finding for finding in self if finding.level == MUST)

    @property
    def warnings(self) -> Findings:
        """The SHOULD findings, which leave the document valid."""
        return Findings(finding for finding in self if finding.level == SHOULD)

    @property
    def ok(self) -> bool:
        """True when there is no MUST finding."""
        return not self.errors

    def frame(self) -> pd.DataFrame:
        """Return the findings as a DataFrame with the columns of FRAME_COLUMNS."""
        import pandas as pd

        rows = [dataclasses.astuple(finding) for finding in self]
        return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))

    def raise_for_findings(self) -> None:
        """Raise ValidationError when there is any MUST finding."""
        if not self.ok:
            raise ValidationError(self)

    def _repr_html_(self) -> str:
        from ._html_views import findings_html

        return findings_html(self)


_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
_MAX_SHOWN = 200
_REPR = reprlib.Repr()
_REPR.maxlevel = 4
_REPR.maxlist = _REPR.maxdict = 8
_REPR.maxstring = _REPR.maxlong = _REPR.maxother = _MAX_SHOWN


def _finding(rule: str, pointer: str, message: str) -> Finding:
    return Finding(rule, RULES[rule], pointer, message)


def _child(pointer: str, key: str | int) -> str:
    """Append one reference token to a JSON pointer, escaping ~ as ~0 and / as ~1."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def _show(value: Any) -> str:
    """Return a repr of value that is at most 200 characters long.

    reprlib limits the nesting depth and the number of items shown, so a huge
    or deeply nested JSON value costs little and cannot exceed the recursion
    limit.
    """
    text = _REPR.repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_media_type(value: Any) -> bool:
    return isinstance(value, str) and _MEDIA_TYPE.fullmatch(value) is not None


def _unwrap(obj: Any) -> Any:
    """Return the JSON that a model was parsed from, or obj itself."""
    if isinstance(obj, Descriptor):
        return obj.to_json()
    if isinstance(obj, ImageManifest | ImageIndex | ImageConfig | OCILayoutHeader):
        return obj.raw
    if isinstance(obj, Mapping) and not isinstance(obj, dict):
        return dict(obj)
    return obj


@dataclass(frozen=True)
class _Kind:
    """A JSON type that a value must have: its names for messages, and a test."""

    name: str
    plural: str
    test: Callable[[Any], bool]


_STRING = _Kind("a string", "strings", lambda value: isinstance(value, str))
_BOOLEAN = _Kind("a boolean", "booleans", lambda value: isinstance(value, bool))
_OBJECT = _Kind("an object", "objects", lambda value: isinstance(value, dict))


def _missing(
    obj: Mapping[str, Any], key: str, rule: str, pointer: str, expected: str
) -> Iterator[Finding]:
    """Yield a finding when the required key is absent."""
    if key not in obj:
        yield _finding(
            rule,
            _child(pointer, key),
            f"missing required field {key!r}: expected {expected}",
        )


def _wrong_type(
    obj: Mapping[str, Any],
    key: str,
    kind: _Kind,
    rule: str,
    pointer: str,
    *,
    null_ok: bool = False,
) -> Iterator[Finding]:
    """Yield a finding when obj[key] is present but not of the given kind."""
    if key not in obj or (obj[key] is None and null_ok):
        return
    if not kind.test(obj[key]):
        yield _finding(
            rule,
            _child(pointer, key),
            f"invalid {key} {_show(obj[key])}: expected {kind.name}",
        )


def _wrong_string_array(
    obj: Mapping[str, Any], key: str, rule: str, pointer: str, *, null_ok: bool
) -> Iterator[Finding]:
    """Yield findings when obj[key] is present but not an array of strings."""
    if key not in obj or (obj[key] is None and null_ok):
        return
    value = obj[key]
    if not isinstance(value, list):
        yield _finding(
            rule,
            _child(pointer, key),
            f"invalid {key} {_show(value)}: expected an array of strings",
        )
        return
    for index, item in enumerate(value):
        if not isinstance(item, str):
            yield _finding(
                rule,
                _child(_child(pointer, key), index),
                f"invalid {key} entry {_show(item)}: expected a string",
            )


def _wrong_map(
    obj: Mapping[str, Any],
    key: str,
    kind: _Kind,
    rule: str,
    pointer: str,
    *,
    null_ok: bool,
) -> Iterator[Finding]:
    """Yield findings when obj[key] is present but not an object of kind values."""
    if key not in obj or (obj[key] is None and null_ok):
        return
    value = obj[key]
    if not isinstance(value, dict):
        yield _finding(
            rule,
            _child(pointer, key),
            f"invalid {key} {_show(value)}: expected an object whose values are "
            f"{kind.plural}",
        )
        return
    for name, item in value.items():
        if not kind.test(item):
            yield _finding(
                rule,
                _child(_child(pointer, key), name),
                f"invalid {key} value {_show(item)} for {name!r}: expected {kind.name}",
            )


def _bad_media_type(value: Any, pointer: str, rule: str) -> Iterator[Finding]:
    if not _is_media_type(value):
        yield _finding(
            rule,
            pointer,
            f"invalid media type {_show(value)}: expected type/subtype as RFC 6838 "
            "names them, each part 1 to 127 characters of letters, digits and "
            "!#$&^_.+- that starts with a letter or digit",
        )


def _is_unsupported_digest(value: Any) -> bool:
    """Return whether value fits the digest grammar with an unregistered algorithm."""
    if not isinstance(value, str) or not _DIGEST_GRAMMAR.fullmatch(value):
        return False
    return value.partition(":")[0] not in _REGISTERED_ALGORITHMS


def _bad_digest(value: Any, pointer: str, prefix: str) -> Iterator[Finding]:
    """Yield a ``.format`` or ``.unsupported`` finding for an unusable digest."""
    try:
        parse_digest(value)
    except ImageError as error:
        if _is_unsupported_digest(value):
            algorithm = value.partition(":")[0]
            yield _finding(
                f"{prefix}.unsupported",
                pointer,
                f"digest {value!r} uses the unregistered algorithm {algorithm!r}: "
                "it fits the digest grammar, but only sha256 and sha512 digests "
                "can be verified",
            )
        else:
            yield _finding(f"{prefix}.format", pointer, str(error))


def _not_an_object(value: Any, rule: str, pointer: str, label: str) -> Finding:
    return _finding(
        rule, pointer, f"invalid {label} {_show(value)}: expected an object"
    )
