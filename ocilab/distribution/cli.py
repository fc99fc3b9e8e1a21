"""`ocilab registry`: talk to an OCI distribution registry and copy images.

Registry references are ``HOST[:PORT]/REPO[:TAG|@DIGEST]``, layouts are
``oci:PATH[:REF]``. Credentials come from --username/--password, else from
the Docker config file (``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from ..errors import ImageError
from ..image.models import Descriptor
from .auth import RegistryAuth, load_docker_config
from .client import RegistryClient
from .copy import (
    MAX_PARALLEL_BLOBS,
    CopyResult,
    RegistryReference,
    copy_image,
    parse_reference,
)

__all__ = ["add_registry_commands", "main"]


def _registry(args: argparse.Namespace, text: str) -> RegistryReference:
    reference = parse_reference(text, scheme=args.scheme)
    if not isinstance(reference, RegistryReference):
        raise ImageError(
            f"invalid registry reference {text!r}: use HOST[:PORT]/REPO[:TAG|@DIGEST]"
        )
    return reference


def _host_url(args: argparse.Namespace, text: str) -> tuple[str, str]:
    """Return (host[:port], base URL) of a registry given as a URL or a host."""
    if "://" in text:
        scheme, _, rest = text.partition("://")
        host = rest.split("/", 1)[0]
        return host, f"{scheme}://{host}"
    host = text.split("/", 1)[0]
    reference = parse_reference(f"{host}/x", scheme=args.scheme)
    assert isinstance(reference, RegistryReference)
    return host, reference.url


class _Session:
    """The clients of one command, keyed by host[:port], with shared credentials."""

    def __init__(self, args: argparse.Namespace, stack: ExitStack) -> None:
        self.args = args
        self.stack = stack
        self.clients: dict[str, RegistryClient] = {}

    def client(self, host: str, url: str) -> RegistryClient:
        if host not in self.clients:
            auth = RegistryAuth(
                url,
                self.args.username,
                self.args.password,
                docker_config=load_docker_config(),
            )
            client = RegistryClient(url, auth=auth)
            self.clients[host] = self.stack.enter_context(client)
        return self.clients[host]

    def for_reference(self, reference: RegistryReference) -> RegistryClient:
        return self.client(reference.host, reference.url)

    def show_exchanges(self) -> None:
        if not self.args.show_exchanges:
            return
        for host, client in self.clients.items():
            frame = client.exchanges_frame()
            print(f"exchanges with {host}:", file=sys.stderr)
            print(frame.to_string(), file=sys.stderr)


@contextmanager
def _session(args: argparse.Namespace) -> Iterator[_Session]:
    if (args.username is None) != (args.password is None):
        raise ImageError("pass both --username and --password, or neither")
    with ExitStack() as stack:
        session = _Session(args, stack)
        try:
            yield session
        finally:
            session.show_exchanges()


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "output", None) == "json":
        print(json.dumps(data, indent=2))
    else:
        print(text)


def _ping(args: argparse.Namespace) -> int:
    host, url = _host_url(args, args.registry)
    with _session(args) as session:
        version = session.client(host, url).ping()
    _print(args, {"registry": url, "api_version": version}, f"{url} {version or ''}")
    return 0


def _catalog(args: argparse.Namespace) -> int:
    host, url = _host_url(args, args.registry)
    with _session(args) as session:
        repositories = session.client(host, url).catalog(args.n)
    _print(args, repositories, "\n".join(repositories))
    return 0


def _tags(args: argparse.Namespace) -> int:
    reference = _registry(args, args.repository)
    with _session(args) as session:
        tags = session.for_reference(reference).tags(reference.repository, args.n)
    _print(args, tags, "\n".join(tags))
    return 0


def _manifest(args: argparse.Namespace) -> int:
    reference = _registry(args, args.reference)
    with _session(args) as session:
        client = session.for_reference(reference)
        if args.head:
            found = client.head_manifest(reference.repository, reference.reference)
            _print_head(reference, found)
            return 0 if found is not None else 1
        manifest = client.get_manifest(reference.repository, reference.reference)
    sys.stdout.write(manifest.data.decode("utf-8") + "\n")
    return 0


def _print_head(reference: RegistryReference, found: Descriptor | None) -> None:
    if found is None:
        print(f"{reference} not found", file=sys.stderr)
        return
    print(json.dumps(found.to_json(), indent=2))


def _digest_of(reference: RegistryReference, text: str) -> str:
    if reference.digest is None:
        raise ImageError(f"missing digest in {text!r}: use HOST/REPO@DIGEST")
    return reference.digest


def _blob(args: argparse.Namespace) -> int:
    reference = _registry(args, args.reference)
    digest = _digest_of(reference, args.reference)
    with _session(args) as session:
        client = session.for_reference(reference)
        found = client.head_blob(reference.repository, digest)
        if found is None:
            raise ImageError(f"blob {digest} not found in {reference.repository}")
        descriptor = Descriptor(found.media_type, digest, found.size)
        client.download_blob(reference.repository, descriptor, args.output_file)
    print(f"{args.output_file} {digest} {found.size}")
    return 0


def _copy(args: argparse.Namespace) -> int:
    source = parse_reference(args.source, scheme=args.scheme)
    destination = parse_reference(args.destination, scheme=args.scheme)
    with _session(args) as session:
        for reference in (source, destination):
            if isinstance(reference, RegistryReference):
                session.for_reference(reference)
        result = copy_image(
            source,
            destination,
            platform=args.platform,
            progress=not args.quiet,
            clients=session.clients,
            jobs=args.jobs or (1 if args.show_exchanges else MAX_PARALLEL_BLOBS),
        )
    _print_copy(args, result)
    return 0


def _print_copy(args: argparse.Namespace, result: CopyResult) -> None:
    data = {
        "digest": result.digest,
        "blobs_copied": result.blobs_copied,
        "blobs_skipped": result.blobs_skipped,
        "bytes_copied": result.bytes_copied,
        "manifests": [m.digest for m in result.manifests],
    }
    text = (
        f"{result.digest}: {result.blobs_copied} blobs copied "
        f"({result.bytes_copied} bytes), {result.blobs_skipped} skipped, "
        f"{len(result.manifests)} manifests"
    )
    _print(args, data, text)


def _referrers(args: argparse.Namespace) -> int:
    reference = _registry(args, args.reference)
    digest = _digest_of(reference, args.reference)
    with _session(args) as session:
        client = session.for_reference(reference)
        found = client.referrers(reference.repository, digest, args.artifact_type)
    rows = [d.to_json() for d in found.descriptors]
    text = "\n".join(
        f"{d.digest}\t{d.artifact_type or d.media_type}" for d in found.descriptors
    )
    _print(args, {"source": found.source, "manifests": rows}, text)
    return 0


def _delete(args: argparse.Namespace) -> int:
    reference = _registry(args, args.reference)
    digest = _digest_of(reference, args.reference)
    with _session(args) as session:
        client = session.for_reference(reference)
        if args.blob:
            client.delete_blob(reference.repository, digest)
        else:
            client.delete_manifest(reference.repository, digest)
    print(f"deleted {reference}")
    return 0


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", help="registry user name (Basic or token auth)")
    parser.add_argument("--password", help="password for --username")
    parser.add_argument(
        "--scheme",
        choices=("http", "https"),
        help="override the scheme (default: http for 127.0.0.1 and localhost, "
        "else https)",
    )
    parser.add_argument(
        "--show-exchanges",
        action="store_true",
        help="print every HTTP exchange to stderr at the end",
    )


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="output format"
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text}: use 1 or more")
    return value


def _copy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--platform",
        help="copy only this platform's manifest of an index (os/arch[/variant])",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        help=f"blobs copied at the same time (default: {MAX_PARALLEL_BLOBS}, or 1 "
        "with --show-exchanges so that each blob's requests are listed together)",
    )
    _json_option(parser)


def add_registry_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `ocilab registry …` to the top-level parser's subcommands."""
    registry = commands.add_parser(
        "registry", help="OCI distribution registries: inspect, push, pull, copy"
    ).add_subparsers(dest="verb", required=True)

    def verb(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        parser = registry.add_parser(name, help=help_text)
        parser.set_defaults(handler=handler)
        _common_options(parser)
        return parser

    ping = verb("ping", _ping, "GET /v2/ and print the API version header")
    ping.add_argument("registry", help="registry URL or HOST[:PORT]")
    _json_option(ping)

    catalog = verb("catalog", _catalog, "list the repositories of a registry")
    catalog.add_argument("registry", help="registry URL or HOST[:PORT]")
    catalog.add_argument("-n", type=int, help="page size of each request")
    _json_option(catalog)

    tags = verb("tags", _tags, "list the tags of a repository")
    tags.add_argument("repository", help="HOST[:PORT]/REPO")
    tags.add_argument("-n", type=int, help="page size of each request")
    _json_option(tags)

    manifest = verb("manifest", _manifest, "print a manifest or index as served")
    manifest.add_argument("reference", help="HOST[:PORT]/REPO[:TAG|@DIGEST]")
    manifest.add_argument(
        "--head",
        action="store_true",
        help="send HEAD and print the descriptor (exit 1 when absent)",
    )

    blob = verb("blob", _blob, "download a blob and verify its digest")
    blob.add_argument("reference", help="HOST[:PORT]/REPO@DIGEST")
    blob.add_argument(
        "-o", "--output-file", type=Path, required=True, help="file to write"
    )

    for name, source, destination, help_text in (
        ("copy", "SRC", "DST", "copy an image between registries and layouts"),
        (
            "push",
            "oci:LAYOUT[:REF]",
            "HOST/REPO:TAG",
            "copy a layout image to a registry",
        ),
        (
            "pull",
            "HOST/REPO:TAG",
            "oci:LAYOUT[:REF]",
            "copy a registry image to a layout",
        ),
    ):
        parser = verb(name, _copy, help_text)
        parser.add_argument("source", metavar=source)
        parser.add_argument("destination", metavar=destination)
        _copy_options(parser)

    referrers = verb("referrers", _referrers, "list the referrers of a manifest")
    referrers.add_argument("reference", help="HOST[:PORT]/REPO@DIGEST")
    referrers.add_argument("--artifact-type", help="only this artifactType")
    _json_option(referrers)

    delete = verb("delete", _delete, "delete a manifest (or with --blob, a blob)")
    delete.add_argument("reference", help="HOST[:PORT]/REPO@DIGEST")
    delete.add_argument("--blob", action="store_true", help="delete a blob")


def main(argv: list[str] | None = None) -> int:
    """Run `registry …` alone, as `python -m ocilab.distribution.cli`."""
    from ..errors import OcilabError

    parser = argparse.ArgumentParser(prog="ocilab")
    add_registry_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except OcilabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
