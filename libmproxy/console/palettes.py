"""The console's colour palettes (``--palette NAME``, ``--palette-transparent``).

Every screen draws with the attribute names of ``ATTRIBUTES`` (0.18's names, so views and
palettes agree without knowing each other). A palette gives each name a 16-colour pair and
may give a 256-colour pair on top; the "low" palettes keep to 16 colours for terminals
that draw the others badly.

Rules of this file:

- Every name used anywhere in the console is in ATTRIBUTES, and every palette colours
  every name (test_window checks both).
- What the user must tell apart has its own background in every palette: the focused
  grid cell (``focusfield``), the cell being edited (``editfield``, the spec: "The
  background color will change to show that you are in edit mode"), search matches
  (``search_match``), the selected option.
- Transparent: where the palette would paint its own background, the terminal's shows
  through; the backgrounds that mark something (those above, the header) stay.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["ATTRIBUTES", "DEFAULT", "Palette", "PALETTES", "get"]

DEFAULT = "dark"

# Every attribute name a console widget may use.
ATTRIBUTES = (
    "background", "title",
    # the header and status bars
    "heading", "heading_key", "heading_inactive",
    # help screens and key/value tables
    "key", "value", "head", "text",
    # the flow list and flow view
    "method", "focus", "code_200", "code_300", "code_400", "code_500", "code_other",
    "error", "warn", "debug", "header", "highlight", "intercept", "replay", "mark",
    "offset", "search_match",
    # prompts
    "prompt", "prompt_error",
    # the grid editor
    "focusfield", "focusfield_error", "field_error", "editfield",
    # the options screen
    "option_selected", "option_selected_key", "option_active", "option_active_selected",
)


class Colours(NamedTuple):
    """Foreground and background (urwid colour names or ``#rgb``)."""

    fg: str
    bg: str


class Palette(NamedTuple):
    """16-colour pairs for every attribute, and 256-colour pairs for some."""

    low: dict[str, Colours]
    high: dict[str, Colours]

    def entries(self, transparent: bool = False) -> list[tuple[str, str, str, None, str, str]]:
        """The palette as urwid's MainLoop takes it."""
        out = []
        low_back = self.low["background"].bg
        high_back = self.high.get("background", self.low["background"]).bg
        for name in ATTRIBUTES:
            low = self.low[name]
            high = self.high.get(name, low)
            low_bg, high_bg = low.bg, high.bg
            if transparent:
                low_bg = "default" if low_bg == low_back else low_bg
                high_bg = "default" if high_bg == high_back else high_bg
            out.append((name, low.fg, low_bg, None, high.fg, high_bg))
        return out


def _pairs(**pairs: tuple[str, str]) -> dict[str, Colours]:
    return {name: Colours(*pair) for name, pair in pairs.items()}


_DARK = _pairs(
    background=("light gray", "default"), title=("white,bold", "default"),
    heading=("white", "dark blue"), heading_key=("light cyan", "dark blue"),
    heading_inactive=("dark gray", "light gray"),
    key=("light cyan", "default"), value=("light gray", "default"),
    head=("white,bold", "default"), text=("light gray", "default"),
    method=("dark cyan", "default"), focus=("yellow", "default"),
    code_200=("dark green", "default"), code_300=("light blue", "default"),
    code_400=("light red", "default"), code_500=("light red", "default"),
    code_other=("dark red", "default"),
    error=("light red", "default"), warn=("yellow", "default"), debug=("dark gray", "default"),
    header=("dark cyan", "default"), highlight=("white,bold", "default"),
    intercept=("brown", "default"), replay=("light green", "default"),
    mark=("light red", "default"), offset=("dark cyan", "default"),
    prompt=("white,bold", "default"), prompt_error=("light red", "default"),
    focusfield=("black", "light gray"), focusfield_error=("dark red", "light gray"),
    field_error=("dark red", "default"), editfield=("white", "dark cyan"),
    search_match=("black", "brown"),
    option_selected=("black", "light gray"), option_selected_key=("dark blue", "light gray"),
    option_active=("light red", "default"), option_active_selected=("light red", "light gray"),
)
_DARK_HIGH = _pairs(intercept=("#f60", "default"), option_active=("#f60", "default"),
                    option_active_selected=("#f60", "light gray"),
                    search_match=("black", "#fb0"))

_LIGHT = dict(_DARK, **_pairs(
    background=("black", "default"), title=("black,bold", "default"),
    heading=("white", "black"), heading_key=("dark blue", "black"),
    key=("dark blue", "default"), value=("black", "default"),
    head=("black,bold", "default"), text=("dark gray", "default"),
    method=("dark blue", "default"), focus=("black,bold", "default"),
    code_300=("dark blue", "default"), code_400=("dark red", "default"),
    code_500=("dark red", "default"), error=("dark red", "default"),
    warn=("brown", "default"), debug=("dark gray", "default"),
    header=("dark blue", "default"), highlight=("black,bold", "default"),
    replay=("dark green", "default"), mark=("dark red", "default"),
    offset=("dark blue", "default"), prompt=("black,bold", "default"),
    prompt_error=("dark red", "default"), editfield=("white", "dark blue"),
    focusfield=("white", "dark gray"), option_active=("dark red", "default"),
    search_match=("black", "brown"),
))
_LIGHT_HIGH = _pairs(intercept=("#f60", "default"), option_active=("#f60", "default"),
                     search_match=("black", "#fd6"))

# Solarized (Ethan Schoonover's 16 colours) on 256-colour terminals.
_SOL = dict(base03="#023", base02="#033", base01="#586", base00="#677",
            base0="#899", base1="#9aa", base2="#eed", base3="#ffe", yellow="#b80",
            orange="#c42", red="#d33", magenta="#d38", violet="#67c", blue="#28d",
            cyan="#2a9", green="#890")


def _solarized(bg: str, fg: str, emphasis: str, highlight: str) -> dict[str, Colours]:
    s = _SOL
    return _pairs(
        background=(s[fg], s[bg]), title=(s[emphasis], s[bg]),
        heading=(s[bg], s[fg]), heading_key=(s["blue"], s[fg]),
        heading_inactive=(s[fg], s[highlight]),
        key=(s["blue"], s[bg]), value=(s[fg], s[bg]), head=(s[emphasis], s[bg]),
        text=(s[fg], s[bg]), method=(s["cyan"], s[bg]), focus=(s[emphasis], s[bg]),
        code_200=(s["green"], s[bg]), code_300=(s["blue"], s[bg]),
        code_400=(s["orange"], s[bg]), code_500=(s["red"], s[bg]),
        code_other=(s["magenta"], s[bg]), error=(s["red"], s[bg]),
        warn=(s["yellow"], s[bg]), debug=(s["base01"], s[bg]), header=(s["blue"], s[bg]),
        highlight=(s[emphasis], s[bg]), intercept=(s["orange"], s[bg]),
        replay=(s["green"], s[bg]), mark=(s["red"], s[bg]), offset=(s["cyan"], s[bg]),
        prompt=(s[emphasis], s[bg]), prompt_error=(s["red"], s[bg]),
        focusfield=(s[bg], s[fg]), focusfield_error=(s["red"], s[fg]),
        field_error=(s["red"], s[bg]), editfield=(s[bg], s["cyan"]),
        search_match=(s[bg], s["yellow"]),
        option_selected=(s[bg], s[fg]), option_selected_key=(s["blue"], s[fg]),
        option_active=(s["orange"], s[bg]), option_active_selected=(s["orange"], s[fg]),
    )


PALETTES: dict[str, Palette] = {
    "dark": Palette(_DARK, _DARK_HIGH),
    "light": Palette(_LIGHT, _LIGHT_HIGH),
    "lowdark": Palette(_DARK, {}),
    "lowlight": Palette(_LIGHT, {}),
    "solarized_dark": Palette(_DARK, _solarized("base03", "base0", "base1", "base02")),
    "solarized_light": Palette(_LIGHT, _solarized("base3", "base00", "base01", "base2")),
}


def get(name: str) -> Palette:
    """The palette called ``name``; ValueError naming the choices for another name."""
    try:
        return PALETTES[name]
    except KeyError:
        raise ValueError(f"unknown palette {name!r}: choose one of "
                         f"{', '.join(sorted(PALETTES))}") from None
