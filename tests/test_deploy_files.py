"""The deployment files we ship are checked without a cluster (issue 24: Kubernetes stays an
example, but a checked one). What runs here: every Dagster instance file in deploy/ through
Dagster's own instance schema, each configurable class imported and its config validated against the
class's schema (dagster-k8s and dagster-celery are installed from the lock); the Celery run config
through the executor's schema; the ConfigMap's shape and the values it sets; the Helm values against
a schema of the chart keys we set (written here from the chart's documented values, not the chart's
own schema file: that is not installable offline); the names shared between the files; and the
image's entry point (`dagster api grpc` with the chart's arguments) started and health-checked.
What does not run: helm, kubectl, a container build, a cluster.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from spymaster_live import bus

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
INSTANCE_FILES = [DEPLOY / "dagster.yaml", DEPLOY / "dagster.postgres.yaml", DEPLOY / "celery" / "dagster.yaml",
                  DEPLOY / "k8s" / "dagster.yaml"]  # fmt: skip
PG_ENV = {"DAGSTER_PG_USER": "u", "DAGSTER_PG_PASSWORD": "p", "DAGSTER_PG_HOST": "h", "DAGSTER_PG_DB": "d"}

# The Dagster chart's keys that deploy/k8s/values.yaml sets, with their types (chart values.yaml for
# Dagster 1.13: dagster-user-deployments, runLauncher, dagsterDaemon.runCoordinator, postgresql).
_NAMED = {
    "type": "array",
    "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
}
_IMAGE = {
    "type": "object",
    "required": ["repository", "tag", "pullPolicy"],
    "additionalProperties": False,
    "properties": {"repository": {"type": "string"}, "tag": {"type": "string"},
                   "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}},
}  # fmt: skip
CHART_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "dagster-user-deployments": {
            "type": "object",
            "required": ["enabled", "deployments"],
            "properties": {
                "enabled": {"type": "boolean"},
                "deployments": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "image", "dagsterApiGrpcArgs", "port"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                            "image": _IMAGE,
                            "dagsterApiGrpcArgs": {"type": "array", "items": {"type": "string"}},
                            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                            "envConfigMaps": _NAMED,
                            "envSecrets": _NAMED,
                            "volumes": {"type": "array", "items": {"type": "object", "required": ["name"]}},
                            "volumeMounts": {
                                "type": "array",
                                "items": {"type": "object", "required": ["name", "mountPath"]},
                            },
                        },
                    },
                },
            },
        },
        "runLauncher": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["K8sRunLauncher", "CeleryK8sRunLauncher", "CustomRunLauncher"]},
                "config": {
                    "type": "object",
                    "properties": {
                        "k8sRunLauncher": {
                            "type": "object",
                            "properties": {"envConfigMaps": _NAMED, "envSecrets": _NAMED},
                        }
                    },
                },
            },
        },
        "dagsterDaemon": {
            "type": "object",
            "properties": {
                "runCoordinator": {
                    "type": "object",
                    "required": ["enabled", "type"],
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "type": {"enum": ["QueuedRunCoordinator", "CustomRunCoordinator"]},
                        "config": {
                            "type": "object",
                            "properties": {
                                "queuedRunCoordinator": {
                                    "type": "object",
                                    "properties": {"maxConcurrentRuns": {"type": "integer", "minimum": 1}},
                                }
                            },
                        },
                    },
                }
            },
        },
        "postgresql": {
            "type": "object",
            "required": ["enabled"],
            "properties": {
                "enabled": {"type": "boolean"},
                "postgresqlHost": {"type": "string"},
                "postgresqlUsername": {"type": "string"},
                "postgresqlDatabase": {"type": "string"},
                "postgresqlPassword": {"type": "string"},
            },
        },
    },
}


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", INSTANCE_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_instance_file_validates_and_its_classes_import(path: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config

    for k, v in PG_ENV.items():
        monkeypatch.setenv(k, v)
    (tmp_path / "dagster.yaml").write_text(path.read_text())
    cfg, _ = dagster_instance_config(str(tmp_path))  # raises naming the key when the file is invalid
    sections = [s for s in cfg.values() if isinstance(s, dict) and "module" in s and "class" in s]
    for sec in sections:
        cls = getattr(importlib.import_module(sec["module"]), sec["class"])
        res = validate_config(cls.config_type(), sec.get("config") or {})
        assert res.success, (path, sec["class"], res.errors)
    if "k8s" in path.parts:
        assert {s["class"] for s in sections} == {"K8sRunLauncher", "QueuedRunCoordinator"}
    if path.name == "dagster.yaml" and path.parent != DEPLOY:
        assert cfg["concurrency"]["pools"]["default_limit"] == 1  # one Gold writer across pods/workers


def test_a_bad_instance_value_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a misspelt class config key is refused with the key named."""
    from dagster._config import validate_config
    from dagster_k8s import K8sRunLauncher

    cfg = _load(DEPLOY / "k8s" / "dagster.yaml")["run_launcher"]["config"]
    res = validate_config(K8sRunLauncher.config_type(), {**cfg, "env_config_map": ["spymaster-env"]})
    assert not res.success and "env_config_map" in str(res.errors)


def test_celery_run_config_validates_with_the_executor_schema(monkeypatch) -> None:  # noqa: ANN001
    from dagster_celery.cli import get_validated_config

    monkeypatch.setenv("CELERY_BROKER_URL", "pyamqp://guest@rabbitmq:5672//")
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "rpc://")
    cfg = get_validated_config(str(DEPLOY / "celery" / "run_config.yaml"))
    assert cfg["broker"] == "pyamqp://guest@rabbitmq:5672//"
    assert cfg["config_source"]["task_acks_late"] and cfg["config_source"]["task_reject_on_worker_lost"]


def test_configmap_values_and_chart_values_agree(monkeypatch) -> None:  # noqa: ANN001
    from spymaster_assets.executors import executor_from_env

    cm = _load(DEPLOY / "k8s" / "spymaster-env.yaml")
    assert cm["apiVersion"] == "v1" and cm["kind"] == "ConfigMap"
    assert re.fullmatch(
        r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", cm["metadata"]["name"]
    )
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in cm["data"].items()), (
        "data is map[string]string"
    )
    for k, v in cm["data"].items():
        monkeypatch.setenv(k, v)
    assert executor_from_env().name == "k8s"  # the executor the ConfigMap asks for exists

    values = _load(DEPLOY / "k8s" / "values.yaml")
    jsonschema.validate(values, CHART_SCHEMA)
    bad = {**values, "runLauncher": {"type": "K8sRunLaucher"}}
    with pytest.raises(jsonschema.ValidationError, match="K8sRunLaucher"):
        jsonschema.validate(bad, CHART_SCHEMA)
    dep = values["dagster-user-deployments"]["deployments"][0]
    assert {m["name"] for m in dep["envConfigMaps"]} == {cm["metadata"]["name"]}
    launcher = _load(DEPLOY / "k8s" / "dagster.yaml")["run_launcher"]["config"]
    assert launcher["env_config_maps"] == [cm["metadata"]["name"]]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in [*dep["volumes"], *launcher["volumes"]]}
    assert len(claims) == 1
    mounts = {m["mountPath"] for m in [*dep["volumeMounts"], *launcher["volume_mounts"]]}
    assert mounts == {str(Path(cm["data"]["SPYMASTER_DUCKDB"]).parent)}  # the DuckDB file is on the volume


@pytest.mark.slow
def test_image_entry_point_serves_the_code_location(tmp_path: Path) -> None:
    """What the chart's code server runs: `dagster api grpc` with values.yaml's arguments, started
    from this environment (built from the same requirements.lock as the image) and health-checked."""
    dep = _load(DEPLOY / "k8s" / "values.yaml")["dagster-user-deployments"]["deployments"][0]
    for script in ("dagster", "dagster-webserver", "dagster-daemon", "dagster-celery", "spymaster"):
        assert (BIN / script).exists(), f"console script {script} missing"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements.lock" in dockerfile
    lock = (REPO / "requirements.lock").read_text()
    assert "dagster-k8s==" in lock and "dagster-celery==" in lock  # the image's executors come from the lock
    port = bus.free_port()
    log = tmp_path / "grpc.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([str(BIN / "dagster"), "api", "grpc", *dep["dagsterApiGrpcArgs"], "--port", str(port)],
                                stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)  # fmt: skip
    try:
        t0, ok = time.monotonic(), False
        while time.monotonic() - t0 < 120 and proc.poll() is None:
            check = subprocess.run([str(BIN / "dagster"), "api", "grpc-health-check", "--port", str(port)],
                                   capture_output=True, text=True)  # fmt: skip
            if check.returncode == 0:
                ok = True
                break
            time.sleep(1.0)
        assert ok, log.read_text()[-3000:]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
