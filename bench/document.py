"""A realistic session document: a few KB of env, classifier config, navigation and keys."""

from __future__ import annotations

from typing import Any

CLIENT_ID = "acme"
USER_ID = "alice"
APP_ID = "web"
PROJECT_ID = "p1"
SESSION_ID = f"session:{CLIENT_ID}:{USER_ID}:{APP_ID}:{PROJECT_ID}"
CLAIMS = {"sub": USER_ID, "client_id": CLIENT_ID}

CLASSIFIER_CONFIG: dict[str, Any] = {
    "model": "intent-m7",
    "version": "2026.11.2",
    "threshold": 0.62,
    "fallback_label": "other",
    "labels": [
        "billing",
        "shipping",
        "returns",
        "account",
        "catalog",
        "checkout",
        "support",
        "feedback",
        "other",
    ],
    "weights": {"recency": 0.35, "frequency": 0.25, "context": 0.4},
    "features": {"use_history": True, "use_locale": True, "max_tokens": 512},
}

ENV: dict[str, Any] = {
    "locale": "en-GB",
    "timezone": "Europe/London",
    "currency": "GBP",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "screen": {"width": 2560, "height": 1440, "dpr": 2},
    "referrer": "https://www.example.com/campaigns/winter-sale?utm_source=newsletter",
    "feature_flags": ["new-checkout", "map-v2", "dark-mode", "beta-search"],
}


def navigation(count: int = 20) -> list[dict[str, Any]]:
    return [
        {
            "path": f"/projects/{PROJECT_ID}/maps/{i}",
            "title": f"Map {i}: regional overview",
            "at": f"2026-11-24T13:{i:02d}:00.000Z",
            "params": {"zoom": 3 + i % 12, "layer": ["roads", "rivers", "parcels"][i % 3], "page": i},
        }
        for i in range(count)
    ]


KEYS: dict[str, Any] = {
    "theme": "dark",
    "layout": {"sidebar": "collapsed", "panels": ["layers", "legend", "history"], "split": 0.38},
    "filters": {"status": ["open", "review"], "owner": "me", "updated_within_days": 30},
    "selected": [f"feature-{i:04d}" for i in range(12)],
    "recent_searches": ["flood zones 2025", "parcel 1182", "river crossings", "school catchments"],
    "map_view": {"center": [-0.1276, 51.5072], "zoom": 11.5, "bearing": 0, "pitch": 30},
}


def session_state(project_id: str = PROJECT_ID) -> dict[str, Any]:
    """The state the hot-read benchmark reads, as the session service builds it."""
    env = {
        **ENV,
        "client_id": CLIENT_ID,
        "user_id": USER_ID,
        "app_id": APP_ID,
        "project_id": project_id,
    }
    return {"env": env, "classifier_config": CLASSIFIER_CONFIG, "navigation": navigation(), **KEYS}
