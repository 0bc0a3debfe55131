"""`python -m rabota_mapper` starts the mapper."""

import uvloop
from rabota_common.settings import get_settings

from rabota_mapper.app import build

if __name__ == "__main__":
    app, _ = build(get_settings())
    uvloop.run(app.run())  # libuv event loop: less CPU per message than asyncio's own
