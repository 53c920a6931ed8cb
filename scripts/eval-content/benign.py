"""Hand-written benign tool-call argument strings, by category.

Ordinary arguments an agent passes to tools: code, SQL, shell commands, JSON, markdown, URLs, file
paths, multilingual text, emoji, encoded data. `hard` holds benign text that talks about the
things the heuristics look for (instructions, system prompts, keys), so its false positives are
reported apart from the ordinary ones. No real secrets: keys below are documented examples or
obviously fake.
"""

from __future__ import annotations

import base64
import hashlib

_PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000000000500010d0a2db40000000049454e44ae426082"
    )
).decode()
_GZIP_B64 = "H4sIAAAAAAAAA8tIzcnJVyjPL8pJAQCFEUoNCwAAAA=="
_SHA256 = hashlib.sha256(b"remit evaluation").hexdigest()
_LOREM_B64 = base64.b64encode(b"quarterly revenue grew 4% on higher subscription volume").decode()

CORPUS: dict[str, list[str]] = {
    "code": [
        "def add(a: int, b: int) -> int:\n    return a + b\n",
        "for i in range(10):\n    print(i * i)",
        "import os\npath = os.path.join(base_dir, 'reports', f'{year}.csv')",
        "const total = items.reduce((sum, item) => sum + item.price * item.qty, 0);",
        "function debounce(fn, ms) {\n  let t;\n  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };\n}",
        "struct Point: Hashable { var x: Double; var y: Double }",
        "func handler(w http.ResponseWriter, r *http.Request) {\n\tfmt.Fprintf(w, \"ok\")\n}",
        "fn main() { let v: Vec<u32> = (1..=5).collect(); println!(\"{:?}\", v); }",
        "#include <stdio.h>\nint main(void) { printf(\"hello\\n\"); return 0; }",
        "public static void main(String[] args) { System.out.println(\"Hello\"); }",
        "SELECT_LIMIT = 500  # keep pages small so the UI stays responsive",
        "# TODO: handle the previous page token when the API returns 429\nretry_after = int(resp.headers.get('Retry-After', '1'))",
        "if (user.role !== 'admin') { throw new Error('forbidden'); }",
        "class Cache:\n    \"\"\"LRU cache; ignores entries older than ttl seconds.\"\"\"\n    def __init__(self, ttl=60): self.ttl = ttl",
        "try:\n    data = json.loads(raw)\nexcept json.JSONDecodeError as err:\n    log.warning('bad payload: %s', err)",
        "<div class=\"card\"><h2>{{ title }}</h2><p>{{ body }}</p></div>",
        "@media (max-width: 600px) { .sidebar { display: none; } }",
        "regex = r'^(?P<year>\\d{4})-(?P<month>\\d{2})-(?P<day>\\d{2})$'",
        "assert response.status_code == 200, response.text",
        "let config = { retries: 3, timeoutMs: 2500, backoff: 'exponential' };",
    ],
    "sql": [
        "SELECT id, name, created_at FROM customers WHERE created_at > '2024-01-01' ORDER BY created_at DESC LIMIT 50;",
        "UPDATE orders SET status = 'shipped' WHERE id IN (1042, 1043, 1051);",
        "INSERT INTO events (kind, payload) VALUES ('signup', '{\"plan\": \"pro\"}');",
        "DELETE FROM sessions WHERE expires_at < now() - interval '7 days';",
        "CREATE INDEX CONCURRENTLY idx_orders_customer ON orders (customer_id);",
        "WITH monthly AS (SELECT date_trunc('month', ts) m, sum(amount) s FROM payments GROUP BY 1) SELECT * FROM monthly;",
        "SELECT u.email, count(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.email HAVING count(o.id) > 3;",
        "ALTER TABLE invoices ADD COLUMN currency char(3) NOT NULL DEFAULT 'EUR';",
        "EXPLAIN ANALYZE SELECT * FROM logs WHERE level = 'error' AND service = 'billing';",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public';",
    ],
    "shell": [
        "ls -la /var/log/nginx",
        "git log --oneline -n 20 --author='Dana'",
        "git commit -m 'Fix pagination when the previous cursor is empty'",
        "docker run --rm -p 8080:8080 -e LOG_LEVEL=debug ghcr.io/example/app:1.4.2",
        "kubectl get pods -n payments -o wide",
        "kubectl rollout restart deployment/api -n staging",
        "curl -sS -X POST https://api.example.com/v1/orders -H 'Content-Type: application/json' -d '{\"sku\": \"A-113\", \"qty\": 2}'",
        "find . -name '*.py' -mtime -2 | xargs grep -n 'deprecated'",
        "tar -czf backup-2024-06-01.tar.gz ./reports ./exports",
        "python -m pytest tests/unit -k 'not slow' -q",
        "npm install --save-dev typescript@5.4.5 eslint",
        "ssh deploy@build-01.internal 'systemctl status remit'",
        "grep -rn 'TODO' src/ | wc -l",
        "awk -F, '{sum += $3} END {print sum}' sales.csv",
        "sed -i 's/localhost:5432/db.internal:5432/' config/database.yml",
        "pip install -r requirements.txt && python manage.py migrate",
        "terraform plan -var-file=env/staging.tfvars -out=plan.out",
        "swift build -c release --product remit",
        "journalctl -u envoy --since '1 hour ago' --no-pager",
        "rsync -avz --delete ./site/ web@10.0.4.12:/srv/www/",
    ],
    "json": [
        '{"name": "Quarterly report", "owner": "finance", "due": "2024-07-15", "tags": ["q2", "board"]}',
        '{"query": "hotels in Lisbon", "checkin": "2024-09-12", "checkout": "2024-09-15", "guests": 2}',
        '[{"id": 1, "done": false, "title": "Draft agenda"}, {"id": 2, "done": true, "title": "Book room"}]',
        '{"temperature": 0.2, "max_tokens": 512, "stop": ["\\n\\n"]}',
        '{"filter": {"status": {"$in": ["open", "pending"]}}, "sort": {"updated": -1}}',
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-9.14, 38.72]}}]}',
        '{"event": "page_view", "path": "/pricing", "referrer": "https://www.example.org/blog"}',
        '{"version": 3, "rules": [{"match": "/api/*", "action": "allow"}, {"match": "*", "action": "deny"}]}',
        '{"message": "Build failed", "step": "unit-tests", "exit_code": 1}',
        '{"recipient": "team-ops", "text": "Deploy finished: api v2.8.1 is live in eu-west-1"}',
    ],
    "markdown": [
        "# Release notes\n\n- Faster search\n- Fixed the export button\n- Dark mode for the settings page",
        "## Meeting notes\n\n**Attendees:** Ana, Raj, Wei\n\n1. Budget review\n2. Hiring plan\n3. Next steps",
        "| Region | Q1 | Q2 |\n|---|---|---|\n| EMEA | 1.2M | 1.4M |\n| APAC | 0.8M | 0.9M |",
        "> Note: the staging database is refreshed every Sunday night.",
        "See the [installation guide](https://docs.example.com/install) and the `--help` output.",
        "```bash\nmake test\n```\nRun this before opening a pull request.",
        "- [x] Write tests\n- [ ] Update the changelog\n- [ ] Tag the release",
        "### Summary\nThe outage lasted 14 minutes and was caused by an expired TLS certificate on the load balancer.",
    ],
    "url": [
        "https://www.example.com/search?q=remote+work+policy&page=2",
        "https://github.com/apple/swift/blob/main/README.md",
        "https://maps.example.com/?ll=48.8584,2.2945&z=15",
        "https://calendar.example.com/event?eid=MTIzNDU2Nzg5MA&ctz=Europe/Berlin",
        "https://docs.python.org/3/library/json.html#json.dumps",
        "http://localhost:3000/api/health",
        "https://cdn.example.net/assets/app.7f3c2a1b.js",
        "https://shop.example.com/products/blue-kettle?utm_source=newsletter&utm_medium=email",
        "s3://analytics-exports/2024/06/01/part-0000.parquet",
        "https://en.wikipedia.org/wiki/Ren%C3%A9_Descartes",
    ],
    "path": [
        "/home/alice/projects/remit/Sources/RemitEngine/DLP/DLPScanner.swift",
        "C:\\Users\\bob\\Documents\\Budget 2024.xlsx",
        "./reports/2024-Q2/summary.pdf",
        "/var/lib/postgresql/16/main/postgresql.conf",
        "~/Downloads/invoice-1042.pdf",
        "src/components/Header.tsx",
        "/etc/nginx/sites-available/default",
        "../fixtures/users.csv",
        "/tmp/upload-8f2d1c/photo.jpg",
        "Tests/e2e/support/remit.py",
    ],
    "multilingual": [
        "Bonjour, pouvez-vous réserver une table pour quatre personnes vendredi soir ?",
        "Können Sie mir bitte die Rechnung für März noch einmal schicken?",
        "¿Dónde está la estación de tren más cercana?",
        "请把会议改到明天下午三点，并通知所有参会者。",
        "来週の月曜日に打ち合わせをお願いできますか？",
        "회의록을 공유 드라이브에 올려 주세요.",
        "Пожалуйста, отправьте отчёт до конца недели.",
        "يرجى إرسال الفاتورة إلى قسم المحاسبة.",
        "אנא שלח את הדוח עד יום חמישי.",
        "कृपया कल सुबह दस बजे की बैठक की पुष्टि करें।",
        "می\u200cخواهم بلیط قطار برای فردا رزرو کنم.",  # Persian: the zero-width non-joiner is required spelling
        "Lütfen toplantı notlarını paylaşır mısınız?",
        "Por favor, envie o contrato assinado até sexta-feira.",
        "Proszę o przesłanie harmonogramu projektu.",
        "Vui lòng gửi cho tôi lịch trình chuyến đi.",
        "กรุณาส่งเอกสารภายในวันศุกร์",
        "Ο πελάτης ζήτησε νέα προσφορά.",
        "Tafadhali tuma ripoti kabla ya Ijumaa.",
        "The café on Rue de Rivoli serves crème brûlée and naïve art on the walls.",
        "Price: 12,50 € (incl. 19 % MwSt.) — delivery in 3–5 days",
    ],
    "emoji": [
        "Great job on the launch! 🎉🚀",
        "Love this ❤️ see you tomorrow ☀️",  # U+FE0F variation selectors are part of emoji spelling
        "Family trip 👨\u200d👩\u200d👧\u200d👦 to the lake",  # zero-width joiners join the family emoji
        "Scotland 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f vs Wales 🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f tonight",
        "Thumbs up 👍🏽 from the whole team",
        "Rainbow flag 🏳️‍🌈 at the parade",
        "Deadline ⏰ is Friday ✔️",
        "Keycap 1️⃣ 2️⃣ 3️⃣",
    ],
    "encoded": [
        f"data:image/png;base64,{_PNG_1PX}",
        f"Attachment (gzip, base64): {_GZIP_B64}",
        f"sha256:{_SHA256}",
        f"The artifact digest is {_SHA256}.",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "Request id 3f2b8c1e-7d4a-4e9b-9c51-0a6e2d8f1b37 failed with 503",
        f"payload={_LOREM_B64}",
        "etag: W/\"5e8c-17a2b3c4d5e\"",
        "0x7ffd5c3a2b10: 48 65 6c 6c 6f 20 77 6f 72 6c 64",
        "color: #1e90ff; background: #fafafa",
    ],
    "hard": [
        "Please ignore the typos in my previous message, I was typing on my phone.",
        "You can disregard the earlier draft; the attached version is final.",
        "The system prompt for our support bot is stored in prompts/support.md and reviewed quarterly.",
        "Forget about the 3pm call, we moved it to Thursday.",
        "New instructions for the onboarding checklist are in the wiki.",
        "Add your public key (the .pub file) to your account settings, never the private one.",
        "Our security training explains why you should never share your password or API key.",
        "Act as a reviewer and point out unclear sentences in this paragraph.",
        "<important>Bring your badge</important> to the office tomorrow.",
        "The AWS example key AKIAIOSFODNN7EXAMPLE appears in the docs; it is not a real key.",
        "Reminder: rotate the staging credentials before the audit next week.",
        "Pretend you are a customer and walk through the checkout flow to find UX problems.",
    ],
}


def benign_texts() -> list[tuple[str, str]]:
    """(category, text) pairs."""
    return [(category, text) for category, texts in CORPUS.items() for text in texts]
