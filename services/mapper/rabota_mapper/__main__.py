"""`python -m rabota_mapper` starts the mapper."""

import asyncio

from rabota_common.settings import get_settings

from rabota_mapper.app import build

if __name__ == "__main__":
    app, _ = build(get_settings())
    asyncio.run(app.run())
