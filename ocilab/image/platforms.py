"""Platform matching: which image platform satisfies a requested platform."""

from __future__ import annotations

from .models import Platform

__all__ = ["as_platform", "normalize", "platform_matches"]


def platform_matches(candidate: Platform, requested: Platform) -> bool:
    """Tell whether an image for ``candidate`` satisfies a request for ``requested``.

    os and architecture must be equal. Variants are compared after
    normalisation: arm64 without a variant is v8, arm without one is v7, and
    amd64 v1 is no variant. For amd64 a missing variant on either side
    matches any variant. os.version and os.features are not compared.
    """
    os_a, arch_a, variant_a = normalize(candidate)
    os_b, arch_b, variant_b = normalize(requested)
    if (os_a, arch_a) != (os_b, arch_b):
        return False
    if arch_a == "amd64" and (variant_a is None or variant_b is None):
        return True
    return variant_a == variant_b


def normalize(platform: Platform) -> tuple[str, str, str | None]:
    # The rules of normalizeArch in containerd/platforms, for these architectures.
    architecture, variant = platform.architecture, platform.variant or None
    if architecture == "arm64" and variant in (None, "8", "v8"):
        variant = "v8"
    elif architecture == "arm" and variant in (None, "5", "6", "7", "8"):
        variant = f"v{variant or 7}"
    elif architecture == "amd64" and variant == "v1":
        variant = None
    return platform.os, architecture, variant


def as_platform(platform: str | Platform) -> Platform:
    return Platform.parse(platform) if isinstance(platform, str) else platform
