"""Errors of the public surface: JSON `{"error", "message"}` in Russian, never a stack trace."""

from __future__ import annotations

from rabota_ui.errors import describe

from tests.integration.ui.conftest import Ui


def test_validation_errors_read_in_russian() -> None:
    errors = [{"type": "missing", "loc": ("body", "responsible_id")},
              {"type": "int_parsing", "loc": ("body", "category_id")},
              {"type": "value_error", "loc": ("body",), "msg": "Value error, для смарт-процесса укажите id"},
              {"type": "something_new", "loc": ()}]
    assert describe(errors, skip=1) == ("responsible_id: обязательное поле; category_id: нужно целое число; "
                                        "тело: для смарт-процесса укажите id; тело: недопустимое значение")


async def test_http_errors_are_json_in_russian(ui: Ui) -> None:
    r = await ui.http.get("/no/such/page")
    assert r.status_code == 404 and r.json() == {"error": "http_404", "message": "Не найдено"}
    r = await ui.http.delete("/healthz")
    assert r.status_code == 405 and r.json()["message"] == "Метод не поддерживается"
    r = await ui.http.post("/api/feedback", content=b"{not json", headers={
        "Authorization": ui.session(), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "validation_error"
    assert r.json()["message"].startswith("Неверные данные запроса: ")
