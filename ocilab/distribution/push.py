"""Push built images to a registry with the OCI distribution spec's upload flow.

The flow, for each blob: ``HEAD /v2/<name>/blobs/<digest>`` (skip it when the
registry has it), ``POST /v2/<name>/blobs/uploads/`` (202 with a Location),
then ``PUT <Location>?digest=<digest>`` with the whole blob (201). Finally
``PUT /v2/<name>/manifests/<reference>`` with the manifest (201).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from ..errors import RegistryError
from ..image.build import Blob, BuiltImage

__all__ = ["push_blob", "push_image", "push_manifest", "raise_for_registry_error"]

log = logging.getLogger(__name__)


def raise_for_registry_error(
    response: httpx.Response, expected: tuple[int, ...]
) -> None:
    """Raise RegistryError unless the response status is one of expected.

    The message shows the method, URL, status and every OCI error code and
    message of the body. A body that is not OCI error JSON is shown as text.
    """
    if response.status_code in expected:
        return
    errors: list[dict[str, object]] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        errors = [error for error in body["errors"] if isinstance(error, dict)]
    if errors:
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    else:
        detail = response.text[:300] or "(empty body)"
    request = response.request
    raise RegistryError(
        f"{request.method} {request.url} returned {response.status_code} "
        f"(expected {' or '.join(map(str, expected))}): {detail}",
        url=str(request.url),
        status=response.status_code,
        errors=errors,
    )


def _with_query(url: str, **params: str) -> str:
    # The Location may already carry a query (upload state); keep it and append.
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def push_blob(client: httpx.Client, base_url: str, repository: str, blob: Blob) -> bool:
    """Upload one blob monolithically; return False when the registry already had it."""
    digest = blob.digest  # Blob.digest hashes the whole blob on every access.
    blob_url = f"{base_url}/v2/{repository}/blobs/{digest}"
    head = client.head(blob_url)
    if head.status_code == 200:
        log.debug("blob %s already in %s", digest, repository)
        return False
    start = client.post(f"{base_url}/v2/{repository}/blobs/uploads/")
    raise_for_registry_error(start, (202,))
    location = start.headers.get("Location")
    if not location:
        raise RegistryError(
            f"POST {start.request.url} returned 202 without a Location header",
            url=str(start.request.url),
            status=start.status_code,
        )
    # A relative Location is resolved against the URL of the request.
    upload_url = _with_query(urljoin(str(start.request.url), location), digest=digest)
    put = client.put(
        upload_url,
        content=blob.data,
        headers={"Content-Type": "application/octet-stream"},
    )
    raise_for_registry_error(put, (201,))
    log.info("pushed blob %s (%d bytes) to %s", digest, blob.size, repository)
    return True


def push_manifest(
    client: httpx.Client, base_url: str, repository: str, reference: str, manifest: Blob
) -> str:
    """Put a manifest under a tag or digest; return the digest the registry reports."""
    response = client.put(
        f"{base_url}/v2/{repository}/manifests/{reference}",
        content=manifest.data,
        headers={"Content-Type": manifest.media_type},
    )
    raise_for_registry_error(response, (201,))
    return response.headers.get("Docker-Content-Digest", manifest.digest)


def push_image(
    registry_url: str,
    repository: str,
    image: BuiltImage,
    tags: list[str],
    *,
    timeout: float = 60.0,
    auth: tuple[str, str] | None = None,
) -> str:
    """Push every blob of an image, then its manifest under each tag.

    auth is (username, password) for a registry with Basic authentication.
    Returns the manifest digest. Raises RegistryError on any error status.
    """
    base_url = registry_url.rstrip("/")
    # Certificates matter only for https; loading the CA bundle costs about 0.1 s.
    verify = not base_url.startswith("http://")
    with httpx.Client(
        timeout=timeout, follow_redirects=False, auth=auth, verify=verify
    ) as client:
        try:
            for blob in image.blobs:
                push_blob(client, base_url, repository, blob)
            for tag in tags:
                push_manifest(client, base_url, repository, tag, image.manifest)
        except httpx.TransportError as error:
            try:
                url = str(error.request.url)
            except RuntimeError:  # httpx raises this when no request is attached
                url = base_url
            raise RegistryError(
                f"push to {url} failed: {type(error).__name__}: {error}; check that "
                "the registry is running and reachable",
                url=url,
                status=0,
            ) from error
    log.info(
        "pushed %s/%s:%s as %s",
        base_url,
        repository,
        ",".join(tags),
        image.manifest.digest,
    )
    return image.manifest.digest
