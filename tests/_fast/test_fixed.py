"""Exact decimal text <-> int64 fixed point (tradecore._fast.fixed): parse_units and format_units
are exact inverses over the whole int64 range at every scale 0..18, and every bad text is a
ValueError that says what is wrong with it."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore._fast.fixed import FixedStatus, format_units, parse_units, status_text

INT64_MAX = 2**63 - 1

units = st.integers(0, INT64_MAX)
small_units = st.integers(0, 10**6)
decimals = st.integers(0, 18)
examples = settings(max_examples=500, deadline=None)


def exact_text(u: int, d: int) -> str:
    """u * 10**-d written with exactly d decimals (no exponent), by Decimal."""
    return format(Decimal(u).scaleb(-d), "f")


def trimmed(text: str) -> str:
    """Trailing zeros of the fraction and a bare point dropped; the integer part untouched."""
    return text.rstrip("0").rstrip(".") if "." in text else text


# -------------------------------------------------------------------------------------------------
# round trips

@examples
@given(u=units, d=decimals)
def test_format_units_when_given_any_int64_writes_exactly_d_decimals_and_parses_back(u, d):
    text = format_units(u, d)
    assert text == exact_text(u, d)
    assert parse_units(text, d) == u
    assert parse_units(text.encode(), d) == u


@examples
@given(u=units, d=decimals)
def test_format_units_when_trim_drops_trailing_zeros_and_point_and_still_parses_back(u, d):
    text = format_units(u, d, trim=True)
    assert text == trimmed(exact_text(u, d))
    if "." in text:
        assert not text.endswith("0") and not text.endswith(".")
    assert parse_units(text, d) == u
    assert Decimal(text) == Decimal(u).scaleb(-d)


@examples
@given(data=st.data(), d=decimals)
def test_parse_units_when_given_a_decimal_with_at_most_d_places_returns_its_exact_units(data, d):
    top = Decimal(INT64_MAX).scaleb(-d)
    value = data.draw(st.decimals(min_value=0, max_value=top, places=d, allow_nan=False,
                                  allow_infinity=False))
    text = format(value, "f")
    u = parse_units(text, d)
    assert u == int(value.scaleb(d))
    assert format_units(u, d, trim=True) == trimmed(format(value.quantize(Decimal(1).scaleb(-d)),
                                                           "f"))


@examples
@given(u=units, d=decimals, lead=st.integers(0, 6), pad=st.integers(0, 12))
def test_parse_units_when_text_has_leading_zeros_or_zeros_beyond_the_scale_ignores_them(
        u, d, lead, pad):
    text = "0" * lead + format_units(u, d)
    if pad:
        text += ("" if "." in text else ".") + "0" * pad
    assert parse_units(text, d) == u


@examples
@given(u=small_units, k=decimals, extra=st.integers(0, 12))
def test_parse_units_when_text_has_fewer_decimals_than_the_scale_scales_it_up(u, k, extra):
    d = min(18, k + extra)
    assert parse_units(format_units(u, k), d) == u * 10 ** (d - k)


@pytest.mark.parametrize("text,d,want", [
    ("61837.63000000", 2, 6183763), ("0", 8, 0), ("0.0", 0, 0), ("1", 0, 1), ("1.5", 3, 1500),
    ("0.00000001", 8, 1), ("007.50", 2, 750), ("9223372036854775807", 0, INT64_MAX),
    ("9.223372036854775807", 18, INT64_MAX), ("922337203685477580.7", 1, INT64_MAX),
    ("922337203685477580", 1, 9223372036854775800),
])
def test_parse_units_when_text_is_a_plain_decimal_returns_exact_units(text, d, want):
    assert parse_units(text, d) == want
    assert parse_units(text.encode(), d) == want


@pytest.mark.parametrize("u,d,trim,want", [
    (3024940, 2, True, "30249.4"), (4000, 3, True, "4"), (0, 8, True, "0"), (0, 8, False,
                                                                              "0.00000000"),
    (1000, 0, True, "1000"), (10, 1, True, "1"), (5, 18, False, "0.000000000000000005"),
    (6183763, 2, False, "61837.63"), (1, 0, False, "1"),
])
def test_format_units_when_given_examples_writes_the_expected_text(u, d, trim, want):
    assert format_units(u, d, trim=trim) == want


# -------------------------------------------------------------------------------------------------
# negative units (format only: parse rejects a minus sign)

@examples
@given(u=st.integers(1, INT64_MAX), d=decimals, trim=st.booleans())
def test_format_units_when_units_are_negative_writes_a_minus_and_the_magnitude(u, d, trim):
    assert format_units(-u, d, trim=trim) == "-" + format_units(u, d, trim=trim)


@pytest.mark.parametrize("d", [0, 18])
def test_format_units_when_units_are_int64_min_writes_its_digits(d):
    # -INT64_MIN does not fit an int64: negating it first leaves it negative
    assert format_units(-(2**63), d) == "-" + exact_text(2**63, d)


# -------------------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "1e5", "1E5", "5e-3", " 1", "1 ", "1,5",
                                  ".", "+", "-", "nan", "inf", "0x10", "1_000", "1\x00",
                                  "١", "１", "1-", "..1"], ids=repr)
def test_parse_units_when_text_is_not_a_plain_decimal_raises_saying_so(text):
    for t in (text, text.encode()):
        with pytest.raises(ValueError, match="is not a plain decimal number") as info:
            parse_units(t, 8)
        assert repr(t) in str(info.value)


@pytest.mark.parametrize("text", ["-1", "-0.5", "-0", "-00.000", "-9223372036854775808"])
def test_parse_units_when_text_is_negative_raises_saying_so(text):
    with pytest.raises(ValueError, match="is negative"):
        parse_units(text, 8)


@pytest.mark.parametrize("text,d", [("1.234", 2), ("0.000000001", 8), ("1.5", 0),
                                    ("1.2301", 2), ("0.0000000000000000001", 18)])
def test_parse_units_when_text_has_more_significant_decimals_than_the_scale_raises(text, d):
    with pytest.raises(ValueError, match="has more decimals") as info:
        parse_units(text, d)
    assert f"1e-{d}" in str(info.value)


@examples
@given(u=units.filter(lambda u: u % 10), d=st.integers(0, 17))
def test_parse_units_when_last_decimal_is_beyond_the_scale_raises(u, d):
    with pytest.raises(ValueError, match="has more decimals"):
        parse_units(format_units(u, d + 1), d)


@pytest.mark.parametrize("text,d", [
    ("9223372036854775808", 0), ("99999999999999999999", 0), ("18446744073709551616", 0),
    ("9.223372036854775808", 18), ("10", 18), ("922337203685477580.8", 1),
    ("922337203685477581", 1), ("92233720368547758.08", 2),
])
def test_parse_units_when_value_does_not_fit_int64_at_the_scale_raises(text, d):
    with pytest.raises(ValueError, match="too large"):
        parse_units(text, d)


@given(d=decimals)
def test_parse_units_when_value_is_int64_max_plus_one_unit_raises_at_every_scale(d):
    with pytest.raises(ValueError, match="too large"):
        parse_units(exact_text(2**63, d), d)
    assert parse_units(exact_text(INT64_MAX, d), d) == INT64_MAX


@pytest.mark.parametrize("d", [-1, 19, 100])
def test_parse_and_format_when_decimals_outside_0_to_18_raise(d):
    with pytest.raises(ValueError, match="decimals"):
        parse_units("1", d)
    with pytest.raises(ValueError, match="decimals"):
        format_units(1, d)


def test_status_text_when_given_each_status_names_it():
    assert status_text(FixedStatus.FIXED_OK) == "is valid"
    assert status_text(FixedStatus.FIXED_SYNTAX) == "is not a plain decimal number"
    assert "more decimals" in status_text(FixedStatus.FIXED_TOO_PRECISE)
    assert "too large" in status_text(FixedStatus.FIXED_OVERFLOW)
    assert status_text(FixedStatus.FIXED_NEGATIVE) == "is negative"
