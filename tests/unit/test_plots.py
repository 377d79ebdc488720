"""lsecflow.plots.cell_points: from IMAGE_FROM points a scatter is one image with the markers' colours where the
points are, the later point on top, values through the colour map with NaN left blank, in every format."""
from __future__ import annotations

import numpy as np
import pytest
from lsecflow import plots


def _screen(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3] / 255.0


def _near(screen, ax, x, y, colour, tol=0.02) -> bool:
    """Whether ``colour`` is on screen within a pixel of data point (x, y)."""
    px, py = ax.transData.transform((x, y))
    row, col = int(round(screen.shape[0] - py)), int(round(px))
    patch = screen[row - 1:row + 2, col - 1:col + 2].reshape(-1, 3)
    return bool((np.abs(patch - np.asarray(colour)[:3]).max(axis=1) < tol).any())


@pytest.fixture
def small_image_from(monkeypatch):
    monkeypatch.setattr(plots, "IMAGE_FROM", 50)


def test_groups_are_drawn_as_one_image_later_points_on_top(small_image_from):
    """SYNTHETIC: 300 points in three groups (red, green, blue, drawn in that order), then apart from them a red
    point and a black one on top of it: the axes hold one image and no markers, each group's colour is on screen
    at its points, and the shared pixels show the later point, as markers would."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 8.0]])
    xy = np.vstack([c + rng.normal(scale=0.5, size=(100, 2)) for c in centres])
    colours = np.repeat([[1, 0, 0, 1], [0, 0.5, 0, 1], [0, 0, 1, 1]], 100, axis=0).astype(float)
    xy = np.vstack([xy, [[5.0, -4.0], [5.0, -4.0]]])
    colours = np.vstack([colours, [1, 0, 0, 1], [0, 0, 0, 1]])
    fig, ax = plots.plt.subplots(figsize=(4, 4), dpi=plots.DPI)
    assert plots.cell_points(ax, xy[:, 0], xy[:, 1], colours, s=1) is None
    assert len(ax.images) == 1 and len(ax.collections) == 0
    screen = _screen(fig)
    for i in (0, 150, 250):
        assert _near(screen, ax, *xy[i], colours[i]), i
    assert _near(screen, ax, 5.0, -4.0, (0, 0, 0)) and not _near(screen, ax, 5.0, -4.0, (1, 0, 0), tol=0.1)
    plots.plt.close(fig)


def test_values_use_the_colour_map_and_leave_nan_blank(small_image_from, tmp_path, monkeypatch):
    """Values coloured by viridis over their range (the returned mappable takes a colorbar), a NaN value not
    drawn; saved as PNG, SVG (embedded images, not a path per point) and PDF."""
    monkeypatch.setattr(plots, "FORMATS", ["png", "svg", "pdf"])
    x = np.linspace(0, 10, 200)
    values = np.linspace(-1, 3, 200)
    values[100] = np.nan
    fig, ax = plots.plt.subplots(figsize=(6, 2), dpi=plots.DPI)
    mappable = plots.cell_points(ax, x, np.zeros_like(x), values, "viridis", s=1)
    assert (mappable.norm.vmin, mappable.norm.vmax) == (-1.0, 3.0)
    plots.plt.colorbar(mappable, ax=ax)
    screen = _screen(fig)
    viridis = plots.plt.get_cmap("viridis")
    for i in (0, 199):
        assert _near(screen, ax, x[i], 0.0, viridis(mappable.norm(values[i]))), i
    assert _near(screen, ax, x[100], 0.0, (1, 1, 1))  # blank: the white background
    written = plots.save(fig, tmp_path / "values")
    assert sorted(p.suffix for p in written) == [".pdf", ".png", ".svg"]
    svg = (tmp_path / "values.svg").read_text()
    assert svg.count("<image") == 2 and svg.count("<path") < 100  # the points and the colorbar: images


def test_below_image_from_the_points_stay_markers():
    fig, ax = plots.plt.subplots()
    drawn = plots.cell_points(ax, [0.0, 1.0], [0.0, 1.0], [[1, 0, 0, 1], [0, 0, 1, 1]], s=4)
    assert len(ax.collections) == 1 and drawn is ax.collections[0] and not ax.images
    plots.plt.close(fig)
