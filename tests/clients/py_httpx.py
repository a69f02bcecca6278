"""GET argv[1] with httpx, which reads HTTPS_PROXY and SSL_CERT_FILE itself (trust_env); print status, body."""
import sys

import httpx

resp = httpx.get(sys.argv[1], timeout=30)
print(resp.status_code)
print(resp.text)
