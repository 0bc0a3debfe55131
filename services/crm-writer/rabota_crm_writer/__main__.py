"""`python -m rabota_crm_writer` starts the crm-writer."""

import uvloop
from rabota_common.settings import get_settings

from rabota_crm_writer.app import build

if __name__ == "__main__":
    app, _ = build(get_settings())
    uvloop.run(app.run())  # libuv event loop: less CPU per message than asyncio's own
