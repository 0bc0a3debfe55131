"""`python -m rabota_auth` starts the token broker."""

import asyncio

from rabota_common.settings import get_settings

from rabota_auth.app import build

if __name__ == "__main__":
    app, _ = build(get_settings())
    asyncio.run(app.run())
