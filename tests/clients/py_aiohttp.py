"""GET argv[1] with aiohttp (trust_env=True: HTTPS_PROXY, and SSL_CERT_FILE through the default SSL context);
print status, body."""
import asyncio
import sys

import aiohttp


async def main() -> None:
    async with aiohttp.ClientSession(trust_env=True) as session:
        async with session.get(sys.argv[1], timeout=aiohttp.ClientTimeout(total=30)) as resp:
            print(resp.status)
            print(await resp.text())


asyncio.run(main())
