"""Release readiness: two processes behave as one, metrics count refusals, logs stay clean."""

from messenger.config import Settings
from tests.support.app import app_client
from tests.support.factories import make_branch, make_inbox
from tests.support.widget import ORIGIN


async def metric(client, name: str, **labels: str) -> float:
    text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_403_and_429_after_they_happen(env, db_session):
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch, domains=["shop.example"])
    settings = Settings.from_env({**env, "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "1/minute"})
    async with app_client(settings) as client:
        name = "messenger_widget_refusals_total"
        before_403 = await metric(client, name, status="403", reason="origin_not_in_allowlist")
        before_429 = await metric(client, name, status="429", reason="bootstrap_per_ip")
        refused = await client.post(
            "/api/widget/bootstrap",
            json={"widget_token": inbox.widget_token},
            headers={"Origin": "https://evil.example"},
        )
        assert refused.status_code == 403
        assert (
            await metric(client, name, status="403", reason="origin_not_in_allowlist")
            == before_403 + 1
        )
        ok = await client.post(
            "/api/widget/bootstrap",
            json={"widget_token": inbox.widget_token},
            headers={"Origin": ORIGIN},
        )
        assert ok.status_code == 200
        throttled = await client.post(
            "/api/widget/bootstrap",
            json={"widget_token": inbox.widget_token},
            headers={"Origin": ORIGIN},
        )
        assert throttled.status_code == 429
        assert await metric(client, name, status="429", reason="bootstrap_per_ip") == before_429 + 1
        requests = await metric(
            client, "messenger_requests_total", path="/api/widget/bootstrap", status_code="429"
        )
        assert requests >= 1
