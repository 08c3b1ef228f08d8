"""Text pools the generators draw from (unicode on purpose: accents, CJK, Cyrillic, Arabic, emoji)."""

from __future__ import annotations

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sofía", "José", "Zoë", "Chloé", "Amélie", "François",
    "Björn", "Søren", "Łukasz", "Małgorzata", "Åsa", "Jürgen", "Ömer", "Çağla", "Priya", "Arjun", "Mei",
    "Yuki", "Haruto", "Min-jun", "Seo-yeon", "Олег", "Анна", "محمد", "فاطمة", "Nguyễn", "Thảo", "Siobhán",
    "Dvořák", "Ines", "Lucas", "Mia", "Ethan", "Isabella", "Kwame", "Amara", "Tomás", "Renée", "Nadia",
    "Sam 🚀", "Alex", "Jordan", "Taylor", "Morgan",
]
LAST_NAMES = [
    "Smith", "Johnson", "García", "Müller", "Dubois", "Rossi", "Nowak", "Kowalski", "Svensson", "Øberg",
    "Núñez", "Peña", "O'Brien", "Van der Berg", "de la Cruz", "Schröder", "Łęcka", "Yılmaz", "Kim", "Park",
    "Tanaka", "Sato", "王", "李", "陈", "佐藤", "田中", "Иванов", "Петрова", "الحسن", "Nguyen", "Tran",
    "Patel", "Sharma", "Okafor", "Mensah", "Silva", "Costa", "Fernández", "Jones", "Brown", "Williams",
]
CJK_FULL_NAMES = ["王小明", "李娜", "陈伟", "佐藤 花子", "田中 太郎", "김민준", "이서연", "張偉 🐉"]
COMPANY_WORDS = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Soylent", "Tyrell", "Nakatomi",
    "Cyberdyne", "Vandelay", "Wonka", "Zörg", "Café Olé", "北京科技", "東京商事", "Überwald", "Señor Bits",
    "Nordlys", "Piña", "Blue Sky ☁️",
]
COMPANY_SUFFIX = ["Inc.", "LLC", "GmbH", "S.A.", "Ltd", "AB", "K.K.", "SAS", "Co.", "Group"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "correo.example.es", "beispiel.example.de",
           "exemple.example.fr", "例え.example.jp"]

SENTENCES = [
    "Hi, my lock stopped responding after the last firmware update.",
    "The keypad shows a red light and won't pair with the bridge.",
    "Could you please send a replacement for the damaged part?",
    "I was charged twice for order #10422, can you refund one of them?",
    "Thanks so much for the quick help! 🙏",
    "Bonjour, ma serrure ne se verrouille plus automatiquement.",
    "Hola, ¿pueden ayudarme con la instalación del timbre?",
    "Guten Tag, die App zeigt „Gerät offline“ an.",
    "ドアロックがアプリに接続できません。",
    "门锁无法连接到网络，请帮忙。",
    "Замок не реагирует на команды из приложения.",
    "القفل لا يستجيب بعد التحديث الأخير.",
    "We've shipped the replacement via UPS, tracking number 1Z999AA10123456784.",
    "Please try removing the batteries for 10 seconds and re-inserting them.",
    "Your refund of $129.99 has been processed and should appear in 5–7 business days.",
    "Is there an ETA on the 2.0 firmware? 🤔",
    "The doorbell camera video is blurry at night — any settings I can change?",
    "I'd like to return the item; it's the wrong finish (satin nickel vs. matte black).",
    "Escalating to tier 2 — customer reports intermittent Wi‑Fi drops.",
    "Follow-up: customer confirmed the issue is resolved ✅",
]
SUBJECTS = [
    "Lock not responding", "Refund request", "Order #{n} status", "Wrong item received", "Firmware question",
    "Problème de connexion", "Pregunta sobre mi pedido", "Rückgabe", "注文について", "退货申请",
    "Keypad pairing 🔧", "Re: your support request", "Warranty claim", "Subscription renewal",
]
CHANNELS = ["email", "chat", "sms", "voice", "facebook", "instagram", "whatsapp", "twitter-dm"]
CHANNEL_WEIGHTS = [40, 25, 10, 8, 5, 4, 6, 2]
APP_BY_CHANNEL = {
    "email": "postmark", "chat": "chat", "sms": "twilio", "voice": "kustomer-voice", "facebook": "facebook",
    "instagram": "instagram", "whatsapp": "whatsapp", "twitter-dm": "twitter",
}
TAG_WORDS = [
    "vip", "refund", "billing", "shipping", "firmware", "hardware", "escalated", "bug", "feature-request",
    "lock", "keypad", "doorbell", "bridge", "returns", "warranty", "spam", "urgent", "follow-up", "sales",
    "onboarding", "Übersetzung", "reembolso", "重要", "🔥 hot",
]
COLORS = ["#e53935", "#8e24aa", "#3949ab", "#039be5", "#00897b", "#7cb342", "#fdd835", "#fb8c00", "#6d4c41",
          "#546e7a", "#64943E", "#000000"]
ICONS = ["account", "basket", "truck", "star", "alert", "heart", "lock", "key", "bell", "receipt",
         "clipboard-text", "cash-refund"]
TIMEZONES = ["America/New_York", "America/Los_Angeles", "Europe/Paris", "Europe/Berlin", "Asia/Tokyo",
             "Asia/Shanghai", "Australia/Sydney", "America/Sao_Paulo", "Africa/Lagos", "Asia/Kolkata"]
LOCALES = ["en_US", "en_GB", "fr_FR", "es_ES", "de_DE", "ja_JP", "zh_CN", "pt_BR", "ru_RU", "ar_SA"]
CITIES = [("New York", "NY", "US", 40.7128, -74.006), ("San José", "CA", "US", 37.3382, -121.8863),
          ("Paris", "IDF", "FR", 48.8566, 2.3522), ("München", "BY", "DE", 48.1351, 11.582),
          ("東京", "13", "JP", 35.6762, 139.6503), ("São Paulo", "SP", "BR", -23.5505, -46.6333),
          ("Kraków", "MA", "PL", 50.0647, 19.945), ("Lagos", "LA", "NG", 6.5244, 3.3792)]

# Tree (hierarchical picklist) values used by ...Tree custom attributes.
TREES = {
    "contact_reason": ["billing.refund", "billing.charge_dispute", "billing.invoice", "hardware.lock.jammed",
                       "hardware.lock.battery", "hardware.keypad.pairing", "software.app.login",
                       "software.app.crash", "shipping.delayed", "shipping.damaged", "returns.wrong_item"],
    "close_out": ["resolved.first_contact", "resolved.follow_up", "unresolved.no_response",
                  "unresolved.escalated", "duplicate", "spam"],
    "issue_report": ["connectivity.wifi", "connectivity.bluetooth", "power.battery", "power.wiring",
                     "installation.door_fit", "installation.strike_plate"],
    "call_reason": ["sales.new_order", "sales.upgrade", "support.install", "support.troubleshoot",
                    "support.warranty", "account.access"],
    "loyalty": ["bronze", "silver", "gold", "gold.plus", "platinum"],
    "segment": ["smb", "mid_market", "enterprise.tier1", "enterprise.tier2", "public_sector"],
    "intent": ["question", "complaint.product", "complaint.service", "praise", "request.refund",
               "request.return"],
    "fulfillment": ["pending", "fulfilled.partial", "fulfilled.complete", "cancelled.customer",
                    "cancelled.fraud"],
    "return_reason": ["damaged.in_transit", "damaged.defective", "wrong_item", "no_longer_needed",
                      "better_price"],
    "claim_type": ["hardware.defect", "hardware.wear", "accidental_damage", "lost"],
    "carrier": ["ups.ground", "ups.air", "fedex.ground", "usps.priority", "dhl.express"],
}

# ---------------------------------------------------------------------------------------------------------
