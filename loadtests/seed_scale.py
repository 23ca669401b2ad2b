"""A database at scale for the dashboard bench: N conversations (default 100,000) of 10
messages each, in Russian and English, 4 branches, 4 inboxes, operators and an admin.

    python loadtests/seed_scale.py --dsn postgresql://postgres@127.0.0.1:5432/messenger_dash
    python loadtests/seed_scale.py --dsn ... --conversations 20000 --json

The database must be migrated (``messenger db upgrade``) and should be empty. Everything is
written with set-based SQL (``INSERT … SELECT generate_series``), never ORM objects: a million
messages take well under a minute. The full-text indexes of migration 0004 are dropped for
the bulk insert and built again afterwards (one build is much cheaper than a million
updates of a GIN index).

Users (password ``--password``, default ``scale-password``): ``admin@scale.local`` (admin),
``operator1@scale.local`` … ``operator4@scale.local`` (one branch each) and
``multi@scale.local`` (branches 1 and 2).
"""

# ruff: noqa: RUF001 - the Russian phrases are meant to contain Cyrillic letters
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg

from messenger.cli.progress import Reporter

DEFAULT_DSN = os.environ.get("SEED_DSN", "postgresql://postgres@127.0.0.1:5432/messenger_dash")
DEFAULT_PASSWORD = "scale-password"  # noqa: S105 - a throwaway bench database's users
MESSAGES_PER_CONVERSATION = 10
BRANCHES = ("Москва", "Санкт-Петербург", "London", "Казань")
#: (name, branch index or None for a global inbox, locale)
INBOXES: tuple[tuple[str, int | None, str | None], ...] = (
    ("Интернет-магазин", 0, "ru"),
    ("Shop (EN)", 2, "en"),
    ("Глобальный сайт", None, None),
    ("Сервисный центр", 3, "ru"),
)
#: The search indexes of migration 0004 that the bulk insert runs without.
SEARCH_INDEXES = {
    "ix_messages_search_ru": "CREATE INDEX ix_messages_search_ru ON messages USING gin (search_ru)",
    "ix_messages_search_en": "CREATE INDEX ix_messages_search_en ON messages USING gin (search_en)",
}

# A support desk's vocabulary, with the inflected forms real people write.
RU_PHRASES = [
    "Здравствуйте! Когда будет доставка моего заказа?",
    "Подскажите, пожалуйста, сроки доставки в Казань",
    "Я оформил доставку на завтра, можно перенести?",
    "Курьер опоздал с доставкой уже на два часа",
    "Сколько стоит доставка до пункта выдачи?",
    "Хочу оформить возврат товара",
    "Как вернуть деньги за возвращённый заказ?",
    "Возврат средств занимает до десяти рабочих дней",
    "Оплата картой не проходит, что делать?",
    "Можно оплатить заказ при получении?",
    "Деньги списали дважды, проверьте оплату",
    "Где мой заказ? Трек-номер не работает",
    "Заказы из интернет-магазина приходят без чека",
    "Подскажите статус заказа номер",
    "Товар пришёл повреждённым, упаковка порвана",
    "Размер не подошёл, нужен обмен",
    "Обменяйте, пожалуйста, на другой цвет",
    "Спасибо за быструю помощь!",
    "Оператор, ответьте, пожалуйста",
    "Не могу войти в личный кабинет",
    "Забыл пароль от личного кабинета",
    "Промокод не применяется к корзине",
    "Скидки на товары со склада действуют?",
    "Когда товар появится на складе?",
    "Есть ли гарантия на технику?",
    "Гарантийный ремонт в сервисном центре",
    "Пришлите счёт для юридического лица",
    "Нужны закрывающие документы для бухгалтерии",
    "Как связаться с менеджером по доставкам?",
    "Курьерская служба не отвечает на звонки",
]
RU_OPERATOR = [
    "Добрый день! Сейчас проверю ваш заказ.",
    "Доставка запланирована на завтра с 10 до 18 часов.",
    "Возврат оформлен, деньги поступят в течение недели.",
    "Передал обращение в службу доставки.",
    "Уточните, пожалуйста, номер заказа.",
    "Оплата прошла успешно, заказ собирается.",
    "Курьер свяжется с вами за час до приезда.",
    "Обмен возможен в течение 14 дней.",
]
EN_PHRASES = [
    "Hello! When will my delivery arrive?",
    "Deliveries to London are late again",
    "Can I change the delivery address for my order?",
    "The courier delivered the parcel to the wrong door",
    "How much does express delivery cost?",
    "I would like to return an item",
    "Refunds take too long, where is my money?",
    "My refund was approved but not received",
    "Payment with my card keeps failing",
    "Can I pay on delivery?",
    "I was charged twice for one order",
    "Where is my order? The tracking number does not work",
    "Orders from the online shop arrive without an invoice",
    "Please check the status of my order",
    "The item arrived damaged and the box was torn",
    "The size does not fit, I need an exchange",
    "Could you exchange it for another colour?",
    "Thanks for the quick help!",
    "I cannot sign in to my account",
    "I forgot the password of my account",
    "The promo code does not apply to my basket",
    "When will the product be back in stock?",
    "Is there a warranty on electronics?",
    "Please send an invoice for my company",
]
EN_OPERATOR = [
    "Good afternoon! Let me check your order.",
    "Your delivery is scheduled for tomorrow between 10 and 6.",
    "The refund has been issued, it takes up to five days.",
    "I have passed your request to the delivery team.",
    "Could you tell me your order number, please?",
    "The payment went through, your order is being packed.",
]
RU_FIRST = ["Анна", "Иван", "Мария", "Сергей", "Ольга", "Дмитрий", "Елена", "Алексей", "Наталья"]
RU_LAST = ["Иванова", "Петров", "Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева", "Козлов"]
RU_LATIN = ["anna", "ivan", "maria", "sergey", "olga", "dmitry", "elena", "alexey", "natalia"]
EN_FIRST = ["Oliver", "Emma", "James", "Sophie", "Harry", "Isla", "George", "Amelia", "Jack"]
EN_LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas"]
DOMAINS = ["mail.ru", "yandex.ru", "gmail.com", "example.com", "outlook.com"]


@dataclass
class ScaleSeed:
    conversations: int
    messages: int
    seconds: float
    password: str
    admin_email: str = "admin@scale.local"
    operator_email: str = "operator1@scale.local"  # one branch (the first)
    branch_ids: list[int] = field(default_factory=list)
    inbox_ids: list[int] = field(default_factory=list)


async def _users(conn: asyncpg.Connection, branch_ids: list[int], password: str) -> None:
    from messenger.accounts.passwords import hash_password

    digest = hash_password(password)
    people: list[tuple[str, str, str, list[int]]] = [
        ("admin@scale.local", "Scale Admin", "admin", []),
        *(
            (f"operator{n}@scale.local", f"Operator {n}", "operator", [branch_id])
            for n, branch_id in enumerate(branch_ids, start=1)
        ),
        ("multi@scale.local", "Multi Branch", "operator", branch_ids[:2]),
    ]
    for email, name, role, branches in people:
        user_id = await conn.fetchval(
            "INSERT INTO users (email, name, password_hash, role, is_active, timezone,"
            " session_epoch, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, true, 'Europe/Moscow', 0, now(), now()) RETURNING id",
            email,
            name,
            digest,
            role,
        )
        await conn.executemany(
            "INSERT INTO user_branches (user_id, branch_id) VALUES ($1, $2)",
            [(user_id, b) for b in branches],
        )


#: The steps :func:`seed` reports (``on_step``): the progress bar's total.
SEED_STEPS = 9
Step = Callable[[str], None]


def _no_step(_: str) -> None:
    return None


async def seed(
    dsn: str, conversations: int, password: str = DEFAULT_PASSWORD, on_step: Step = _no_step
) -> ScaleSeed:
    started = time.monotonic()
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute("SET synchronous_commit = off")
        branch_ids = [
            await conn.fetchval(
                "INSERT INTO branches (name, is_active, created_at, updated_at)"
                " VALUES ($1, true, now(), now()) RETURNING id",
                name,
            )
            for name in BRANCHES
        ]
        inbox_ids = []
        for n, (name, branch, locale) in enumerate(INBOXES):
            settings: dict[str, Any] = {"security": {"allowed_domains": ["127.0.0.1"]}}
            if locale:
                settings["locale"] = locale
            inbox_ids.append(
                await conn.fetchval(
                    "INSERT INTO inboxes (name, widget_token, branch_id, fallback_branch_id,"
                    " settings, identity_secret, is_active, created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5::jsonb, $6, true, now(), now()) RETURNING id",
                    name,
                    f"wt_scale_{n}_{os.urandom(8).hex()}",
                    branch_ids[branch] if branch is not None else None,
                    branch_ids[2] if branch is None else None,
                    json.dumps(settings),
                    os.urandom(32).hex(),
                )
            )
        await _users(conn, branch_ids, password)
        operators = await conn.fetch(
            "SELECT ub.branch_id, min(u.id) AS user_id FROM users u"
            " JOIN user_branches ub ON ub.user_id = u.id WHERE u.email LIKE 'operator%'"
            " GROUP BY ub.branch_id"
        )
        by_branch = {row["branch_id"]: row["user_id"] for row in operators}
        on_step("branches, inboxes, users")
        await _bulk(conn, conversations, branch_ids, inbox_ids, by_branch, on_step)
        await asyncio.gather(*(_build_index(dsn, sql) for sql in SEARCH_INDEXES.values()))
        on_step("search indexes")
        # The read markers were set by UPDATEs: VACUUM clears the old row versions and marks
        # the pages all-visible, as autovacuum would soon do (index-only scans need it).
        await conn.execute("VACUUM (ANALYZE) conversations")
        await conn.execute("VACUUM (ANALYZE) messages")
        await conn.execute("ANALYZE")
        on_step("vacuum")
        messages = await conn.fetchval("SELECT count(*) FROM messages")
    finally:
        await conn.close()
    return ScaleSeed(
        conversations=conversations,
        messages=int(messages),
        seconds=round(time.monotonic() - started, 1),
        password=password,
        branch_ids=branch_ids,
        inbox_ids=inbox_ids,
    )


async def _bulk(
    conn: asyncpg.Connection,
    count: int,
    branch_ids: list[int],
    inbox_ids: list[int],
    operators: dict[int, int],
    on_step: Step = _no_step,
) -> None:
    # Conversation g: inbox (g % 4); the global inbox's conversations go to branch 2 or 4.
    # Language of its texts: the inbox's, the global inbox alternates.
    await conn.execute(
        """
        CREATE TEMP TABLE seed_plan AS
        SELECT g,
               ($2::bigint[])[1 + g % 4] AS inbox_id,
               CASE g % 4 WHEN 0 THEN ($3::bigint[])[1] WHEN 1 THEN ($3::bigint[])[3]
                          WHEN 2 THEN ($3::bigint[])[2 + 2 * (g / 4 % 2)]
                          ELSE ($3::bigint[])[4] END AS branch_id,
               CASE WHEN g % 4 = 1 OR (g % 4 = 2 AND g % 3 = 0) THEN 'en' ELSE 'ru' END AS lang,
               md5('v' || g)::uuid AS visitor_id,
               md5('c' || g)::uuid AS conversation_id,
               now() - make_interval(secs => g * 25 + (g * 7919) % 20) AS last_at
        FROM generate_series(1, $1::int) AS g
        """,
        count,
        inbox_ids,
        branch_ids,
    )
    on_step("plan")
    await conn.execute(
        """
        INSERT INTO visitors (id, inbox_id, name, email, phone, locale, created_at, updated_at)
        SELECT p.visitor_id, p.inbox_id,
               CASE WHEN g % 7 = 0 THEN NULL
                    WHEN lang = 'ru' THEN ($1::text[])[1 + g % 9] || ' ' || ($2::text[])[1 + g / 9 % 8]
                    ELSE ($3::text[])[1 + g % 9] || ' ' || ($4::text[])[1 + g / 9 % 8] END,
               CASE WHEN g % 3 = 0 THEN NULL
                    ELSE CASE WHEN lang = 'ru' THEN ($5::text[])[1 + g % 9]
                              ELSE lower(($3::text[])[1 + g % 9]) END
                         || '.' || g || '@' || ($6::text[])[1 + g % 5] END,
               CASE WHEN g % 5 < 2 THEN NULL
                    ELSE '+7 9' || lpad((g % 100)::text, 2, '0') || ' '
                         || lpad((g / 100 % 1000)::text, 3, '0') || '-'
                         || lpad((g % 97)::text, 2, '0') || '-' || lpad((g % 89)::text, 2, '0') END,
               lang, p.last_at - interval '1 hour', p.last_at
        FROM seed_plan p
        """,
        RU_FIRST,
        RU_LAST,
        EN_FIRST,
        EN_LAST,
        RU_LATIN,
        DOMAINS,
    )
    on_step("visitors")
    assignees = [operators.get(b) for b in branch_ids]
    await conn.execute(
        """
        INSERT INTO conversations (id, inbox_id, branch_id, visitor_id, channel, status, priority,
                                   assignee_id, last_activity_at, created_at, updated_at)
        SELECT p.conversation_id, p.inbox_id, p.branch_id, p.visitor_id, 'chat',
               (ARRAY['open','open','open','pending','pending','resolved','resolved',
                      'resolved','closed','closed'])[1 + g % 10],
               CASE WHEN g % 53 = 0 THEN 'urgent' WHEN g % 17 = 0 THEN 'high'
                    WHEN g % 29 = 0 THEN 'low' ELSE 'normal' END,
               CASE WHEN g % 3 = 0
                    THEN ($1::bigint[])[array_position($2::bigint[], p.branch_id)] END,
               p.last_at, p.last_at - interval '1 hour', p.last_at
        FROM seed_plan p
        """,
        assignees,
        branch_ids,
    )
    on_step("conversations")
    for name in SEARCH_INDEXES:
        await conn.execute(f"DROP INDEX IF EXISTS {name}")
    # The unread-count triggers (migration 0004) would update a conversation per visitor
    # message: off for the bulk insert (superuser only), the counts are set below instead.
    await conn.execute("SET session_replication_role = replica")
    await conn.execute(
        """
        INSERT INTO messages (conversation_id, sender, kind, author_id, body, created_at, updated_at)
        SELECT p.conversation_id,
               CASE WHEN k % 2 = 1 THEN 'visitor' ELSE 'operator' END,
               CASE WHEN k = 10 AND g % 5 = 0 THEN 'note' ELSE 'message' END,
               CASE WHEN k % 2 = 0 THEN c.assignee_id END,
               CASE WHEN k = 10 AND g % 5 = 0 THEN
                        CASE WHEN lang = 'ru' THEN 'Заметка: клиент постоянный, ' ELSE 'Note: loyal customer, ' END
                        || CASE WHEN lang = 'ru' THEN ($3::text[])[1 + (g * 31 + k) % cardinality($3::text[])]
                                ELSE ($4::text[])[1 + (g * 31 + k) % cardinality($4::text[])] END
                    WHEN k % 2 = 1 AND lang = 'ru' THEN
                        ($1::text[])[1 + (g * 7919 + k * 104729) % cardinality($1::text[])]
                        || CASE WHEN (g + k) % 3 = 0 THEN ' ' || ($1::text[])[1 + (g * 31 + k * 17) % cardinality($1::text[])] ELSE '' END
                        || CASE WHEN k = 1 THEN ' Заказ №' || (100000 + g) ELSE '' END
                    WHEN k % 2 = 1 THEN
                        ($2::text[])[1 + (g * 7919 + k * 104729) % cardinality($2::text[])]
                        || CASE WHEN (g + k) % 3 = 0 THEN ' ' || ($2::text[])[1 + (g * 31 + k * 17) % cardinality($2::text[])] ELSE '' END
                        || CASE WHEN k = 1 THEN ' Order #' || (100000 + g) ELSE '' END
                    WHEN lang = 'ru' THEN ($3::text[])[1 + (g * 13 + k) % cardinality($3::text[])]
                    ELSE ($4::text[])[1 + (g * 13 + k) % cardinality($4::text[])] END,
               c.created_at + make_interval(mins => k * 6),
               c.created_at + make_interval(mins => k * 6)
        FROM seed_plan p
        JOIN conversations c ON c.id = p.conversation_id
        CROSS JOIN generate_series(1, $5::int) AS k
        ORDER BY g DESC, k
        """,
        RU_PHRASES,
        EN_PHRASES,
        RU_OPERATOR,
        EN_OPERATOR,
        MESSAGES_PER_CONVERSATION,
    )
    on_step("messages")
    # Read markers: closed and resolved ones read; of the rest, a third stops one or two
    # messages short of the end (two: the visitor's message 9 is unread).
    await conn.execute(
        """
        UPDATE conversations c
        SET operator_last_read_id = CASE
                WHEN c.status IN ('resolved', 'closed') OR p.g % 3 <> 0 THEN m.last_id
                ELSE m.last_id - 1 - p.g % 2 END,
            visitor_last_read_id = m.last_id
        FROM (SELECT conversation_id, max(id) AS last_id FROM messages GROUP BY conversation_id) m,
             seed_plan p
        WHERE m.conversation_id = c.id AND p.conversation_id = c.id
        """
    )
    on_step("read markers")
    # The unread counts the triggers would have kept: visitor messages after the marker.
    await conn.execute(
        """
        UPDATE conversations c SET unread_count = u.n
        FROM (SELECT m.conversation_id, count(*) AS n FROM messages m
              JOIN conversations c2 ON c2.id = m.conversation_id
              WHERE m.sender = 'visitor' AND m.id > coalesce(c2.operator_last_read_id, 0)
              GROUP BY m.conversation_id) u
        WHERE u.conversation_id = c.id
        """
    )
    on_step("counts")
    await conn.execute("SET session_replication_role = DEFAULT")
    await conn.execute("DROP TABLE seed_plan")


async def _build_index(dsn: str, sql: str) -> None:
    """Build one index on its own connection (the two GIN builds run side by side)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="a migrated, empty database")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if args.conversations < 1:
        parser.error("--conversations must be at least 1")
    # A bar with the steps and the time left on a terminal, JSON lines with --json (stderr).
    with Reporter("seed", SEED_STEPS, as_json=args.json) as progress:
        result = asyncio.run(
            seed(
                args.dsn,
                args.conversations,
                args.password,
                on_step=lambda step: progress.advance(step=step),
            )
        )
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(
            f"seeded {result.conversations} conversations, {result.messages} messages "
            f"in {result.seconds} s; admin {result.admin_email}, operator {result.operator_email}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
