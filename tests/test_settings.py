"""Settings: read from the environment when asked, and refuse to run when wrong."""

import pytest

from thingapp.app import create_app
from thingapp.settings import Settings, SettingsError

GOOD = {
    "THINGAPP_CLIENT_ID": "abc123",
    "THINGAPP_SECRET_KEY": "k" * 40,
    "THINGAPP_PUBLIC_URL": "https://app.example.com",
}


def test_defaults_point_at_thingiverse_and_frame_ancestors_follow_it():
    s = Settings.from_env(GOOD)
    assert s.thingiverse_url == "https://www.thingiverse.com"
    assert s.api_url == "https://api.thingiverse.com"
    assert s.frame_ancestors == ("https://www.thingiverse.com",)
    assert s.callback_url == "https://app.example.com/callback"
    assert s.problems() == []


def test_frame_ancestors_default_to_the_configured_site_origin():
    s = Settings.from_env({**GOOD, "THINGIVERSE_URL": "http://localhost:8800/"})
    assert s.frame_ancestors == ("http://localhost:8800",)
    s = Settings.from_env({**GOOD, "THINGAPP_FRAME_ANCESTORS": "https://a.example https://b.example"})
    assert s.frame_ancestors == ("https://a.example", "https://b.example")


@pytest.mark.parametrize("key", ["", "changeme", "secret", "  dev "])
def test_placeholder_secret_keys_are_refused(key):
    with pytest.raises(SettingsError) as caught:
        create_app(Settings.from_env({**GOOD, "THINGAPP_SECRET_KEY": key}))
    assert any("THINGAPP_SECRET_KEY" in p for p in caught.value.problems)


def test_short_secret_key_is_refused_with_its_length():
    problems = Settings.from_env({**GOOD, "THINGAPP_SECRET_KEY": "abc12345"}).problems()
    assert problems == ["THINGAPP_SECRET_KEY is 8 characters long: use at least 32 random "
                        "characters."]


def test_every_problem_is_reported_at_once():
    problems = Settings.from_env({"THINGIVERSE_URL": "ftp://x"}).problems()
    text = "\n".join(problems)
    for name in ("THINGAPP_CLIENT_ID", "THINGAPP_SECRET_KEY", "THINGAPP_PUBLIC_URL",
                 "THINGIVERSE_URL"):
        assert name in text
    assert len(problems) == 4


def test_public_url_must_be_an_origin():
    problems = Settings.from_env(
        {**GOOD, "THINGAPP_PUBLIC_URL": "https://app.example.com/app"}).problems()
    assert problems == ["THINGAPP_PUBLIC_URL 'https://app.example.com/app' must be an origin "
                        "with no path, query or fragment."]


def test_the_demo_runs_with_a_generated_key():
    s = Settings.for_demo(public_url="http://127.0.0.1:1", thingiverse_url="http://localhost:2",
                          client_id="c", client_secret="s", store_url="sqlite:///:memory:")
    assert len(s.secret_key) >= 32 and s.demo
    assert s.secret_key != Settings.for_demo(public_url="http://127.0.0.1:1", thingiverse_url="http://localhost:2",
                                             client_id="c", client_secret="s", store_url="sqlite:///:memory:").secret_key
