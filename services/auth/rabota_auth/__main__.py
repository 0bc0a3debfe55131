"""`python -m rabota_auth` starts the token broker."""

import uvloop
from rabota_common.settings import get_settings

from rabota_auth.app import build

if __name__ == "__main__":
    app, _ = build(get_settings())
    uvloop.run(app.run())  # libuv event loop: less CPU per message than asyncio's own
