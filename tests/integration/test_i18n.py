"""The catalogs used by the app: widget API errors in the widget's language."""

from tests.support.app import app_client


async def test_widget_api_errors_speak_the_widgets_language(env):
    async with app_client(env) as client:
        body = {"widget_token": "wt_unknown-token"}
        origin = {"Origin": "https://shop.example"}
        ru = await client.post(
            "/api/widget/bootstrap", json=body, headers={**origin, "Accept-Language": "ru-RU"}
        )
        en = await client.post(
            "/api/widget/bootstrap", json=body, headers={**origin, "Accept-Language": "en"}
        )
        assert ru.status_code == en.status_code == 404
        assert ru.json() == {"error": "not_found", "detail": "Неизвестный токен виджета."}
        assert en.json() == {"error": "not_found", "detail": "Unknown widget token."}
        invalid = await client.post(
            "/api/widget/bootstrap", json={"nope": 1}, headers={**origin, "Accept-Language": "ru"}
        )
        assert invalid.status_code == 422
        assert invalid.json()["error"] == "invalid"
        assert invalid.json()["detail"] == "Неверный запрос; подробности в errors."
        unauthorized = await client.get(
            "/api/widget/messages", headers={**origin, "Accept-Language": "en"}
        )
        assert unauthorized.json()["error"] == "unauthorized"
        assert unauthorized.json()["detail"].startswith("Missing, expired or invalid session token")
