"""PII samples from presidio-evaluator's sentence templates, filled with seeded Faker (en_US).

Each sample knows the byte span of every filled entity, so recall counts a detection only when
the detector's match overlaps the entity it was meant to find. Every generated value is also
classified by an independent reading of the detectors' documented rules (issue 3, SPEC section 5),
so values Faker makes that the rules exclude (12-digit Maestro numbers, phone extensions ...) are
reported on their own instead of silently lowering, or being dropped from, the recall.
"""

from __future__ import annotations

import ast
import json
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from faker import Faker

from wheels import WheelData

TEMPLATES_PATH = "presidio_evaluator/data_generator/raw_data/templates.txt"
PROVIDERS_PATH = "presidio_evaluator/data_generator/faker_extensions/providers.py"

# Template placeholder -> Remit detector id.
TARGETS = {
    "credit_card_number": "credit_card",
    "ssn": "us_ssn",
    "iban": "iban",
    "email": "email",
    "phone_number": "phone",
}
# A second phone population: presidio-evaluator's own PhoneNumberProviderNew formats (UK, India,
# Switzerland, Sweden, NANP), filled into the same phone templates.
PRESIDIO_PHONE = "phone_number (presidio formats)"

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")

# Placeholders Faker has no provider for (presidio-evaluator adds its own); small fixed lists.
_NATIONALITIES = ["French", "Kenyan", "Brazilian", "Japanese", "Canadian", "Polish", "Indian", "Irish"]
_NATIONS_PLURAL = ["Germans", "Mexicans", "Nigerians", "Koreans", "Italians", "Chileans"]


@dataclass
class Entity:
    kind: str  # the template placeholder (or PRESIDIO_PHONE)
    detector: str
    value: str
    # None when the value is valid by the detector's documented rules, else why it is not.
    excluded_because: str | None
    start: int = 0  # UTF-8 byte offsets in the sample text
    end: int = 0


@dataclass
class Sample:
    template_index: int
    text: str
    entities: list[Entity] = field(default_factory=list)

    def kinds(self) -> set[str]:
        return {e.detector for e in self.entities}


def load_templates(wheel: WheelData) -> list[str]:
    """presidio-evaluator's templates, preprocessed as PresidioSentenceFaker does (`<x>` becomes
    `{{x}}`, names lowercased). The file stores line breaks as the two characters backslash-n;
    those become real line breaks here (the JSON-escaped form is evaluated separately)."""
    templates = []
    for line in wheel.read_text(TEMPLATES_PATH).splitlines():
        line = line.strip()
        if not line:
            continue
        line = line.replace("<", "{{").replace(">", "}}")
        line = re.sub(r"{{(.*?)}}", lambda m: "{{" + m.group(1).lower() + "}}", line)
        templates.append(line.replace("\\n", "\n"))
    return templates


def presidio_phone_formats(wheel: WheelData) -> list[str]:
    """PhoneNumberProviderNew.formats, read from the wheel's source."""
    module = ast.parse(wheel.read_text(PROVIDERS_PATH))
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == "PhoneNumberProviderNew":
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and isinstance(statement.targets[0], ast.Name)
                    and statement.targets[0].id == "formats"
                ):
                    return list(ast.literal_eval(statement.value))
    raise ValueError(f"{PROVIDERS_PATH} has no PhoneNumberProviderNew.formats")


# ---------------------------------------------------------------------------------------------
# independent validity rules (what the detectors are documented to accept)
# ---------------------------------------------------------------------------------------------
def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The brand whose published prefix and length rules the number meets, or None."""
    n = len(digits)
    p = lambda k: int(digits[:k])  # noqa: E731
    if digits[0] == "4":
        return "visa" if n in (13, 16, 19) else None
    if 51 <= p(2) <= 55 or 2221 <= p(4) <= 2720:
        return "mastercard" if n == 16 else None
    if p(2) in (34, 37):
        return "amex" if n == 15 else None
    if p(4) == 6011 or 644 <= p(3) <= 649 or p(2) == 65 or 622126 <= p(6) <= 622925:
        return "discover" if 16 <= n <= 19 else None
    if 3528 <= p(4) <= 3589:
        return "jcb" if 16 <= n <= 19 else None
    if 300 <= p(3) <= 305 or p(2) in (36, 38, 39):
        return "diners" if 14 <= n <= 19 else None
    if p(2) == 62:
        return "unionpay" if 16 <= n <= 19 else None
    return None


def card_exclusion(value: str) -> str | None:
    digits = re.sub(r"[ -]", "", value)
    if not luhn_ok(digits):
        return "fails Luhn"
    if len(digits) < 13:
        return f"{len(digits)} digits (Faker 'maestro'; the detector takes 13-19)"
    if card_brand(digits) is None:
        if len(digits) == 15 and digits[:4] in ("1800", "2131"):
            return "15-digit JCB with legacy prefix 1800/2131 (not in the brand table)"
        if digits.startswith("35"):
            return "prefix 35xx outside JCB's 3528-3589 (not a real JCB range)"
        if digits[:2] in ("50", "56", "57", "58", "63", "67"):
            return "Maestro prefix (not in the brand table)"
        return "prefix/length outside the brand table"
    return None


def ssn_exclusion(value: str) -> str | None:
    match = re.fullmatch(r"(\d{3})[- ]?(\d{2})[- ]?(\d{4})", value)
    if not match:
        return "not 3-2-4 digits"
    area, group, serial = (int(g) for g in match.groups())
    if area == 0 or area == 666 or area >= 900:
        return "invalid area (000, 666 or 9xx)"
    if group == 0:
        return "group 00"
    if serial == 0:
        return "serial 0000"
    return None


IBAN_LENGTHS = {  # the SWIFT IBAN registry lengths for the countries Faker and the templates use
    "GB": 22, "DE": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18, "CH": 21, "SE": 24, "BE": 16, "AT": 20,
}


def iban_exclusion(value: str) -> str | None:
    compact = value.replace(" ", "")
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is None:
        return f"country {compact[:2]} not checked here"
    if len(compact) != expected:
        return f"length {len(compact)}, {compact[:2]} IBANs have {expected}"
    rearranged = compact[4:] + compact[:4]
    number = int("".join(str(int(c, 36)) for c in rearranged))
    return None if number % 97 == 1 else "fails mod-97"


def nanp_ok(area: str, exchange: str) -> bool:
    return area[0] in "23456789" and exchange[0] in "23456789" and area[1:] != "11" and exchange[1:] != "11"


def phone_exclusion(value: str) -> str | None:
    """Accepted shapes: `xxx-xxx-xxxx`, `xxx.xxx.xxxx`, `(xxx) xxx-xxxx` with NANP area and
    exchange; E.164 `+` and 8-15 digits (a `+1` number must be NANP)."""
    if "x" in value:
        return "has an extension (`x123`)"
    if value.startswith("001"):
        return "`001` international prefix without `+`"
    if value.startswith("+"):
        digits = re.sub(r"\D", "", value)
        if digits[0] == "0" or not 8 <= len(digits) <= 15:
            return "not E.164"
        if digits[0] == "1" and (len(digits) != 11 or not nanp_ok(digits[1:4], digits[4:7])):
            return "+1 number with a non-NANP area code or exchange"
        return None
    match = re.fullmatch(r"\((\d{3})\) ?(\d{3})[-. ]\d{4}", value) or re.fullmatch(
        r"(\d{3})([-.])(\d{3})\2\d{4}", value
    )
    if match:
        area, exchange = match.group(1), match.groups()[-1]
        return None if nanp_ok(area, exchange) else "non-NANP area code or exchange (0/1 first, or N11)"
    if re.fullmatch(r"\d{10,11}", value):
        return "bare digits without separators (the detector needs a separated or + form)"
    return "national format outside the NANP and E.164 shapes"


def email_exclusion(value: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", value) else "malformed"


EXCLUSION = {
    "credit_card": card_exclusion,
    "us_ssn": ssn_exclusion,
    "iban": iban_exclusion,
    "email": email_exclusion,
    "phone": phone_exclusion,
}


# ---------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------
class Filler:
    def __init__(self, seed: int, phone_formats: list[str]):
        self.faker = Faker("en_US")
        self.faker.seed_instance(seed)
        self.phone_formats = phone_formats

    def value(self, placeholder: str, presidio_phone: bool = False) -> str:
        f = self.faker
        if placeholder == "phone_number" and presidio_phone:
            return f.numerify(f.random_element(self.phone_formats))
        special = {
            "person": f.name,
            "organization": f.company,
            "age": lambda: str(f.random_int(1, 99)),
            "nationality": lambda: f.random_element(_NATIONALITIES),
            "nation_woman": lambda: f.random_element(_NATIONALITIES),
            "nation_man": lambda: f.random_element(_NATIONALITIES),
            "nation_plural": lambda: f.random_element(_NATIONS_PLURAL),
            "us_driver_license": lambda: f.bothify("?#######").upper(),
            "ip_address": f.ipv4,
            "date_of_birth": lambda: f.date_of_birth().strftime("%m/%d/%Y"),
            "date_time": lambda: f.date_time().strftime("%B %d, %Y %H:%M"),
        }
        generate = special.get(placeholder) or getattr(f, placeholder)
        value = generate()
        if isinstance(value, (date, datetime)):
            value = value.isoformat()
        return str(value)


@dataclass
class Segment:
    text: str
    entity: Entity | None = None


def _fill(template: str, filler: Filler, presidio_phone: bool) -> list[Segment]:
    segments: list[Segment] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        segments.append(Segment(template[position : match.start()]))
        name = match.group(1)
        value = filler.value(name, presidio_phone)
        entity = None
        if name in TARGETS:
            detector = TARGETS[name]
            kind = PRESIDIO_PHONE if (presidio_phone and name == "phone_number") else name
            entity = Entity(kind, detector, value, EXCLUSION[detector](value))
        segments.append(Segment(value, entity))
        position = match.end()
    segments.append(Segment(template[position:]))
    return segments


def _assemble(template_index: int, segments: list[Segment], json_escaped: bool) -> Sample:
    """The sample text and its entities' byte spans. JSON escaping is per character, so escaping
    each segment separately gives the escaped whole."""
    sample = Sample(template_index, "")
    parts = []
    offset = 0
    for segment in segments:
        text = json.dumps(segment.text, ensure_ascii=False)[1:-1] if json_escaped else segment.text
        size = len(text.encode("utf-8"))
        if segment.entity is not None:
            e = segment.entity
            sample.entities.append(Entity(e.kind, e.detector, e.value, e.excluded_because, offset, offset + size))
        parts.append(text)
        offset += size
    sample.text = "".join(parts)
    return sample


@dataclass
class PIICorpus:
    templates: int
    plain: list[Sample]  # as a decoded argument string
    json_escaped: list[Sample]  # the same samples as they appear inside a raw JSON body


def generate(wheel: WheelData, per_kind: int = 600, negatives: int = 800, seed: int = 20240917) -> PIICorpus:
    """`per_kind` samples for each target placeholder (cycling through the templates that have it,
    in a seeded order), `per_kind` more phone samples in presidio-evaluator's own phone formats,
    and `negatives` samples from templates without any target placeholder."""
    templates = load_templates(wheel)
    filler = Filler(seed, presidio_phone_formats(wheel))
    rng = random.Random(seed)
    plan: list[tuple[int, bool]] = []
    for name in list(TARGETS) + [PRESIDIO_PHONE]:
        placeholder = "phone_number" if name == PRESIDIO_PHONE else name
        having = [i for i, t in enumerate(templates) if placeholder in _PLACEHOLDER.findall(t)]
        rng.shuffle(having)
        plan += [(having[i % len(having)], name == PRESIDIO_PHONE) for i in range(per_kind)]
    without = [i for i, t in enumerate(templates) if not set(_PLACEHOLDER.findall(t)) & set(TARGETS)]
    rng.shuffle(without)
    plan += [(without[i % len(without)], False) for i in range(negatives)]
    plain, escaped = [], []
    for index, presidio_phone in plan:
        segments = _fill(templates[index], filler, presidio_phone)
        plain.append(_assemble(index, segments, json_escaped=False))
        escaped.append(_assemble(index, segments, json_escaped=True))
    return PIICorpus(len(templates), plain, escaped)
