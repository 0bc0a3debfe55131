"""Errors of the public surface: JSON `{"error","message"}` with a Russian message, never a stack trace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from rabota_common.b24_client import B24Error, BatchResult
from rabota_common.b24_session import B24PortalClosed, open_session
from rabota_common.errors import TransientError
from rabota_common.runtime import Runtime
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

# Russian wording of pydantic's error types (the rest fall back to a generic phrase).
_RU = {
    "missing": "обязательное поле", "extra_forbidden": "неизвестное поле", "int_parsing": "нужно целое число",
    "int_type": "нужно целое число", "int_from_float": "нужно целое число", "bool_parsing": "нужно true или false",
    "bool_type": "нужно true или false", "string_type": "нужна строка", "string_too_short": "пустое значение",
    "string_too_long": "слишком длинное значение", "literal_error": "недопустимое значение",
    "enum": "недопустимое значение",
    "greater_than": "значение слишком мало", "greater_than_equal": "значение слишком мало",
    "less_than": "значение слишком велико", "less_than_equal": "значение слишком велико", "dict_type": "нужен объект",
    "model_type": "нужен объект", "model_attributes_type": "нужен объект", "list_type": "нужен список",
    "json_invalid": "тело запроса — не JSON", "float_parsing": "нужно число", "float_type": "нужно число",
}


async def portal_batch(rt: Runtime, portal: str, cmds: dict[str, tuple[str, dict[str, Any]]]) -> BatchResult:
    """One batch with the portal's own token (the gate), its refusals as the public surface's errors: the portal
    closed or Bitrix24 away -> 503 `portal_unavailable`, a refused request -> 502 `portal_error`."""
    try:
        session = await open_session(rt, portal)
        return await session.batch(cmds)
    except (B24PortalClosed, TransientError) as exc:
        raise ApiError(503, "portal_unavailable", "Портал Битрикс24 сейчас недоступен приложению.") from exc
    except B24Error as exc:
        raise ApiError(502, "portal_error", f"Битрикс24 ответил ошибкой: {exc.code}") from exc


def describe(errors: Sequence[Any], skip: int = 0) -> str:
    """`поле: что не так; …` in Russian for pydantic/FastAPI validation errors."""
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in tuple(e.get("loc", ()))[skip:]) or "тело"
        if e.get("type") == "value_error":  # our own validators already speak Russian
            what = str(e.get("msg", "")).removeprefix("Value error, ")
        else:
            what = _RU.get(str(e.get("type")), "недопустимое значение")
        parts.append(f"{where}: {what}")
    return "; ".join(parts)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.error, "message": exc.message}, status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = describe(exc.errors(), skip=1)
        return JSONResponse({"error": "validation_error", "message": f"Неверные данные запроса: {details}"},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "Не найдено", 405: "Метод не поддерживается", 401: "Нужна авторизация"}
        return JSONResponse({"error": f"http_{exc.status_code}",
                             "message": messages.get(exc.status_code, "Ошибка запроса")},
                            status_code=exc.status_code)

    @app.exception_handler(RedisError)
    async def _storage(_: Request, exc: RedisError) -> JSONResponse:
        # Redis restarting: a short outage, not a bug; the page retries.
        return JSONResponse({"error": "unavailable", "message": "Сервис временно недоступен. Попробуйте через минуту."},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "internal", "message": "Внутренняя ошибка. Попробуйте позже."},
                            status_code=500)
