"""The production compose file and Dockerfile, checked without a Docker engine."""

import os
import shutil
import subprocess

import yaml

from tests.support.env import ROOT


def compose_config() -> dict:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: 'make test' installs Debian's docker-compose"
    env = {**os.environ, "POSTGRES_PASSWORD": "pw", "MESSENGER_SECRET_KEY": "k" * 40}
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker" / "compose.yaml"), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid_and_complete():
    config = compose_config()
    services = config["services"]
    assert {"postgres", "redis", "app1", "app2", "proxy", "migrate"} <= set(services)
    for name in ("app1", "app2"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert environment["REDIS_URL"].startswith("redis://")
        # the app believes X-Forwarded-For only from the proxy's network
        assert environment["MESSENGER_TRUSTED_PROXIES"] == "172.28.0.0/24"
    assert services["proxy"]["networks"]["backend"]["ipv4_address"].startswith("172.28.0.")
    assert services["migrate"]["command"] == ["messenger", "db", "upgrade", "--no-prompt"]


def test_compose_refuses_to_run_without_secrets():
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"POSTGRES_PASSWORD", "MESSENGER_SECRET_KEY"}
    }
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker" / "compose.yaml"), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "MESSENGER_SECRET_KEY" in result.stderr


def test_dockerfile_runs_as_non_root_and_migrates_separately():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "USER messenger" in dockerfile
    assert "slim" in dockerfile
    assert "db upgrade" not in dockerfile.split("CMD", 1)[1]


def test_nginx_passes_the_client_address_and_does_not_buffer_streams():
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "proxy_buffering off;" in conf


def test_the_image_builds_the_widget_from_its_sources():
    # static/messenger/widget.js and widget-app.js are built, never committed (docs/widget.md)
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "COPY widget ./widget" in dockerfile
    assert "npm run build" in dockerfile
    for name in ("widget.js", "widget-app.js"):
        assert f"/build/static/messenger/{name}" in dockerfile
