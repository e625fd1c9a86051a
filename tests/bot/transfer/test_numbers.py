"""Money cells: forms, decimal marks, currencies, signs, and the evidence a cell gives."""

from __future__ import annotations

import pytest

from bot.transfer.numbers import MoneyReader, classify_decimal
from bot.transfer.problems import RowError


@pytest.mark.parametrize(("text", "decimal", "currency", "minor"), [
    ("12000", ".", "USD", 1_200_000),
    ("12000.5", ".", "USD", 1_200_050),
    ("12,000.50", ".", "USD", 1_200_050),
    ("$12,000.50", ".", "USD", 1_200_050),
    ("US$ 1,000", ".", "USD", 100_000),
    ("12000 USD", ".", "USD", 1_200_000),
    ("usd12000", ".", "USD", 1_200_000),
    ("12k", ".", "USD", 1_200_000),
    ("1.5m", ".", "USD", 150_000_000),
    ("12.000,50", ",", "EUR", 1_200_050),
    ("12 000,50 €", ",", "EUR", 1_200_050),
    ("€12.000", ",", "EUR", 1_200_000),
    ("12\u00a0000 kr", ",", "NOK", 1_200_000),
    ("1'234.50", ".", "CHF", 123_450),
    ("12000", ".", "JPY", 12_000),
    ("¥12,000", ".", "JPY", 12_000),
    ("12000.00", ".", "JPY", 12_000),
    ("0", ".", "USD", 0),
])
def test_money(text, decimal, currency, minor):
    assert MoneyReader.for_currency(currency, decimal).read(text, "amount") == minor


@pytest.mark.parametrize(("text", "minor"), [("-200", -20_000), ("(200.00)", -20_000),
                                             ("-$1,200", -120_000), ("$-5", -500)])
def test_signed_money(text, minor):
    reader = MoneyReader.for_currency("USD")
    assert reader.read(text, "amount", signed=True) == minor
    with pytest.raises(RowError, match="must not be negative"):
        reader.read(text, "amount")


@pytest.mark.parametrize(("text", "currency", "message"), [
    ("12,00,0", "USD", 'amount "12,00,0" is not a number'),
    ("12.5.3", "USD", 'amount "12.5.3" is not a number'),
    ("abc", "USD", 'amount "abc" is not a number'),
    ("12000 EUR", "USD", 'amount "12000 EUR" is in EUR; this workspace counts in USD'),
    ("€12000", "USD", 'amount "€12000" is in € (EUR); this workspace counts in USD'),
    ("$12000", "NOK", 'amount "$12000" is in $ ('),
    ("12.345", "USD", 'amount "12.345" has more decimals than USD has (2)'),
    ("12.5", "JPY", 'amount "12.5" has more decimals than JPY has (0)'),
    ("9999999999999", "USD", 'amount "9999999999999" is too large'),
])
def test_bad_money(text, currency, message):
    with pytest.raises(RowError) as error:
        MoneyReader.for_currency(currency).read(text, "amount")
    assert str(error.value).startswith(message)


def test_decimal_evidence():
    cells = ("12000", "12000.50", "1,234.5", "12,5", "1.234,56", "12.000", "12,000",
             "1.234.567", "1,234,567")
    assert [classify_decimal(c) for c in cells] == [
        None, "dot", "dot", "comma", "comma", "ambiguous-dot", "ambiguous-comma", "comma",
        "dot"]
