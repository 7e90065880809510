"""A duet's ratio over its run as an inline SVG: per time block in which both sides ran,
the candidate/baseline ratio of p50, with the zero line and the practical threshold, so a
reader sees whether the difference held throughout the run or came from one stretch."""

from html import escape

WIDTH, HEIGHT, PAD = 420, 150, 34
COLOUR = "#e4572e"


def _guides(threshold: float) -> list[tuple[float, str, str]]:
    """(value, colour, dash) of the zero line and the threshold's two lines."""
    return [(0.0, "#888", "0"), (threshold, "#bbb", "4"), (-threshold, "#bbb", "4")]


def svg(ratios: list[float], title: str, threshold: float) -> str:
    if not ratios:
        return ""
    top = max(max(abs(r) for r in ratios), threshold) * 1.2 or 0.1
    step = (WIDTH - 2 * PAD) / max(len(ratios) - 1, 1)

    def y(value: float) -> float:
        return HEIGHT / 2 - value / top * (HEIGHT / 2 - PAD / 2)

    points = " ".join(f"{PAD + i * step:.1f},{y(r):.1f}" for i, r in enumerate(ratios))
    guides = "".join(
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
        f'stroke="{colour}" stroke-dasharray="{dash}"/>'
        f'<text x="2" y="{y(v) + 4:.1f}" font-size="10">{v:+.0%}</text>'
        for v, colour, dash in (
            (0.0, "#888", "0"),
            (threshold, "#bbb", "4"),
            (-threshold, "#bbb", "4"),
        )
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img"><title>{escape(title)}: candidate/baseline p50, block by block</title>'
        f'<text x="{PAD}" y="12" font-size="12">{escape(title)}: Δp50 per time block</text>'
        f'{guides}<polyline fill="none" stroke="{COLOUR}" stroke-width="2" points="{points}"/>'
        "</svg>"
    )
