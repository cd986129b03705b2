"""Hypothesis strategies the suites share: valid ids, and the hostile text that once broke a parser.

Each hostile strategy draws at least one hostile character in every example, so a single
example finds the bug it targets when it is there.
"""

from __future__ import annotations

from hypothesis import strategies as st

#: The id alphabet of the contract, a few of each class: letters, digits, ``_ - . @``.
ID_CHARS = "ABCXYZabcxyz0189_-.@"

#: Valid ids: 1 to 128 characters of :data:`ID_CHARS`, not starting with ``.``.
valid_ids = st.text(alphabet=ID_CHARS, min_size=1, max_size=128).filter(lambda s: not s.startswith("."))

#: Characters for which ``str.isdigit()`` is true but that are not ASCII: decimal digits of
#: every script (Nd: Arabic-Indic, Devanagari, fullwidth, mathematical, ...) and digit-like
#: No characters (superscripts, circled digits), which ``int()`` refuses.
unicode_digits = st.characters(categories=["Nd", "No"]).filter(lambda c: c.isdigit() and not c.isascii())
ascii_digits = st.text(alphabet="0123456789", max_size=4)
#: Text that ``str.isdigit()`` accepts and that holds at least one digit of another script.
unicode_numbers = st.builds(
    lambda a, u, b: a + u + b, ascii_digits, st.text(unicode_digits, min_size=1, max_size=3), ascii_digits
)

#: One UTF-16 surrogate code point, alone: no UTF-8 encoder, orjson or BSON writes it.
lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
#: Short text without any surrogate.
plain_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)
#: Text holding exactly one lone surrogate, anywhere.
hostile_strings = st.builds(lambda a, s, b: a + s + b, plain_text, lone_surrogates, plain_text)
