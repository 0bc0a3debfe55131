"""The error classes that decide a message's fate: what each carries, and which are parked."""

from __future__ import annotations

from rabota_common.errors import HhAuthLost, Parkable, PermanentError, TransientError
from rabota_common.transience import classify


def test_what_each_error_carries_and_how_it_is_classified() -> None:
    transient = TransientError("Bitrix24 503", delay_s=2.5, cause="Битрикс24 временно не отвечает")
    assert (str(transient), transient.delay_s) == ("Bitrix24 503", 2.5)
    assert transient.cause == "Битрикс24 временно не отвечает"
    assert classify(transient).kind == "transient"
    permanent = PermanentError("Не заполнено обязательное поле", code="CRM_FIELD_ERROR_REQUIRED")
    assert (permanent.reason, permanent.code, str(permanent)) == (
        "Не заполнено обязательное поле", "CRM_FIELD_ERROR_REQUIRED", "Не заполнено обязательное поле")
    assert PermanentError("x").code == "permanent" and classify(permanent).kind == "permanent"
    lost = HhAuthLost("tokens revoked", cause="нужен повторный вход в rabota.by")
    assert isinstance(lost, Parkable) and isinstance(lost, TransientError)  # parked, never a failure
    assert not isinstance(transient, Parkable)
