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
    worker = services["worker"]
    assert worker["command"] == ["messenger", "worker"]
    assert worker["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "/ready" in " ".join(worker["healthcheck"]["test"])


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


def test_the_image_has_every_vendored_file_the_makefile_copies():
    """/schema and the dashboard load static/vendor/ files: the image must have each."""
    import re

    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    copied = re.findall(r"cp node_modules/(\S+) (static/vendor/\S+)", makefile)
    assert len(copied) >= 3
    for source, target in copied:
        assert f"/build/node_modules/{source} ./{target}" in dockerfile, target


# --- nginx: what it logs, what bodies it lets through, the request id (issue 11, item 8) ----


def nginx_blocks(conf: str) -> dict[str, str]:
    """Each ``location …`` of the config and its body (the config has no nested blocks)."""
    import re

    return {
        m.group(1).strip(): m.group(2) for m in re.finditer(r"location\s+([^{]+)\{([^}]*)\}", conf)
    }


def test_nginx_logs_no_query_strings():
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    log_format = conf.split("log_format", 1)[1].split(";", 1)[0]
    assert "$uri" in log_format
    for leaky in ("$request_uri", "$args", "$query_string", "$request ", '$request"'):
        assert leaky not in log_format, leaky
    name = log_format.split()[0]
    assert f"access_log /var/log/nginx/access.log {name};" in conf
    assert conf.count("access_log") == 1  # no location logs in another (default) format


def test_nginx_allows_64k_bodies_except_uploads():
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    server = conf.split("server {", 1)[1]
    assert server.split("location", 1)[0].count("client_max_body_size 64k;") == 1
    blocks = nginx_blocks(conf)
    upload = blocks["= /api/widget/attachments"]
    assert "client_max_body_size 101m;" in upload
    assert "proxy_request_buffering off;" in upload
    others = [body for where, body in blocks.items() if where != "= /api/widget/attachments"]
    assert all("client_max_body_size" not in body for body in others)


def test_nginx_passes_the_request_id_on_every_proxied_route():
    blocks = nginx_blocks((ROOT / "docker" / "nginx.conf").read_text())
    stream = blocks["~ ^/(api/widget/stream|dashboard/stream)"]
    assert "proxy_set_header X-Request-ID $request_id;" in stream
    for where, body in blocks.items():
        if "proxy_set_header" in body:
            assert "proxy_set_header X-Request-ID $request_id;" in body, where


def test_nginx_accepts_the_config(tmp_path):
    """``nginx -t`` on the shipped file inside a minimal main config (Debian's nginx)."""
    import pytest

    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if binary is None:
        pytest.fail("nginx is missing: 'make tools' installs Debian's nginx-light")
    # app1/app2 resolve only inside compose: point them at a local address for the check.
    site = (ROOT / "docker" / "nginx.conf").read_text().replace("app1:8000", "127.0.0.1:8001")
    site = site.replace("app2:8000", "127.0.0.1:8002")
    site = site.replace("/var/log/nginx/access.log", str(tmp_path / "access.log"))
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{ client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {tmp_path}/site.conf; }}\n"
    )
    result = subprocess.run(
        [binary, "-t", "-c", str(main), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
