"""Plots of layer sizes per image, to see what images cost and which layers they share."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ImageError
from .build import BuiltImage
from .layers import _decompress
from .layout import ImageRef, OCILayout
from .models import Descriptor, ImageManifest, load_json

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["layer_size_frame", "plot_layer_sizes"]

ImageSource = ImageRef | ImageManifest | BuiltImage
LayerSizesInput = (
    OCILayout | str | os.PathLike[str] | Sequence[ImageRef] | Mapping[str, ImageSource]
)

FRAME_COLUMNS = [
    "image",
    "position",
    "digest",
    "short_digest",
    "media_type",
    "size",
    "uncompressed_size",
    "shared_by",
]
SHARED_HATCH = "//"
# Segments narrower than this fraction of the widest bar get no digest label,
# because the text would not fit inside them.
MIN_LABELLED_FRACTION = 0.06


def _short(digest: str) -> str:
    """Return the first 12 hex digits of a digest, as docker shows image ids."""
    return digest.partition(":")[2][:12] or digest


def _image_name(image: ImageRef) -> str:
    name = image.ref_name or _short(image.descriptor.digest)
    return f"{name} {image.platform}"


def _manifest_of(image: ImageSource) -> ImageManifest:
    if isinstance(image, ImageRef):
        return image.manifest
    if isinstance(image, ImageManifest):
        return image
    if isinstance(image, BuiltImage):
        return ImageManifest.from_json(load_json(image.manifest.data, "manifest"))
    raise TypeError(
        f"expected an ImageRef, ImageManifest or BuiltImage, got {type(image).__name__}"
    )


def _named_images(
    source: LayerSizesInput,
) -> tuple[list[tuple[str, ImageSource]], OCILayout | None]:
    if isinstance(source, (str, os.PathLike)):
        source = OCILayout.open(source)
    if isinstance(source, OCILayout):
        return [(_image_name(image), image) for image in source.images()], source
    if isinstance(source, Mapping):
        return [(str(name), image) for name, image in source.items()], None
    if isinstance(source, Sequence):
        named: list[tuple[str, ImageSource]] = []
        for image in source:
            if not isinstance(image, ImageRef):
                raise TypeError(
                    "a sequence of images must contain ImageRef objects (from "
                    f"OCILayout.images()); got {type(image).__name__}. Pass a "
                    "dict of name to image for manifests or built images"
                )
            named.append((_image_name(image), image))
        return named, None
    raise TypeError(
        "expected an OCILayout, a layout path, a list of ImageRef or a dict of "
        f"name to image, got {type(source).__name__}"
    )


def _count_decompressed(stream: Any, name: str) -> int:
    total = 0
    decompressed = _decompress(stream, name)
    while chunk := decompressed.read(1 << 20):
        total += len(chunk)
    return total


def _uncompressed_size(
    descriptor: Descriptor, image: ImageSource, layout: OCILayout | None
) -> int:
    """Decompress a layer blob and count its bytes (the tar's size)."""
    name = f"layer {descriptor.digest}"
    if isinstance(image, BuiltImage):
        for blob in image.layers:
            if blob.digest == descriptor.digest:
                return _count_decompressed(io.BytesIO(blob.data), name)
    if layout is None:
        raise ImageError(
            f"cannot measure the uncompressed size of {descriptor.digest}: its blob "
            "is not at hand. Pass layout= (the image layout that stores it) or "
            "uncompressed=False"
        )
    # open_blob verifies size and digest once the blob has been read to the end.
    with layout.open_blob(descriptor) as reader:
        return _count_decompressed(reader, name)


def layer_size_frame(
    source: LayerSizesInput,
    *,
    uncompressed: bool = False,
    layout: OCILayout | None = None,
) -> pd.DataFrame:
    """Return one row per layer of each image: sizes, digests and how many images share it.

    ``source`` is an OCILayout or its path (every runnable image, named by
    ref name and platform), a list of ImageRef, or a dict of name to
    ImageRef, ImageManifest or BuiltImage. With ``uncompressed=True`` each
    distinct layer is decompressed once and its tar bytes counted, which
    reads every layer blob. The blobs come from the layout, from ``layout``
    or from a BuiltImage. Otherwise uncompressed_size is missing.
    """
    named, source_layout = _named_images(source)
    layout = layout or source_layout
    rows: list[dict[str, Any]] = []
    measured: dict[str, int] = {}
    for name, image in named:
        for position, layer in enumerate(_manifest_of(image).layers):
            size = None
            if uncompressed:
                if layer.digest not in measured:
                    measured[layer.digest] = _uncompressed_size(layer, image, layout)
                size = measured[layer.digest]
            rows.append(
                {
                    "image": name,
                    "position": position,
                    "digest": layer.digest,
                    "short_digest": _short(layer.digest),
                    "media_type": layer.media_type,
                    "size": layer.size,
                    "uncompressed_size": size,
                }
            )
    frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
    images_per_digest = frame.groupby("digest")["image"].nunique()
    frame["shared_by"] = frame["digest"].map(images_per_digest).astype("Int64")
    frame["uncompressed_size"] = frame["uncompressed_size"].astype("Int64")
    return frame


def _layer_colours(frame: pd.DataFrame) -> dict[str, Any]:
    """Give each distinct layer digest a colour, in order of first appearance."""
    from matplotlib import colormaps

    # tab20 pairs a strong and a light shade of each hue; the strong shades
    # come first, so that neighbouring layers differ in hue.
    pairs = colormaps["tab20"].colors
    palette = [*pairs[0::2], *pairs[1::2]]
    digests = list(dict.fromkeys(frame["digest"]))
    return {digest: palette[i % len(palette)] for i, digest in enumerate(digests)}


def _draw_segment(
    axes: Axes,
    row: Any,
    y: float,
    width: float,
    left: float,
    height: float,
    colour: Any,
    alpha: float = 1.0,
) -> None:
    shared = row.shared_by > 1
    axes.barh(
        y,
        width,
        left=left,
        height=height,
        color=colour,
        alpha=alpha,
        hatch=SHARED_HATCH if shared else None,
        edgecolor="black" if shared else "white",
        linewidth=0.8,
        gid=row.digest,
    )


def _label_segment(
    axes: Axes, text: str, x: float, y: float, width: float, widest: float
) -> None:
    if widest > 0 and width >= MIN_LABELLED_FRACTION * widest:
        axes.text(
            x, y, text, ha="center", va="center", fontsize="x-small", clip_on=True
        )


def _draw_stacked(
    axes: Axes, frame: pd.DataFrame, names: list[str], colours: dict[str, Any]
) -> None:
    both = frame["uncompressed_size"].notna().any()
    height = 0.38 if both else 0.7
    totals = frame.groupby("image")[["size", "uncompressed_size"]].sum()
    widest = float(totals.max().max()) if not totals.empty else 0.0
    for y, name in enumerate(names):
        layers = frame[frame["image"] == name]
        bars = [("size", y - 0.2 if both else y, 1.0)]
        if both:
            bars.append(("uncompressed_size", y + 0.2, 0.45))
        for column, bar_y, alpha in bars:
            left = 0.0
            for row in layers.itertuples():
                width = float(getattr(row, column))
                colour = colours[row.digest]
                _draw_segment(axes, row, bar_y, width, left, height, colour, alpha)
                _label_segment(
                    axes, row.short_digest, left + width / 2, bar_y, width, widest
                )
                left += width
    axes.set_yticks(range(len(names)), labels=names)


def _draw_grouped(
    axes: Axes, frame: pd.DataFrame, names: list[str], colours: dict[str, Any]
) -> None:
    max_layers = int(frame.groupby("image").size().max()) if not frame.empty else 1
    height = 0.8 / max_layers
    for y, name in enumerate(names):
        layers = frame[frame["image"] == name]
        for row in layers.itertuples():
            bar_y = y - 0.4 + height * (row.position + 0.5)
            _draw_segment(
                axes,
                row,
                bar_y,
                float(row.size),
                0.0,
                height * 0.9,
                colours[row.digest],
            )
            if pd.notna(row.uncompressed_size):
                # The uncompressed size is a thin outline over the compressed bar.
                axes.barh(
                    bar_y,
                    float(row.uncompressed_size),
                    height=height * 0.9,
                    fill=False,
                    edgecolor=colours[row.digest],
                    linestyle="--",
                    gid=f"{row.digest} uncompressed",
                )
            axes.text(
                float(row.size),
                bar_y,
                f" {row.short_digest}",
                ha="left",
                va="center",
                fontsize="x-small",
            )
    axes.set_yticks(range(len(names)), labels=names)


def _legend(
    axes: Axes, frame: pd.DataFrame, colours: dict[str, Any], stacked: bool
) -> None:
    from matplotlib.patches import Patch

    shared = frame[frame["shared_by"] > 1].drop_duplicates("digest")
    handles = [
        Patch(
            facecolor=colours[row.digest],
            hatch=SHARED_HATCH,
            edgecolor="black",
            label=f"{row.short_digest} (shared by {row.shared_by} images)",
        )
        for row in shared.itertuples()
    ]
    if frame["uncompressed_size"].notna().any():
        note = "faded bar: uncompressed" if stacked else "dashed outline: uncompressed"
        handles.append(Patch(facecolor="lightgrey", alpha=0.45, label=note))
    if handles:
        axes.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize="x-small",
        )


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


def _set_size_ticks(axes: Axes, widest: float, max_ticks: int = 8) -> None:
    """Put x ticks at round numbers of one binary unit (KiB, MiB…) and label them so."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    power = 0
    while widest >= 1024 ** (power + 1) and power < len(_UNITS) - 1:
        power += 1
    unit = 1024**power
    step = next(
        (step for step in _STEPS if widest / unit / step <= max_ticks), _STEPS[-1]
    )
    axes.xaxis.set_major_locator(MultipleLocator(step * unit))
    axes.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _: f"{value / unit:g} {_UNITS[power]}")
    )


def plot_layer_sizes(
    source: LayerSizesInput,
    *,
    stacked: bool = True,
    uncompressed: bool = False,
    layout: OCILayout | None = None,
    title: str = "Layer sizes per image",
) -> Figure:
    """Plot each image's layers as horizontal bars, labelled by short digest.

    ``source`` is what :func:`layer_size_frame` takes. With ``stacked``
    (the default) each image is one bar of its layers, lowest layer on the
    left. Otherwise each layer is its own bar within the image's group. A
    layer keeps one colour in every image, and layers that more than one
    image uses are also hatched and listed in the legend. With
    ``uncompressed=True`` the tar sizes are drawn too: a faded bar under the
    stacked one, or a dashed outline in grouped mode. Each bar patch carries
    its layer digest as its gid. Returns the matplotlib Figure.
    """
    from matplotlib.figure import Figure

    frame = layer_size_frame(source, uncompressed=uncompressed, layout=layout)
    names = list(dict.fromkeys(frame["image"]))
    colours = _layer_colours(frame)
    figure = Figure(figsize=(9, 1.5 + 0.6 * max(len(names), 1)), layout="constrained")
    axes = figure.subplots()
    if stacked:
        _draw_stacked(axes, frame, names, colours)
    else:
        _draw_grouped(axes, frame, names, colours)
    axes.invert_yaxis()
    _set_size_ticks(axes, max(axes.get_xlim()[1], 1.0))
    axes.set_xlabel(
        "compressed size" + (" and uncompressed size" if uncompressed else "")
    )
    axes.set_title(title)
    _legend(axes, frame, colours, stacked)
    return figure
