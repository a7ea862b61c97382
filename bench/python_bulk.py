"""The official Zavu Python SDK doing a campaign's work: read a CSV, create one invitation
per row. Sequential (`Zavudev`) or concurrent (`AsyncZavudev`, N tasks). Prints rows/s of
the create loop on stdout; the caller times the whole process for the wall clock.

    python python_bulk.py CSV seq|async [TASKS]
"""

import asyncio
import csv
import os
import sys
import time

from zavudev import AsyncZavudev, Zavudev

path, mode = sys.argv[1], sys.argv[2]
tasks = int(sys.argv[3]) if len(sys.argv) > 3 else 16
base, key = os.environ["ZAVUDEV_BASE_URL"], os.environ["ZAVUDEV_API_KEY"]


def params(row):
    p = {}
    if row.get("clientName"):
        p["client_name"] = row["clientName"]
    if row.get("clientEmail"):
        p["client_email"] = row["clientEmail"]
    if row.get("clientPhone"):
        p["client_phone"] = row["clientPhone"]
    if row.get("allowedPhoneCountries"):
        p["allowed_phone_countries"] = row["allowedPhoneCountries"].split("|")
    if row.get("expiresInDays"):
        p["expires_in_days"] = int(row["expiresInDays"])
    return p


with open(path, newline="") as f:
    rows = [params(r) for r in csv.DictReader(f)]

start = time.perf_counter()
if mode == "seq":
    client = Zavudev(api_key=key, base_url=base)
    for p in rows:
        client.invitations.create(**p)
else:

    async def main():
        client = AsyncZavudev(api_key=key, base_url=base)
        queue = list(reversed(rows))

        async def worker():
            while queue:
                await client.invitations.create(**queue.pop())

        await asyncio.gather(*[worker() for _ in range(tasks)])

    asyncio.run(main())
elapsed = time.perf_counter() - start
print(f"{len(rows) / elapsed:.0f}")
