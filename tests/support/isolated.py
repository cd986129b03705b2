"""Code that checks, at the end of an import test run in its own interpreter, where every module
came from: only the standard library and the folders the test allowed (a layer, a package).
"""

from __future__ import annotations

import textwrap


def only_from(folders: list[str]) -> str:
    """Python source to append to a test's code: fails listing any module loaded from elsewhere,
    otherwise prints ``imported``."""
    return textwrap.dedent(
        f"""
        import sys, sysconfig

        roots = tuple(
            folder.rstrip("/") + "/"
            for folder in (sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"), *{folders!r})
        )
        outside = sorted(
            name
            for name, module in list(sys.modules.items())
            if getattr(module, "__file__", None) and not module.__file__.startswith(roots)
        )
        assert not outside, outside
        print("imported")
        """
    )
