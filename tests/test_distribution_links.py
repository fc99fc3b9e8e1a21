"""Link headers and pagination: parsing, a fake registry, and the lab's registry."""

from __future__ import annotations

import json

import httpx
import pytest

from ocilab.distribution import push_image
from ocilab.distribution.links import Link, next_link, paginate, parse_link_header
from ocilab.errors import RegistryError
from ocilab.image import LayerBuilder, build_image
from ocilab.lab import LabInfo

FIRST_URL = "https://registry.example.test/v2/team/app/tags/list?n=2"


# --- parse_link_header -------------------------------------------------------


def test_parse_link_quoted_rel() -> None:
    links = parse_link_header('</v2/x/tags/list?n=2&last=b>; rel="next"')
    assert links == [Link("/v2/x/tags/list?n=2&last=b", {"rel": "next"})]


def test_parse_link_unquoted_rel() -> None:
    links = parse_link_header("</page2>; rel=next")
    assert links[0].rels == ["next"]


def test_parse_link_several_values_in_one_header() -> None:
    links = parse_link_header('<?p=1>; rel="prev", <?p=3>; rel="next"')
    assert [link.url for link in links] == ["?p=1", "?p=3"]
    assert [link.rels for link in links] == [["prev"], ["next"]]


def test_parse_link_several_headers() -> None:
    links = parse_link_header(['<a>; rel="prev"', '<b>; rel="next"'])
    assert [link.url for link in links] == ["a", "b"]


def test_parse_link_several_relation_types() -> None:
    (link,) = parse_link_header('<b>; rel="next   LAST"')
    assert link.rels == ["next", "last"]


def test_parse_link_parameter_names_case_insensitive() -> None:
    (link,) = parse_link_header('<b>; REL="next"; Title="Page, two"')
    assert link.params == {"rel": "next", "title": "Page, two"}


def test_parse_link_comma_inside_uri_and_quotes() -> None:
    links = parse_link_header('<a?x=1,2>; title="a, \\"b\\"", <c>; rel=next')
    assert links[0] == Link("a?x=1,2", {"title": 'a, "b"'})
    assert links[1] == Link("c", {"rel": "next"})


def test_parse_link_first_rel_wins() -> None:
    (link,) = parse_link_header('<b>; rel="next"; rel="prev"')
    assert link.rels == ["next"]


def test_parse_link_extended_parameter_decoded() -> None:
    (link,) = parse_link_header("<b>; title*=UTF-8'fr'caf%C3%A9; anchor")
    assert link.params == {"title*": "café", "anchor": ""}


def test_parse_link_empty_elements_ignored() -> None:
    assert [link.url for link in parse_link_header(" , <a>,, <b> ,")] == ["a", "b"]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("/page2; rel=next", "expected '<'"),
        ("<page2; rel=next", "missing '>'"),
        ('<page2>; rel="next', "unterminated quoted string"),
        ("<page2> rel=next", "expected ';' or ','"),
        ("<page2>; (rel)=next", "invalid character"),
    ],
)
def test_parse_link_malformed_rejected(header: str, problem: str) -> None:
    with pytest.raises(RegistryError, match=problem) as caught:
        parse_link_header(header, url="https://r.test/v2/", status=200)
    assert repr(header) in str(caught.value)
    assert caught.value.url == "https://r.test/v2/"


# --- next_link ---------------------------------------------------------------


def _response(link: str | None, url: str = FIRST_URL) -> httpx.Response:
    headers = {"Link": link} if link is not None else {}
    return httpx.Response(200, headers=headers, request=httpx.Request("GET", url))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            "/v2/team/app/tags/list?next_page=T0K3N&n=2",
            "https://registry.example.test/v2/team/app/tags/list?next_page=T0K3N&n=2",
        ),
        ("?p=3", "https://registry.example.test/v2/team/app/tags/list?p=3"),
        ("list2?n=2", "https://registry.example.test/v2/team/app/tags/list2?n=2"),
        ("https://mirror.example.test/p/3", "https://mirror.example.test/p/3"),
    ],
)
def test_next_link_resolved_against_request(target: str, expected: str) -> None:
    assert next_link(_response(f'<{target}>; rel="next"')) == expected


def test_next_link_absent() -> None:
    assert next_link(_response(None)) is None
    assert next_link(_response('</v2/x>; rel="prev"')) is None


def test_next_link_keeps_query_as_sent() -> None:
    # The URL is used as sent: no rebuilding from last= or reordering.
    link = '</v2/team/app/tags/list?n=2&last=b&extra=%2F>; rel="next"'
    assert next_link(_response(link)) == (
        "https://registry.example.test/v2/team/app/tags/list?n=2&last=b&extra=%2F"
    )


# --- paginate against a fake registry ----------------------------------------


def _fake_registry_client(pages: dict[str, tuple[dict, str | None]]):
    """A client whose fake registry serves pages[url] = (body, Link header)."""
    requested: list[str] = []

    def fake_registry_handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        requested.append(url)
        if url not in pages:
            return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN"}]})
        body, link = pages[url]
        headers = {"Link": link} if link else {}
        return httpx.Response(200, content=json.dumps(body), headers=headers)

    client = httpx.Client(transport=httpx.MockTransport(fake_registry_handler))
    return client, requested


TOKEN_URL = "https://registry.example.test/v2/team/app/tags/list?next_page=T0K3N&n=2"


def test_paginate_opaque_relative_token() -> None:
    client, requested = _fake_registry_client(
        {
            FIRST_URL: (
                {"name": "team/app", "tags": ["a", "b"]},
                '</v2/team/app/tags/list?next_page=T0K3N&n=2>; rel="next"',
            ),
            TOKEN_URL: ({"tags": ["c"]}, None),
        }
    )
    assert paginate(client, FIRST_URL) == ["a", "b", "c"]
    assert requested == [FIRST_URL, TOKEN_URL]


def test_paginate_unquoted_rel() -> None:
    client, _ = _fake_registry_client(
        {
            FIRST_URL: (
                {"tags": ["a", "b"]},
                "</v2/team/app/tags/list?next_page=T0K3N&n=2>; rel=next",
            ),
            TOKEN_URL: ({"tags": ["c"]}, None),
        }
    )
    assert paginate(client, FIRST_URL) == ["a", "b", "c"]


def test_paginate_prev_and_next_links() -> None:
    base = "https://registry.example.test/v2/team/app/tags/list"
    client, requested = _fake_registry_client(
        {
            FIRST_URL: (
                {"tags": ["a", "b"]},
                f'<{base}?p=1>; rel="prev", <{base}?p=3>; rel="next"',
            ),
            f"{base}?p=3": ({"tags": ["c"]}, f'<{base}?p=1>; rel="prev"'),
        }
    )
    assert paginate(client, FIRST_URL) == ["a", "b", "c"]
    assert requested == [FIRST_URL, f"{base}?p=3"]


def test_paginate_next_equal_to_current_rejected() -> None:
    client, requested = _fake_registry_client(
        {FIRST_URL: ({"tags": ["a"]}, f'<{FIRST_URL}>; rel="next"')}
    )
    with pytest.raises(RegistryError, match="pagination loop") as caught:
        paginate(client, FIRST_URL)
    assert caught.value.url == FIRST_URL
    assert requested == [FIRST_URL]


def test_paginate_longer_loop_rejected() -> None:
    second = FIRST_URL + "&page=2"
    client, requested = _fake_registry_client(
        {
            FIRST_URL: ({"tags": ["a"]}, f'<{second}>; rel="next"'),
            second: ({"tags": ["b"]}, f'<{FIRST_URL}>; rel="next"'),
        }
    )
    with pytest.raises(RegistryError, match="already fetched"):
        paginate(client, FIRST_URL)
    assert requested == [FIRST_URL, second]


def test_paginate_max_pages_reached() -> None:
    pages = {
        f"{FIRST_URL}&page={index}": (
            {"tags": [str(index)]},
            f'<{FIRST_URL}&page={index + 1}>; rel="next"',
        )
        for index in range(5)
    }
    client, requested = _fake_registry_client(pages)
    with pytest.raises(RegistryError, match="after 3 pages") as caught:
        paginate(client, f"{FIRST_URL}&page=0", max_pages=3)
    assert len(requested) == 3
    assert caught.value.url == f"{FIRST_URL}&page=3"


@pytest.mark.parametrize("body", [{"name": "team/app", "tags": None}, {}])
def test_paginate_null_or_missing_tags(body: dict) -> None:
    client, _ = _fake_registry_client({FIRST_URL: (body, None)})
    assert paginate(client, FIRST_URL) == []


def test_paginate_other_key() -> None:
    url = "https://registry.example.test/v2/_catalog?n=1"
    client, _ = _fake_registry_client({url: ({"repositories": ["a/b"]}, None)})
    assert paginate(client, url, key="repositories") == ["a/b"]


def test_paginate_tags_not_a_list_rejected() -> None:
    client, _ = _fake_registry_client({FIRST_URL: ({"tags": "a"}, None)})
    with pytest.raises(RegistryError, match="expected a list"):
        paginate(client, FIRST_URL)


def test_paginate_error_status_shows_codes() -> None:
    client, _ = _fake_registry_client({})
    with pytest.raises(RegistryError) as caught:
        paginate(client, FIRST_URL)
    assert caught.value.status == 404
    assert caught.value.codes == ["NAME_UNKNOWN"]


def test_paginate_max_pages_invalid() -> None:
    client, _ = _fake_registry_client({})
    with pytest.raises(ValueError, match="max_pages must be at least 1"):
        paginate(client, FIRST_URL, max_pages=0)


# --- the lab's registry ------------------------------------------------------

LAB_REPOSITORY = "tests/paged"
LAB_TAGS = ["t1", "t2", "t3", "t4", "t5"]


@pytest.fixture(scope="module")
def paged_repository(lab: LabInfo) -> str:
    """Push one tiny image under five tags to the lab's registry."""
    layer = LayerBuilder()
    layer.add_file("page.txt", b"pagination test\n")
    image = build_image([layer.build()], container_config={"Cmd": ["true"]})
    push_image(lab.registry_url, LAB_REPOSITORY, image, LAB_TAGS)
    return LAB_REPOSITORY


@pytest.mark.lab
def test_lab_catalog_sends_link_header(lab: LabInfo, paged_repository: str) -> None:
    response = httpx.get(f"{lab.registry_url}/v2/_catalog?n=1")
    assert response.status_code == 200
    assert len(response.json()["repositories"]) == 1
    following = next_link(response)
    assert following is not None
    assert following.startswith(f"{lab.registry_url}/v2/_catalog?")


@pytest.mark.lab
def test_lab_tags_paginated_match_full(lab: LabInfo, paged_repository: str) -> None:
    # docker-registry 2.8 ignores n on tags/list and sends every tag, unsorted,
    # with no Link header, so this checks that paginate ends after that page.
    with httpx.Client() as client:
        full = client.get(f"{lab.registry_url}/v2/{paged_repository}/tags/list")
        paged = paginate(
            client, f"{lab.registry_url}/v2/{paged_repository}/tags/list?n=2"
        )
    assert sorted(full.json()["tags"]) == LAB_TAGS
    assert sorted(paged) == LAB_TAGS
    assert len(paged) == len(LAB_TAGS)


@pytest.mark.lab
def test_lab_catalog_paginated_match_full(lab: LabInfo, paged_repository: str) -> None:
    with httpx.Client() as client:
        full = client.get(f"{lab.registry_url}/v2/_catalog")
        paged = paginate(
            client, f"{lab.registry_url}/v2/_catalog?n=1", key="repositories"
        )
    assert paged_repository in paged
    assert len(paged) >= 3
    assert paged == full.json()["repositories"]
