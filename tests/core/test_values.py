"""`core.values`: the one place where integers, times, text, base64 and hex from outside are checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldstation.core import values
from fieldstation.core.values import MAX_TIME_US, BadValue


@pytest.mark.parametrize(
    "text", ["²", "٣", "𝟙", "--5", "-", "+5", " 5", "5 ", "1_000", "0x10", "1e3", "", "5\n", "9" * 20]
)
def test_integers_are_ascii_digits_only(text: str) -> None:
    with pytest.raises(BadValue, match="ASCII digits"):
        values.integer(text, "n")


def test_integers_in_range() -> None:
    assert values.integer("0", "n") == 0
    assert values.integer("-5", "n", minimum=-10) == -5
    with pytest.raises(BadValue, match="ASCII digits"):
        values.integer("-5", "n")  # no sign where negatives make no sense
    with pytest.raises(BadValue, match="between 1 and 100, got 101"):
        values.integer("101", "n", minimum=1, maximum=100)


@given(st.integers(min_value=0, max_value=values.INT64_MAX))
def test_every_int64_round_trips(number: int) -> None:
    assert values.integer(str(number), "n") == number


@given(st.text(max_size=25))
def test_anything_is_an_integer_or_refused(text: str) -> None:
    try:
        number = values.integer(text, "n")
    except BadValue:
        return
    assert text.isascii() and 0 <= number <= values.INT64_MAX


def test_within_refuses_booleans_floats_and_out_of_range() -> None:
    for value in (True, 1.0, "1", None):
        with pytest.raises(BadValue, match="must be an integer"):
            values.within(value, "n")  # type: ignore[arg-type]
    with pytest.raises(BadValue, match="between 0 and"):
        values.within(2**64, "n")


def test_times_between_1970_and_9999() -> None:
    assert values.time_us(0, "t") == 0
    assert values.time_us(MAX_TIME_US, "t") == MAX_TIME_US
    with pytest.raises(BadValue, match="got 1969-12-31T23:59:59Z"):
        values.time_us(-1_000_000, "t")
    with pytest.raises(BadValue, match="microseconds from the epoch"):
        values.time_us(MAX_TIME_US + 1, "t")


@pytest.mark.parametrize("text", ["a\x00b", "line\nbreak", "\x1b[31mred", "tab\there", "a\u2028b", "\x7f"])
def test_one_line_text_refuses_control_characters(text: str) -> None:
    with pytest.raises(BadValue, match="control characters"):
        values.text(text, "name", max_length=100)


def test_free_text_keeps_line_breaks_but_not_nul() -> None:
    assert values.clean_text("two\nlines\ttabbed", "note") == "two\nlines\ttabbed"
    with pytest.raises(BadValue):
        values.clean_text("nul\x00", "note")


def test_text_length_and_emptiness() -> None:
    assert values.text("Éléphant 🐘", "name", max_length=20) == "Éléphant 🐘"
    with pytest.raises(BadValue, match="at most 3"):
        values.text("four", "name", max_length=3)
    with pytest.raises(BadValue, match="empty"):
        values.text("  ", "name", max_length=3)
    assert values.text("", "name", max_length=3, allow_empty=True) == ""


@pytest.mark.parametrize("text", ["AQÉ=", "٣٣٣٣", "AQ==\x00"])
def test_base64_of_non_ascii_or_junk_is_refused(text: str) -> None:
    with pytest.raises(BadValue, match="base64"):
        values.base64_bytes(text, "data")


def test_hex_of_non_ascii_is_refused() -> None:
    assert values.hex_bytes("0aFF", "payload") == b"\x0a\xff"
    for text in ("0é", "٠١", "zz"):
        with pytest.raises(BadValue, match="hexadecimal"):
            values.hex_bytes(text, "payload")
