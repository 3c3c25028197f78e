"""Write `tickets.jsonl`: 1,000 synthetic customer-support tickets for lesson 11 (Message Batches at scale).

Each line is `{"id": "T0001", "text": "..."}`. The texts come from templates and a fixed random seed, so running
this again writes the same file: `python notebooks/data/make_tickets.py`. Each template names exactly one of the
lesson's categories in passing (billing, shipping, account, technical, feedback); nothing here is real data.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

CATEGORIES = ("billing", "shipping", "account", "technical", "feedback")
TEMPLATES = {
    "billing": [
        "I was charged twice for order {order}. Could billing refund the second payment of {amount}?",
        "My invoice for {month} shows {amount} but my plan costs less. Please check the billing.",
        "Why did my card get a billing charge of {amount} on {day}? I cancelled last month.",
        "Billing question: can I get a VAT invoice for order {order}?",
        "The {product} subscription renewed at {amount} without warning. I'd like the billing reversed.",
    ],
    "shipping": [
        "Parcel {order} has said 'label created' for {days} days. What is going on with shipping?",
        "Can you change the shipping address on order {order}? I moved on {day}.",
        "Order {order} arrived with the {product} box crushed. Who pays the return shipping?",
        "Do you offer express shipping to {city}? I need the {product} by {day}.",
        "The shipping estimate for order {order} keeps moving. It was due on {day}.",
    ],
    "account": [
        "I can't log in to my account since {day}; the reset email never arrives.",
        "Please delete my account and all data linked to {email}.",
        "Someone changed the email on my account to {email}. I didn't do that!",
        "How do I merge my two account logins? One uses {email}.",
        "My account shows the wrong name after the {month} update.",
    ],
    "technical": [
        "The {product} app crashes when I open settings on {device}. Is this a technical fault?",
        "Sync has failed since {day} with error {code}. Any technical fix?",
        "After the update the {product} widget is blank on {device}. Technical help please.",
        "Exports from {product} stop at 99% with code {code}; looks like a technical bug.",
        "Notifications from {product} arrive hours late on {device}. Technical issue?",
    ],
    "feedback": [
        "Just some feedback: the new {product} checkout is much faster. Thanks!",
        "Feedback on {product}: the dark mode text is hard to read on {device}.",
        "Quick feedback: your agent {name} was brilliant on {day}.",
        "Some feedback about the {month} newsletter: too many emails for me.",
        "Feedback: please add {city} to the store finder in the {product} app.",
    ],
}
WEIGHTS = (30, 25, 20, 15, 10)
FILLERS = {
    "product": ["Lumo", "Lumo Pro", "Pathfinder", "Kettle One", "Nimbus", "Orbit Go"],
    "amount": ["$12.99", "$49.00", "$7.50", "$129.00", "$19.99", "$240.00"],
    "month": ["January", "March", "May", "August", "October", "November"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the 3rd", "the 14th", "the 28th"],
    "days": ["3", "5", "8", "12"],
    "city": ["Lisbon", "Nairobi", "Osaka", "Toronto", "Lyon", "Perth"],
    "device": ["Android 16", "iOS 20", "a Pixel tablet", "Windows 12", "macOS"],
    "code": ["E102", "E417", "SYNC-9", "X-500"],
    "name": ["Priya", "Tom", "Amara", "Jonas", "Mei"],
    "email": ["sam@example.com", "jo.k@example.org", "li@example.net"],
}


def tickets(count: int = 1_000, seed: int = 11) -> list[dict[str, str]]:
    """`count` tickets, each naming exactly one category word; ids T0001, T0002, ..."""
    rng = random.Random(seed)
    made = []
    for n in range(1, count + 1):
        category = rng.choices(CATEGORIES, WEIGHTS)[0]
        values = {key: rng.choice(options) for key, options in FILLERS.items()}
        values["order"] = f"#{rng.randrange(10_000, 99_999)}"
        text = rng.choice(TEMPLATES[category]).format(**values)
        named = [c for c in CATEGORIES if c in text.lower()]
        assert named == [category], (text, named)
        made.append({"id": f"T{n:04d}", "text": text})
    return made


if __name__ == "__main__":
    path = Path(__file__).with_name("tickets.jsonl")
    path.write_text("".join(json.dumps(t) + "\n" for t in tickets()), encoding="utf-8")
    print(f"wrote {path.name}")
