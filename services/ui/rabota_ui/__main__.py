"""`python -m rabota_ui` serves the public HTTP surface on UI_HOST:UI_PORT."""

from rabota_common.starting import exit_cleanly_until_served

if __name__ == "__main__":
    exit_cleanly_until_served()  # first: a SIGTERM while the imports below load exits 0
    import uvicorn
    from rabota_common.settings import get_settings

    from rabota_ui.app import create_app

    settings = get_settings()
    # proxy_headers off: uvicorn would trust X-Forwarded-For from any loopback peer; the ui reads it only from
    # TRUSTED_PROXIES (rabota_ui.ratelimit.client_address). On SIGTERM, requests in flight get 8 s: the whole
    # process ends within 10 s even when one of them waits on a NATS or Redis that is gone.
    uvicorn.run(create_app(settings), host=settings.UI_HOST, port=settings.UI_PORT,
                log_level=settings.LOG_LEVEL.lower(), timeout_graceful_shutdown=8, proxy_headers=False)
