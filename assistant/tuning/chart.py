"""An accuracy-vs-speed scatter chart as a self-contained SVG (no plotting library).

One point per candidate: x = throughput (prompt + answer tokens per second, higher is
cheaper), y = accuracy on the eval set. Up and to the right is better.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from assistant.tuning.runner import EvalRun

WIDTH, HEIGHT = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 30, 50, 60
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]


def _nice_max(value: float) -> float:
    """A round axis end at or above ``value``."""
    if value <= 0:
        return 1.0
    step = 10 ** len(str(int(value))) / 10
    for mult in (1, 2, 2.5, 5, 10):
        if step * mult >= value:
            return step * mult
    return value


def render_svg(run: EvalRun) -> str:
    """The chart of ``run`` as SVG text."""
    points = [{"label": f"{r.label} ({r.accuracy * 100:.0f}%, {r.peak_rss_mb:.0f} MB)", "x": r.throughput_tok_s,
               "y": r.accuracy} for r in run.reports if not r.error]
    return scatter_svg(f"{run.skill}: accuracy vs speed ({run.items} eval items)", points,
                       "throughput, tokens/s (prompt + answer; higher is cheaper)", "accuracy")


def scatter_svg(title: str, points: list[dict], x_label: str, y_label: str) -> str:
    """A scatter of ``points`` ({label, x, y in 0..1, optional low/high interval}) as SVG text."""
    x_max = _nice_max(max((p["x"] for p in points), default=1.0) * 1.1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + plot_w * x / x_max

    def py(acc: float) -> float:
        return TOP + plot_h * (1 - acc)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    for i in range(6):  # horizontal grid every 20 %
        acc = i / 5
        out.append(f'<line x1="{LEFT}" y1="{py(acc):.1f}" x2="{WIDTH - RIGHT}" y2="{py(acc):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{py(acc) + 4:.1f}" text-anchor="end">{acc * 100:.0f}%</text>')
    for i in range(6):
        x = x_max * i / 5
        out.append(f'<line x1="{px(x):.1f}" y1="{TOP}" x2="{px(x):.1f}" y2="{TOP + plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{x:.{0 if x_max >= 10 else 1}f}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 16}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(18 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>')
    for i, p in enumerate(points):
        color = COLORS[i % len(COLORS)]
        x, y = px(p["x"]), py(p["y"])
        if p.get("low") is not None and p.get("high") is not None:
            out.append(f'<line x1="{x:.1f}" y1="{py(p["low"]):.1f}" x2="{x:.1f}" y2="{py(p["high"]):.1f}" stroke="{color}" stroke-width="2"/>')
        anchor = "end" if x > LEFT + plot_w * 0.7 else "start"
        dx = -10 if anchor == "end" else 10
        label = escape(p["label"])
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{color}" fill-opacity="0.85"><title>{label}</title></circle>')
        out.append(f'<text x="{x + dx:.1f}" y="{y - 10:.1f}" text-anchor="{anchor}" fill="{color}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_chart(run: EvalRun, path: Path) -> Path:
    """Write the chart of ``run`` to ``path`` (SVG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_svg(run), encoding="utf-8")
    return path
