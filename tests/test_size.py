"""No room of the package grows past 800 lines: a module past ~500 lines needs a
reason, and past 800 it is two modules.

The shared conformance suite is the one exception: it is a list of
independent checks every backend runs, read one check at a time.
"""

from __future__ import annotations

from pathlib import Path

import engramdb

LIMIT = 800
EXCEPTIONS = {"testing/conformance.py"}
PACKAGE = Path(engramdb.__file__).parent


def test_no_module_is_over_800_lines() -> None:
    sizes = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert sizes, "no modules found"
    over = {name: n for name, n in sorted(sizes.items()) if n > LIMIT and name not in EXCEPTIONS}
    assert over == {}, f"modules over {LIMIT} lines: {over}"
