"""deploy/kubernetes/: the manifests validate against a current Kubernetes (the schemas ship
inside ``kubernetes-validate``: no network), and they stay true to the app — every setting
has a place, the probes and commands exist, streams pass the Ingress unbuffered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import kubernetes_validate
import pytest
import yaml

from messenger.cli import main as cli
from messenger.config import VARIABLES
from tests.support.env import ROOT

KUBE = ROOT / "deploy" / "kubernetes"
BASE = KUBE / "base"
OVERLAY = KUBE / "overlays" / "production"
#: Settings that are secrets: in the Secret, never in the ConfigMap.
SECRET_SETTINGS = {
    "DATABASE_URL",
    "REDIS_URL",
    "MESSENGER_SECRET_KEY",
    "MESSENGER_S3_ACCESS_KEY_ID",
    "MESSENGER_S3_SECRET_ACCESS_KEY",
    "MESSENGER_SMTP_URL",
}


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def base_resources() -> list[dict[str, Any]]:
    kustomization = documents(BASE / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in documents(BASE / name)]


def resource(kind: str, name: str) -> dict[str, Any]:
    (found,) = [r for r in base_resources() if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


def test_the_base_lists_every_manifest_and_only_existing_ones() -> None:
    listed = set(documents(BASE / "kustomization.yaml")[0]["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("version", [kubernetes_validate.latest_version(), "1.33.0"])
def test_every_manifest_validates_strictly(version: str) -> None:
    for doc in base_resources():
        kubernetes_validate.validate(doc, version, strict=True)


def test_every_setting_is_in_the_config_map_or_the_secret() -> None:
    config = resource("ConfigMap", "messenger-config")["data"]
    secret_lines = (OVERLAY / "secrets.env.example").read_text().splitlines()
    secret = {line.split("=", 1)[0] for line in secret_lines if line and not line.startswith("#")}
    declared = {v.name for v in VARIABLES}
    assert secret == SECRET_SETTINGS
    assert set(config) | secret == declared
    assert set(config) & secret == set()
    assert all(isinstance(value, str) for value in config.values())


def test_the_overlay_builds_on_the_base_and_generates_the_secret() -> None:
    overlay = documents(OVERLAY / "kustomization.yaml")[0]
    assert overlay["resources"] == ["../../base"]
    (generated,) = overlay["secretGenerator"]
    assert generated["name"] == "messenger-secrets"
    assert generated["envs"] == ["secrets.env"]
    assert "deploy/kubernetes/overlays/*/secrets.env" in (ROOT / ".gitignore").read_text()


def test_probes_and_graceful_shutdown() -> None:
    pod = resource("Deployment", "messenger-app")["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    assert app["livenessProbe"]["httpGet"]["path"] == "/health"
    assert app["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert app["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    # preStop + the streams' drain + uvicorn's 5 s shutdown fit in the grace period.
    assert (
        pod["terminationGracePeriodSeconds"] >= app["lifecycle"]["preStop"]["sleep"]["seconds"] + 10
    )
    # One process per pod: only a single process drains its streams at SIGTERM.
    assert "--workers" not in app["command"]


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("Deployment", "messenger-app"),
        ("Deployment", "messenger-worker"),
        ("Job", "messenger-migrate"),
    ],
)
def test_each_container_runs_a_real_command(kind: str, name: str) -> None:
    (container,) = resource(kind, name)["spec"]["template"]["spec"]["containers"]
    program, *words = container["command"]
    assert program == "messenger"
    command: click.Command = cli
    while isinstance(command, click.Group) and words and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    assert not isinstance(command, click.Group), container["command"]
    # Its options parse (an unknown option or a bad value raises).
    command.make_context(command.name, list(words))


def test_streams_pass_the_ingress_unbuffered_and_only_uploads_take_big_bodies() -> None:
    main = resource("Ingress", "messenger")["metadata"]["annotations"]
    uploads = resource("Ingress", "messenger-uploads")
    assert main["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(main["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert main["nginx.ingress.kubernetes.io/proxy-body-size"] == "64k"
    (path,) = uploads["spec"]["rules"][0]["http"]["paths"]
    assert path["path"] == "/api/widget/attachments"
    assert (
        uploads["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-request-buffering"]
        == "off"
    )


def test_the_autoscaler_and_the_disruption_budget_target_the_app() -> None:
    hpa = resource("HorizontalPodAutoscaler", "messenger-app")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "messenger-app"
    assert hpa["minReplicas"] >= 2
    pdb = resource("PodDisruptionBudget", "messenger-app")["spec"]
    labels = resource("Deployment", "messenger-app")["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()


def test_the_worker_is_probed_on_its_health_port() -> None:
    pod = resource("Deployment", "messenger-worker")["spec"]["template"]["spec"]
    (worker,) = pod["containers"]
    config = resource("ConfigMap", "messenger-config")["data"]
    (port,) = worker["ports"]
    assert port["containerPort"] == int(config["MESSENGER_WORKER_HEALTH_PORT"])
    assert worker["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "health"}
    assert worker["livenessProbe"]["httpGet"] == {"path": "/health", "port": "health"}
