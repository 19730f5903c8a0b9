"""The seed's Python mint (service-accounts.txt), as a user would run it.

Only change: the admin token is read from a header file and the token name
is made unique per run, since a live name cannot be reused.
usage: seed_mint.py BASE_URL HEADER_FILE USERNAME
"""
import os
import sys

import requests

base, header_file, user = sys.argv[1:4]
with open(header_file) as f:
    auth = f.read().split(":", 1)[1].strip()
response = requests.post(
    f"{base}/v1/users/{user}/tokens",
    headers={"Authorization": auth, "Content-Type": "application/json"},
    json={"name": f"py-{os.getpid()}", "token_type": "read_write", "ttl": 86400},
)
response.raise_for_status()
token = response.json()["token"]
with open(os.devnull, "w") as out:
    print(token, file=out)
