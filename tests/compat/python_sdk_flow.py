"""Drives `zavu-script sandbox` with the official Zavu Python SDK in strict mode.

Every success body is validated against the SDK's own models
(`_strict_response_validation=True`), and every error must map to the SDK's own exception
class. Prints one line per check and exits non-zero on the first failure.
"""

import json
import os
import sys
import urllib.request

import zavudev
from zavudev import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    Zavudev,
)

BASE = os.environ["ZAVUDEV_BASE_URL"]
KEY = os.environ["ZAVUDEV_API_KEY"]
client = Zavudev(api_key=KEY, base_url=BASE, _strict_response_validation=True, max_retries=0)
passed = 0


def check(name, condition, detail=""):
    global passed
    if not condition:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    passed += 1
    print(f"ok   {name}")


def control(path, body=None):
    req = urllib.request.Request(
        f"{BASE}/_sandbox/{path}",
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


print(f"zavudev {zavudev.__version__} against {BASE}")

# create with no params, then with every param
bare = client.invitations.create().invitation
check("create without params", bare.status == "pending" and bare.client_name is None)
check("default expiry is 7 days", (bare.expires_at - bare.created_at).days == 7)
full = client.invitations.create(
    client_name="Acme Corp",
    client_email="contact@acme.com",
    client_phone="+14155551234",
    expires_in_days=14,
    allowed_phone_countries=["US", "MX"],
    phone_number_id="pn_abc123",
    connection_type="whatsapp_waba",
).invitation
check("create with every param", full.phone_number_id == "pn_abc123" and full.connection_type == "whatsapp_waba")
check("invitation url ends with its token", full.url.endswith(full.token))

# get
got = client.invitations.retrieve(full.id).invitation
check("retrieve", got.id == full.id and got.client_email == "contact@acme.com" and got.sender_id is None)

# list with auto-pagination over several pages
for i in range(118):
    client.invitations.create(client_email=f"client{i}@example.com")
ids = [inv.id for inv in client.invitations.list(limit=50)]
check("list auto-paginates every page", len(ids) == 120, f"got {len(ids)}")
check("list yields each id once", len(set(ids)) == len(ids))
first = client.invitations.list(limit=50)
check("a page carries nextCursor", first.next_cursor is not None and len(first.items) == 50)

# status filter
cancelled = client.invitations.cancel(bare.id).invitation
check("cancel", cancelled.status == "cancelled")
pending = list(client.invitations.list(status="pending", limit=100))
check("status filter", len(pending) == 119 and all(i.status == "pending" for i in pending), f"got {len(pending)}")
only_cancelled = list(client.invitations.list(status="cancelled"))
check("status filter cancelled", [i.id for i in only_cancelled] == [bare.id])

# cancel again: 400 as BadRequestError
try:
    client.invitations.cancel(bare.id)
    check("cancel again is 400", False)
except BadRequestError as e:
    check("cancel again is 400 BadRequestError", e.status_code == 400 and e.body["code"] == "invalid_request")

# complete through the control plane, then the sender exists
control(f"invitations/{full.id}/complete")
done = client.invitations.retrieve(full.id).invitation
check("completed invitation has a sender", done.status == "completed" and done.sender_id is not None)
check("completed invitation has a connected account", done.connected_account is not None and done.connected_account.channel == "whatsapp")
sender = client.senders.retrieve(done.sender_id)
check("senders.retrieve", sender.id == done.sender_id and sender.name == "Acme Corp" and sender.phone_number)
check("senders.list", any(s.id == sender.id for s in client.senders.list()))

# template send with zavu_sender
message = client.messages.send(
    to="+14155551234",
    channel="whatsapp",
    message_type="template",
    content={"template_id": "tmpl_xyz789", "template_variables": {"1": "John"}},
    zavu_sender=done.sender_id,
).message
check("template send uses the Zavu-Sender header", message.sender_id == done.sender_id and message.direction == "outbound")
check("message echoes its content", message.content is not None and message.content.template_id == "tmpl_xyz789")
check("messages.retrieve", client.messages.retrieve(message.id).message.id == message.id)
check("templates.retrieve", client.templates.retrieve("tmpl_xyz789").status == "approved")

# senders after onboarding: a webhook (its secret answered once), then removed
hooked = client.senders.update(
    done.sender_id,
    webhook_url="https://acme.example/zavu",
    webhook_events=["message.inbound", "invitation.status_changed"],
)
check("senders.update sets a webhook", hooked.webhook is not None and hooked.webhook.signature_version == "v2")
check("the webhook secret is answered on creation", (hooked.webhook.secret or "").startswith("whsec_"))
check("and not again", client.senders.retrieve(done.sender_id).webhook.secret is None)
unhooked = client.senders.update(done.sender_id, webhook_url=None)
check("webhook_url=None removes the webhook", unhooked.webhook is None)

# templates: create (a draft), submit (pending), approved by the control plane, sent
template = client.templates.create(
    name="order_confirmation",
    language="en",
    body="Hi {{1}}, your order {{2}} has shipped",
    whatsapp_category="UTILITY",
    variables=["customer_name", "order_id"],
)
check("templates.create makes a draft", template.status == "draft" and template.category == "UTILITY")
submitted = client.templates.submit(template.id, sender_id=done.sender_id)
check("templates.submit makes it pending", submitted.status == "pending")
control(f"templates/{template.id}/approve")
check("review approves it", client.templates.retrieve(template.id).status == "approved")
check("templates.list", any(t.id == template.id for t in client.templates.list()))
sent = client.messages.send(
    to="+14155551234",
    message_type="template",
    content={"template_id": template.id, "template_variables": {"1": "Ana", "2": "A-1"}},
).message
check("the approved template is sent", sent.content.template_id == template.id)
try:
    client.messages.send(
        to="+14155551234",
        message_type="template",
        content={"template_id": template.id, "template_variables": {"1": "Ana"}},
    )
    check("a missing template variable is 400", False)
except BadRequestError as e:
    check("a missing template variable is 400 naming it", e.body["details"]["errors"][0]["path"] == ["content", "templateVariables", "2"])
try:
    client.templates.create(name="order_confirmation", language="en", body="again")
    check("a second template of one name is 409", False)
except ConflictError as e:
    check("a second template of one name is 409 ConflictError", e.status_code == 409)

# phone numbers, me, balance
numbers = list(client.phone_numbers.list())
check("phone_numbers.list", {n.id for n in numbers} == {"pn_abc123", "pn_default"})
number = client.phone_numbers.retrieve("pn_abc123").phone_number
check("phone_numbers.retrieve is wrapped, and follows the new sender", number.sender_id == done.sender_id)
me = client.me.retrieve()
check("me.retrieve", me.is_test_mode and me.project.id and me.api_key.id.startswith("key_"))
balance = client.balance.retrieve()
check("balance.retrieve in cents", balance.balance == 10000 and balance.currency == "USD")
raw = client.balance.with_raw_response.retrieve()
check("rate-limit headers on every answer", raw.headers.get("x-ratelimit-limit", "").isdigit())

# a sender deleted
spare = client.invitations.create(client_name="Spare").invitation
control(f"invitations/{spare.id}/complete")
spare_sender = client.invitations.retrieve(spare.id).invitation.sender_id
client.senders.delete(spare_sender)
try:
    client.senders.retrieve(spare_sender)
    check("a deleted sender is gone", False)
except NotFoundError:
    check("a deleted sender is gone (404)", True)

# errors
try:
    client.invitations.list(cursor="cursor")
    check("an unknown cursor is 400", False)
except BadRequestError as e:
    check("an unknown cursor is 400 BadRequestError", e.body["details"]["errors"][0]["path"] == ["cursor"])
try:
    client.invitations.create(expires_in_days=99)
    check("invalid create is 400", False)
except BadRequestError as e:
    check("invalid create is 400 with details.errors", e.body["details"]["errors"][0]["path"] == ["expiresInDays"])
try:
    Zavudev(api_key="zv_test_wrong", base_url=BASE, max_retries=0).invitations.list()
    check("wrong key is 401", False)
except AuthenticationError as e:
    check("wrong key is 401 AuthenticationError", e.status_code == 401 and e.body["code"] == "unauthorized")
try:
    client.invitations.retrieve("does-not-exist")
    check("unknown id is 404", False)
except NotFoundError as e:
    check("unknown id is 404 NotFoundError", e.status_code == 404 and e.body["code"] == "not_found")

print(f"{passed} checks passed")
