"""GET argv[1] with requests, which reads HTTPS_PROXY and REQUESTS_CA_BUNDLE itself; print status, body."""
import sys

import requests

resp = requests.get(sys.argv[1], timeout=30)
print(resp.status_code)
print(resp.text)
