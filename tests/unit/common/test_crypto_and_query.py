import time
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rabota_common.b24_client import build_query, encode_command, quote_value
from rabota_common.crypto import SESSION, Crypto, TokenError


def test_encrypt_round_trip_and_ciphertext_hides_value():
    crypto = Crypto("k1")
    sealed = crypto.encrypt("secret-token-value")
    assert "secret-token-value" not in sealed
    assert crypto.decrypt(sealed) == "secret-token-value"
    with pytest.raises(TokenError):
        Crypto("other").decrypt(sealed)


def test_signed_tokens_reject_forgery_and_expiry(monkeypatch):
    crypto = Crypto("k1")
    token = crypto.sign({"p": "portal"}, ttl_s=60, purpose=SESSION)
    assert crypto.verify(token, purpose=SESSION)["p"] == "portal"
    raw, mac = token.split(".")
    with pytest.raises(TokenError):
        crypto.verify(raw + "." + mac[:-2] + "AA", purpose=SESSION)
    with pytest.raises(TokenError):
        Crypto("k2").verify(token, purpose=SESSION)
    with pytest.raises(TokenError):
        crypto.verify("garbage", purpose=SESSION)
    expired = crypto.sign({"p": "x"}, ttl_s=-1, purpose=SESSION)
    with pytest.raises(TokenError):
        crypto.verify(expired, purpose=SESSION)
    assert time.time() > 0


def test_php_style_query():
    pairs = build_query({"fields": {"TITLE": "A&B", "PHONE": [{"VALUE": "+375", "VALUE_TYPE": "MOBILE"}]},
                         "flag": True})
    assert ("fields[TITLE]", "A&B") in pairs
    assert ("fields[PHONE][0][VALUE]", "+375") in pairs
    assert ("flag", "1") in pairs
    cmd = encode_command("crm.lead.add", {"fields": {"TITLE": "Отклик & co"}})
    assert cmd.startswith("crm.lead.add?fields[TITLE]=")
    assert "&co" not in cmd and "%26" in cmd


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F)) | st.text(), st.sampled_from(["", "[]"]))
def test_fast_quote_is_urllib_quote(value: str, safe: str) -> None:
    assert quote_value(value, safe) == quote(value, safe=safe)
