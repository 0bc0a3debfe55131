"""Errors of the public surface: JSON `{"error","message"}` with a Russian message, never a stack trace."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.error, "message": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'тело'}: {e.get('msg')}" for e in exc.errors()
        )
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
