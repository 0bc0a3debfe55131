"""`python -m rabota_poller` starts the poller."""

import asyncio

from rabota_common.settings import get_settings

from rabota_poller.app import build

if __name__ == "__main__":
    app, _ = build(get_settings())
    asyncio.run(app.run())
