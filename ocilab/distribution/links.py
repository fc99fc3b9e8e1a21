"""Parse HTTP ``Link`` headers (RFC 8288) and follow a registry's pagination.

Registries page ``/v2/<name>/tags/list`` and ``/v2/_catalog`` when the client
sends ``n=<count>``: each page that has a successor carries
``Link: <url>; rel="next"``. The distribution spec only promises the URL in
that header, so a client uses it exactly as sent. It may be relative, and its
query may hold an opaque token in place of ``last=<name>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin

import httpx

from ..errors import RegistryError
from .push import raise_for_registry_error

__all__ = ["Link", "next_link", "paginate", "parse_link_header"]

log = logging.getLogger(__name__)

# RFC 9110 token characters: what a parameter name may contain.
_TCHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_WHITESPACE = " \t"


@dataclass(frozen=True)
class Link:
    """One link-value: the target URI-reference as sent, and its parameters.

    Parameter names are lower-cased. A parameter without a value maps to "",
    and a repeated parameter keeps its first value, as RFC 8288 requires for
    ``rel``. Extended values such as ``title*=UTF-8''caf%C3%A9`` are decoded.
    """

    url: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def rels(self) -> list[str]:
        """The relation types listed in ``rel``, lower-cased."""
        return self.params.get("rel", "").lower().split()


class _Parser:
    """A cursor over one header value, with the error that names the header."""

    def __init__(self, text: str, url: str, status: int) -> None:
        self.text = text
        self.pos = 0
        self.url = url
        self.status = status

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_whitespace(self) -> None:
        while self.peek() and self.peek() in _WHITESPACE:
            self.pos += 1

    def fail(self, problem: str) -> RegistryError:
        return RegistryError(
            f"invalid Link header {self.text!r}: {problem} at character {self.pos}",
            url=self.url,
            status=self.status,
        )

    def read_until(self, stops: str) -> str:
        start = self.pos
        while self.peek() and self.peek() not in stops:
            self.pos += 1
        return self.text[start : self.pos]

    def read_token(self) -> str:
        start = self.pos
        while self.peek() and self.peek() in _TCHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def read_quoted_string(self) -> str:
        self.pos += 1  # the opening quote
        chars: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise self.fail("unterminated quoted string")
            self.pos += 1
            if char == '"':
                return "".join(chars)
            if char == "\\":
                if self.at_end():
                    raise self.fail("backslash at the end of a quoted string")
                char = self.text[self.pos]
                self.pos += 1
            chars.append(char)


def _decode_extended(value: str) -> str:
    # RFC 8187: charset'language'percent-encoded-bytes.
    charset, _, rest = value.partition("'")
    _, _, encoded = rest.partition("'")
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="strict")
    except (LookupError, UnicodeDecodeError):
        return value


def _parse_params(parser: _Parser) -> dict[str, str]:
    params: dict[str, str] = {}
    while True:
        parser.skip_whitespace()
        if parser.at_end() or parser.peek() == ",":
            return params
        if parser.peek() != ";":
            raise parser.fail(f"expected ';' or ',' but found {parser.peek()!r}")
        parser.pos += 1
        parser.skip_whitespace()
        name = parser.read_token().lower()
        if not name:
            if parser.at_end() or parser.peek() in ";,":
                continue  # an empty parameter, as in "<u>; ; rel=next"
            raise parser.fail(f"invalid character {parser.peek()!r} in a parameter")
        parser.skip_whitespace()
        value = ""
        if parser.peek() == "=":
            parser.pos += 1
            parser.skip_whitespace()
            if parser.peek() == '"':
                value = parser.read_quoted_string()
            else:
                # Lenient: servers send unquoted values such as type=text/html
                # that are not RFC 9110 tokens.
                value = parser.read_until(";," + _WHITESPACE)
            if name.endswith("*"):
                value = _decode_extended(value)
        params.setdefault(name, value)


def _parse_one(text: str, url: str, status: int) -> list[Link]:
    parser = _Parser(text, url, status)
    links: list[Link] = []
    while True:
        # Empty list elements (",," or a leading comma) are allowed in HTTP lists.
        while parser.peek() and parser.peek() in "," + _WHITESPACE:
            parser.pos += 1
        if parser.at_end():
            return links
        if parser.peek() != "<":
            raise parser.fail(f"expected '<' but found {parser.peek()!r}")
        parser.pos += 1
        target = parser.read_until(">")
        if parser.at_end():
            raise parser.fail("missing '>' after the URI")
        parser.pos += 1
        links.append(Link(target.strip(), _parse_params(parser)))


def parse_link_header(
    values: str | list[str], *, url: str = "", status: int = 0
) -> list[Link]:
    """Parse one or several ``Link`` header values into links, in order.

    url and status name the response the header came from, for the error.
    Raises RegistryError when a value is malformed, and shows that value.
    """
    if isinstance(values, str):
        values = [values]
    links: list[Link] = []
    for value in values:
        links.extend(_parse_one(value, url, status))
    return links


def next_link(response: httpx.Response) -> str | None:
    """Return the absolute URL of the response's ``rel="next"`` link, or None.

    A relative target is resolved against the URL of the request that produced
    the response, as RFC 8288 section 3.1 requires.
    """
    request_url = str(response.request.url)
    links = parse_link_header(
        response.headers.get_list("link"),
        url=request_url,
        status=response.status_code,
    )
    for link in links:
        if "next" in link.rels:
            return urljoin(request_url, link.url)
    return None


def _page_items(response: httpx.Response, key: str) -> list:
    url = str(response.request.url)
    try:
        body = response.json()
    except ValueError as error:
        raise RegistryError(
            f"GET {url} returned a body that is not JSON: {response.text[:200]!r}",
            url=url,
            status=response.status_code,
        ) from error
    if not isinstance(body, dict):
        raise RegistryError(
            f"GET {url} returned JSON that is not an object: {response.text[:200]!r}",
            url=url,
            status=response.status_code,
        )
    items = body.get(key)
    if items is None:  # docker-registry sends "tags": null for an empty repository
        return []
    if not isinstance(items, list):
        raise RegistryError(
            f"GET {url} returned {key!r} as {type(items).__name__}, expected a list",
            url=url,
            status=response.status_code,
        )
    return items


def _get_page(client: httpx.Client, url: str) -> httpx.Response:
    try:
        response = client.get(url)
    except httpx.TransportError as error:
        raise RegistryError(
            f"GET {url} failed: {type(error).__name__}: {error}; check that the "
            "registry is running and reachable",
            url=url,
            status=0,
        ) from error
    raise_for_registry_error(response, (200,))
    return response


def paginate(
    client: httpx.Client, first_url: str, *, key: str = "tags", max_pages: int = 1000
) -> list:
    """Fetch every page from first_url on, following ``rel="next"`` links.

    Returns the items under key of all pages, concatenated. A missing or null
    list counts as empty. Raises RegistryError on an error status, a body
    without a list under key, a next link that repeats an earlier page, and
    when more than max_pages pages would be fetched.
    """
    if max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, got {max_pages}")
    items: list = []
    seen: set[str] = set()
    url = first_url
    for _ in range(max_pages):
        response = _get_page(client, url)
        seen.add(str(response.request.url))
        items.extend(_page_items(response, key))
        following = next_link(response)
        if following is None:
            return items
        if following in seen:
            raise RegistryError(
                f"pagination loop: the next link of {response.request.url} points "
                f"to {following}, which was already fetched",
                url=following,
                status=response.status_code,
            )
        log.debug("following next link %s", following)
        url = following
    raise RegistryError(
        f"pagination from {first_url} stopped after {max_pages} pages with a next "
        f"link still present ({url}); pass a larger max_pages",
        url=url,
        status=200,
    )
