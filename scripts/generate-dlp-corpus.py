#!/usr/bin/env python3
"""Generate the labelled DLP corpus: Tests/RemitEngineTests/DLP/Corpus/dlp-corpus.jsonl.

Every value is synthetic: random digits and letters shaped like the real thing and made to pass
(or, for the near misses, to fail) the detector's checksum. No real secret or personal data.

One JSON object per line: {"text": ..., "expect": [detector ids, sorted, unique], "note": ...}.
`expect` lists the built-in detectors that must fire on `text`; every other built-in must not.
Deterministic (fixed seed): rerunning the script reproduces the file byte for byte.

    python3 scripts/generate-dlp-corpus.py [output-path]
"""

import base64
import json
import os
import random
import string
import sys

rng = random.Random(20261123)
BASE62 = string.ascii_letters + string.digits
BASE32 = string.ascii_uppercase + "234567"
URLSAFE = BASE62 + "-_"


def rand(alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def mixed(alphabet, n):
    """Random string that holds at least one upper, one lower and one digit (if the alphabet has them)."""
    while True:
        s = rand(alphabet, n)
        classes = [any(c.isupper() for c in s), any(c.islower() for c in s), any(c.isdigit() for c in s)]
        wanted = [any(c.isupper() for c in alphabet), any(c.islower() for c in alphabet), any(c.isdigit() for c in alphabet)]
        if classes == wanted:
            return s


# ---- checksums -------------------------------------------------------------------------------


def luhn_check_digit(partial):
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number):
    return luhn_check_digit(number[:-1]) == number[-1]


def card(prefix, length, valid=True):
    body = prefix + rand(string.digits, length - len(prefix) - 1)
    check = luhn_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    return body + check


def group(number, sizes, sep):
    out, i = [], 0
    for size in sizes:
        out.append(number[i:i + size])
        i += size
    return sep.join(out)


IBAN_LENGTHS = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "BE": 16, "CH": 21, "NO": 15,
                "PL": 28, "SE": 24, "AT": 20, "IE": 22, "PT": 25, "DK": 18, "FI": 18}


def iban_remainder(text):
    rearranged = text[4:] + text[:4]
    digits = "".join(str(int(c, 36)) for c in rearranged)
    return int(digits) % 97


def iban(country, valid=True):
    length = IBAN_LENGTHS[country]
    bban_len = length - 4
    if country in ("GB", "IE", "NL"):
        bban = rand(string.ascii_uppercase, 4) + rand(string.digits, bban_len - 4)
    else:
        bban = rand(string.digits, bban_len)
    check = 98 - iban_remainder(country + "00" + bban)
    if not valid:
        check = (check + rng.randint(1, 40)) % 97 + 2 if check < 50 else check - rng.randint(1, 40)
    text = f"{country}{check:02d}{bban}"
    assert (iban_remainder(text) == 1) == valid, text
    return text


def spaced(text):
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def ssn(valid=True, bad=None):
    area = rng.choice([n for n in range(1, 900) if n != 666])
    grp = rng.randint(1, 99)
    serial = rng.randint(1, 9999)
    if bad == "area000":
        area = 0
    elif bad == "area666":
        area = 666
    elif bad == "area9xx":
        area = rng.randint(900, 999)
    elif bad == "group00":
        grp = 0
    elif bad == "serial0000":
        serial = 0
    return f"{area:03d}", f"{grp:02d}", f"{serial:04d}"


def nanp():
    area = rng.choice([n for n in range(200, 1000) if n % 100 != 11])
    exchange = rng.choice([n for n in range(200, 1000) if n % 100 != 11])
    return f"{area}", f"{exchange}", f"{rng.randint(0, 9999):04d}"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(header=None):
    header = header or {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {"sub": rand(string.digits, 10), "name": "Test User", "iat": rng.randint(1600000000, 1800000000)}
    signature = rand(URLSAFE, 43)
    return f"{b64url(json.dumps(header, separators=(',', ':')).encode())}.{b64url(json.dumps(payload).encode())}.{signature}"


# ---- corpus ----------------------------------------------------------------------------------

rows = []


def add(text, *expect, note=""):
    rows.append({"text": text, "expect": sorted(set(expect)), "note": note})


def json_arg(key, value):
    return json.dumps({"jsonrpc": "2.0", "method": "tools/call",
                       "params": {"name": "send_message", "arguments": {key: value}}})


# credit cards: brands, lengths, groupings, contexts
brands = [("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15),
          ("37", 15), ("6011", 16), ("65", 16), ("644", 16), ("3528", 16), ("3589", 16), ("36", 14),
          ("300", 14), ("62", 16), ("62", 19)]
for prefix, length in brands:
    number = card(prefix, length)
    add(f"Please charge card {number} today.", "credit_card", note=f"card {prefix} len {length}")
for prefix, length in [("4", 16), ("51", 16), ("6011", 16)]:
    number = card(prefix, length)
    add(json_arg("text", f"my card is {group(number, [4, 4, 4, 4], ' ')}"), "credit_card", note="spaced 4-4-4-4")
    number = card(prefix, length)
    add(f"cc={group(number, [4, 4, 4, 4], '-')}&exp=12/29", "credit_card", note="dashed 4-4-4-4")
number = card("37", 15)
add(f"Amex {group(number, [4, 6, 5], ' ')} exp 01/30", "credit_card", note="amex 4-6-5")
number = card("36", 14)
add(f"Diners {group(number, [4, 6, 4], '-')}", "credit_card", note="diners 4-6-4")
add(json.dumps({"payment": {"pan": card("4", 16), "cvv": "123"}}), "credit_card", note="json value")
# near misses
for prefix, length in [("4", 16), ("51", 16), ("37", 15), ("6011", 16)]:
    add(f"Please charge card {card(prefix, length, valid=False)} today.", note="card failing Luhn")
add(f"order number {card('9', 16)}", note="Luhn-valid but no card brand (9...)")
add(f"tracking id {card('1', 16)}", note="Luhn-valid, prefix 1 is no brand")
add(f"visa-shaped but 17 digits {card('4', 17)}", note="Visa prefix with impossible length 17")
add(f"amex-shaped but 16 digits {card('34', 16)}", note="Amex prefix with length 16")
add(f"digits {card('4', 16)}0000", note="valid card inside a 20-digit run")
add(f"pi is 3.{card('4', 16)}", note="card-like digits after a decimal point")
add(f"hash a{card('4', 16)}f", note="digits inside a hex-like token")
add(f"grouped wrong {group(card('4', 16), [2, 6, 8], ' ')}", note="Luhn-valid digits in odd groups")
add("timestamp 1700000000123 and 1700000000", note="epoch millis / seconds")

# US SSN
for _ in range(4):
    a, g, s = ssn()
    add(f"SSN on file: {a}-{g}-{s}", "us_ssn", note="dashed")
a, g, s = ssn()
add(json_arg("note", f"employee {a} {g} {s} started"), "us_ssn", note="spaced 3-2-4")
a, g, s = ssn()
add(f'{{"ssn": "{a}{g}{s}"}}', "us_ssn", note="bare nine digits after the keyword")
a, g, s = ssn()
add(f"Social Security Number {a}{g}{s}", "us_ssn", note="bare nine digits after 'Social Security'")
for bad in ["area000", "area666", "area9xx", "group00", "serial0000"]:
    a, g, s = ssn(bad=bad)
    add(f"SSN on file: {a}-{g}-{s}", note=f"SSN with invalid {bad}")
a, g, s = ssn()
add(f"invoice {a}{g}{s} total", note="bare nine digits without a keyword")
add("zip+4 12345-6789 and date 2024-01-15", note="zip+4 and ISO date")
add("part 123-45-67890", note="SSN shape with a longer serial")

# IBAN
for country in ["DE", "GB", "FR", "NL", "ES", "IT", "BE", "CH", "NO", "PL"]:
    add(f"Wire to {iban(country)} please", "iban", note=f"IBAN {country} compact")
for country in ["DE", "GB", "FR", "AT"]:
    add(json_arg("iban", spaced(iban(country))), "iban", note=f"IBAN {country} spaced")
for country in ["DE", "GB", "FR"]:
    add(f"Wire to {iban(country, valid=False)} please", note=f"IBAN {country} failing mod-97")
add(f"Wire to DE{iban('DE')[2:]}00 please", note="IBAN too long for DE")
add(f"code XX{rand(string.digits, 20)} here", note="unknown country code")
add(f"Wire to {spaced(iban('FR'))[:-3]} please", note="IBAN cut short")

# email
for address in ["jane.doe@example.com", "ops+alerts@mail.acme-corp.io", "first_last@sub.domain.co.uk",
                "x123@test.museum"]:
    add(f"Contact {address} for access", "email", note="email")
add(json.dumps({"to": "alice.smith@company.org", "subject": "hi"}), "email", note="email in JSON")
add("mailto:bob@corp.example.net?subject=x", "email", note="mailto")
for text in ["logo@2x.png retina asset", "npm i @types/node@20.1.0", "ssh git@10.0.0.1", "user@localhost is local",
             "a@b.c is too short", "decorator @Override and @param", "price 3@4.50", "twitter @handle_name"]:
    add(text, note="email near miss")

# phone
for a, e, l in [nanp() for _ in range(3)]:
    add(f"Call me at ({a}) {e}-{l} tomorrow", "phone", note="NANP parenthesised")
a, e, l = nanp()
add(f"phone: {a}-{e}-{l}", "phone", note="NANP dashed")
a, e, l = nanp()
add(f"phone: {a}.{e}.{l}", "phone", note="NANP dotted")
a, e, l = nanp()
add(f"intl +1 {a} {e} {l}", "phone", note="E.164 +1 spaced")
a, e, l = nanp()
add(f"intl +1{a}{e}{l}", "phone", note="E.164 +1 compact")
add("London +44 20 7946 0958", "phone", note="E.164 UK spaced")
add("Berlin +49 30 901820", "phone", note="E.164 DE")
add("Paris +33 1 42 68 53 00", "phone", note="E.164 FR")
add("UK +44 (0)20 7946 0958", "phone", note="E.164 with (0)")
add(json_arg("phone", "+61 2 9374 4000"), "phone", note="E.164 AU in JSON")
for text in ["area code 123-456-7890 invalid", "(011) 234-5678", "call 555-011-2345",
             "version 1.2.3", "ip 192.168.100.200", "sizes 256 512 1024", "score +1.5 points", "+123 short",
             "range 2024-2025", "offset +05:30", "id 5551234567"]:
    add(text, note="phone near miss")

# AWS
for prefix in ["AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"]:
    add(f"aws_access_key_id = {prefix}{rand(BASE32, 16)}", "aws_access_key", note=f"AWS {prefix}")
add(json.dumps({"AccessKeyId": "AKIA" + rand(BASE32, 16), "Region": "us-east-1"}), "aws_access_key", note="AWS in JSON")
add("docs example AKIAIOSFODNN7EXAMPLE", note="AWS documentation example key")
add(f"wrong charset AKIA{rand(string.ascii_uppercase, 10)}0189{rand(string.ascii_uppercase, 2)}",
    note="AWS shape with 0/1/8/9")
add(f"lowercase AKIA{rand(string.ascii_lowercase, 16)}", note="AWS shape lowercase")
add(f"too long AKIA{rand(BASE32, 20)}", note="AWS shape too long")
add(f"unknown prefix ABCD{rand(BASE32, 16)}", note="unknown AWS prefix")

# GitHub
for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]:
    add(f"export GH={prefix}{rand(BASE62, 36)}", "github_token", note=f"GitHub {prefix}")
add(f"token github_pat_{rand(BASE62, 22)}_{rand(BASE62 + '_', 59)}", "github_token", note="fine-grained PAT")
add(f"short ghp_{rand(BASE62, 20)}", note="ghp_ too short")
add(f"ghx_{rand(BASE62, 36)}", note="unknown gh prefix")

# Slack
add(f"SLACK=xoxb-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{mixed(BASE62, 24)}", "slack_token",
    note="bot token")
add(f"xoxp-{rand(string.digits, 11)}-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{rand('0123456789abcdef', 32)}",
    "slack_token", note="user token")
add(f"post to https://hooks.slack.com/services/T{rand(string.ascii_uppercase + string.digits, 8)}/"
    f"B{rand(string.ascii_uppercase + string.digits, 10)}/{mixed(BASE62, 24)}", "slack_token", note="webhook")
add(f"xoxb-123-{mixed(BASE62, 24)}", note="slack shape with short digit groups")
add("see hooks.slack.com/services/ for docs", note="webhook host without ids")

# Stripe
add(f"STRIPE_KEY=sk_live_{mixed(BASE62, 24)}", "stripe_key", note="sk_live", )
add(f"stripe rk_live_{mixed(BASE62, 99)}", "stripe_key", note="rk_live")
add(f"stripe test key sk_test_{mixed(BASE62, 24)}", "stripe_key", note="sk_test counts")
add(f"publishable pk_live_{mixed(BASE62, 24)}", note="publishable key is not secret")
add(f"sk_live_{mixed(BASE62, 10)}", note="stripe too short")

# Google
add(f"key=AIza{rand(URLSAFE, 35)}&q=1", "google_api_key", note="Google API key")
add(json.dumps({"apiKeyField": "AIza" + rand(URLSAFE, 35)}), "google_api_key", note="Google in JSON")
add(f"AIza{rand(URLSAFE, 30)} short", note="Google too short")

# OpenAI
# The env assignment is also generic_secret-shaped: the specific detector wins on the same bytes.
add(f"OPENAI_API_KEY=sk-{rand(BASE62, 20)}T3BlbkFJ{rand(BASE62, 20)}", "openai_key", note="legacy OpenAI key")
add(f"key sk-proj-{mixed(URLSAFE, 74)}T3BlbkFJ{mixed(URLSAFE, 74)}", "openai_key", note="project key")
add(f"key sk-svcacct-{mixed(URLSAFE, 60)}", "openai_key", note="service account key")
add(f"key sk-{rand(BASE62, 48)}", note="sk- 48 without the marker")
add("task-proj-management is a slug", note="'sk-' inside a word")

# Anthropic
add(f"ANTHROPIC sk-ant-api03-{mixed(URLSAFE, 93)}AA", "anthropic_key", note="API key")
add(f"sk-ant-admin01-{mixed(URLSAFE, 93)}AA", "anthropic_key", note="admin key")
add("sk-ant-api03-short", note="anthropic too short")

# PEM private keys
for kind in ["RSA ", "EC ", "OPENSSH ", "DSA ", "ENCRYPTED ", ""]:
    body = "\\n".join(rand(string.ascii_letters + string.digits + "+/", 64) for _ in range(3))
    add(json_arg("file", f"-----BEGIN {kind}PRIVATE KEY-----\\n{body}\\n-----END {kind}PRIVATE KEY-----"),
        "private_key", note=f"PEM {kind.strip() or 'PKCS8'}")
add("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----", note="public key")
add("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", note="certificate")

# JWT
add(f"Authorization: Bearer {jwt()}", "jwt", note="JWT bearer")
add(json.dumps({"id_token": jwt({"alg": "RS256", "kid": rand(BASE62, 16), "typ": "JWT"})}), "jwt", note="JWT in JSON")
add(f"not a jwt eyJ{rand(URLSAFE, 20)}.{rand(URLSAFE, 20)}.{rand(URLSAFE, 30)}", note="eyJ prefix but header not JSON")
add(f"header without alg {b64url(json.dumps({'typ': 'JWT'}).encode())}.{b64url(b'{}')}.{rand(URLSAFE, 40)}",
    note="JWT shape without alg")
add(f"two parts only {b64url(json.dumps({'alg': 'HS256'}).encode())}.{b64url(b'{}')}", note="JWT without signature")

# generic secrets
for key in ["password", "api_key", "apiKey", "client_secret", "auth_token", "access_key", "private_key", "SECRET",
            "x-api-key", "db.password"]:
    add(json.dumps({"config": {key: mixed(BASE62 + "!@#%^*", 24)}}), "generic_secret", note=f"JSON {key}")
add(f"https://api.example.com/v1?token={mixed(BASE62, 32)}&page=2", "generic_secret", note="query token")
add(f"export SECRET={mixed(BASE62, 40)}", "generic_secret", note="env SECRET")
add(f"DB_PASSWORD='{mixed(BASE62, 20)}'", "generic_secret", note="env quoted")
add(f"password: {mixed(BASE62, 20)}", "generic_secret", note="YAML password")
add(json.dumps({"cmd": "curl -H x --data '{\"api_key\": \"" + mixed(BASE62, 28) + "\"}'"}), "generic_secret",
    note="escaped JSON inside a JSON string")
for value in ["changeme", "changeme-changeme-123", "${API_KEY_FROM_ENV_VAR}", "<redacted-api-key-value>",
              "xxxxxxxxxxxxxxxxxxxxxxxx", "aaaaaaaaaaaaaaaaaaaaaaaa", "your_api_key_here_12345", "{{ secrets.TOKEN }}",
              "**************************", "EXAMPLE_TOKEN_1234567890", "short1A", "correct horse battery staple"]:
    add(json.dumps({"api_key": value}), note=f"placeholder {value[:12]}")
add(json.dumps({"username": mixed(BASE62, 24), "max_tokens": 4096, "author": "Jane"}), note="non-secret keys")
add(json.dumps({"token_count": 12, "tokenizer": "cl100k_base_encoding_v2x"}), note="token-ish keys that are not secrets")
add(json.dumps({"password": 123456789012345678}), note="number value")
add(json.dumps({"auth": "true"}), note="short value")

# ordinary text and identifiers: must stay clean
clean = [
    json_arg("query", "weather in Paris tomorrow at 10:30"),
    json.dumps({"id": "550e8400-e29b-41d4-a716-446655440000", "created": "2026-11-23T11:02:39Z"}),
    json.dumps({"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}),
    json.dumps({"commit": "63ae510d9f1c2b3a4e5f60718293a4b5c6d7e8f9", "version": "v1.40.2-rc.1"}),
    "Order #100234587 shipped on 2024-03-15, total $1,234.56",
    "Timestamps: 1732358559, 1732358559123, 2024-11-23 11:02:39.123456",
    "Version strings 6.3.1, 10.0.19045.3693, 1.2.3-beta+exp.sha.5114f85",
    json.dumps({"amount": 12345678, "currency": "EUR", "quantity": 3, "price": 19.99}),
    "ISBN 978-3-16-148410-0 and 0-306-40615-2",
    "The ratio 1234 5678 9012 3456 was computed",  # spaced digits failing Luhn/brand
    "ip 10.20.30.40 port 8443 mask 255.255.255.0",
    json.dumps({"tool": "search_docs", "arguments": {"q": "how to rotate a token", "limit": 20}}),
    "token=abc is short and secret=changeme is a placeholder",
    "uuid 123e4567-e89b-12d3-a456-426614174000 trace 4bf92f3577b34da6a3ce929d0e0e4736",
    "US number format (123) 456-7890 is invalid, 911 is emergency",
    "Call 1-800-FLOWERS",
]
for text in clean:
    add(text, note="clean")

# several in one
add(f"card {card('4', 16)} and mail jane@example.com and AKIA{rand(BASE32, 16)}",
    "credit_card", "email", "aws_access_key", note="three detectors")

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "RemitEngineTests", "DLP", "Corpus", "dlp-corpus.jsonl")
with open(out, "w") as f:
    for row in rows:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
print(f"wrote {len(rows)} rows to {os.path.normpath(out)}")
