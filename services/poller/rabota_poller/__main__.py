"""`python -m rabota_poller` starts the poller."""

from rabota_common.starting import exit_cleanly_until_served

if __name__ == "__main__":
    exit_cleanly_until_served()  # first: a SIGTERM while the imports below load exits 0
    import uvloop
    from rabota_common.settings import get_settings

    from rabota_poller.app import build

    app, _ = build(get_settings())
    uvloop.run(app.run())  # libuv event loop: less CPU per message than asyncio's own
