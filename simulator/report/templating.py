"""The pages' template environment: jinja2 with autoescape, so no value a scenario or a peer
put in a history (a name, an ERROR's text, a known-gap description) can become markup.

Templates live in `report/templates/` (package data). Undefined names fail loudly: a template
that names a value the code does not pass is a bug, not an empty cell.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("simulator.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
