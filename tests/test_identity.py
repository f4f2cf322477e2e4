import pytest

from db.customers.identity import InvalidIdentity, mask_mobile, normalise_email, normalise_mobile
from db.orders.ingest import format_fen, parse_money
from web.core.security import masked_query


@pytest.mark.parametrize("raw", ["13812345678", "138 1234 5678", "+86 138-1234-5678", "008613812345678"])
def test_mobiles_are_normalised_to_e164(raw):
    assert normalise_mobile(raw) == "+8613812345678"


@pytest.mark.parametrize("raw", ["123", "1381234567", "abcdefghijk", "010-12345678", "+86 138123456789"])
def test_malformed_mobiles_are_refused(raw):
    with pytest.raises(InvalidIdentity):
        normalise_mobile(raw)


def test_emails_are_validated_and_lowercased():
    assert normalise_email(" Wang.Fang@QQ.com ") == "wang.fang@qq.com"
    for bad in ("wang", "wang@", "@qq.com", "a b@qq.com"):
        with pytest.raises(InvalidIdentity):
            normalise_email(bad)


def test_mobiles_are_masked():
    assert mask_mobile("+8613812345678") == "138****5678"


@pytest.mark.parametrize("raw, fen", [("199.00", 19900), ("199", 19900), ("1,299.50", 129950),
                                      ("¥0.01", 1), (199, 19900), ("１９９．００", 19900)])
def test_money_is_parsed_to_integer_fen(raw, fen):
    assert parse_money(raw) == fen


@pytest.mark.parametrize("raw", [199.5, "19.999", "-1", "abc", None, True, "NaN", "Infinity", "1e3"])
def test_bad_money_is_refused(raw):
    with pytest.raises(ValueError):
        parse_money(raw)


def test_fen_formats_exactly():
    assert format_fen(19990) == "199.90" and format_fen(5) == "0.05"


def test_personal_data_is_masked_in_logged_query_strings():
    logged = masked_query("q=13812345678&tag=3&email=wang@qq.com&before=123456")
    assert "13812345678" not in logged and "wang@qq.com" not in logged
    assert "tag=3" in logged
