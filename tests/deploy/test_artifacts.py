"""The deployment artefacts in deploy/, each checked by its own tool, and each check shown to refuse a broken copy.

hadolint on the Dockerfile; every Kubernetes manifest, and the production overlay as kustomize builds
it, against the Kubernetes API schemas (kubernetes-validate, offline); compose.yaml against the
Compose Specification's schema (tests/vectors/compose-spec); ``nginx -t`` on deploy/nginx with a
throwaway certificate, and nginx running it in front of a small upstream that echoes what it got;
``systemd-analyze verify`` on the units; deploy/gunicorn.conf.py as gunicorn resolves it.
"""

from __future__ import annotations

import http.server
import json
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from nrm_api import serve
from nrm_api.config import from_environ
from nrm_api.crypto.keyring import Keyring
from tests.deploy import nginx_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
K8S_VERSION = "1.37.0"


def _run(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(arg) for arg in args], capture_output=True, text=True, timeout=120, check=False,
                          **kwargs)


# Dockerfile ------------------------------------------------------------------------------------------

def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "hadolint", "--no-color", dockerfile)


def test_hadolint_passes_the_dockerfile() -> None:
    result = _hadolint(DEPLOY / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_refuses_a_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:latest\nRUN apt-get update && apt-get install gcc\nUSER root\n"
                      'CMD ["nrm-api", "serve"]\n')
    result = _hadolint(broken)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # :latest
    assert "DL3002" in result.stdout  # last USER root


def _final_stage(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    start = max(index for index, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[start:]


def test_the_image_runs_unprivileged_checks_readiness_and_holds_no_secret() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert sum(line.upper().startswith("FROM ") for line in text.splitlines()) >= 2  # multi-stage
    final = _final_stage(text)
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.upper().startswith("HEALTHCHECK") for line in final)
    assert "/readyz" in text
    assert '"serve"' in text
    # no compiler, and nothing copied into the image but the built environment
    for word in ("gcc", "build-essential", "g++", "clang"):
        assert word not in text
    copies = [line for line in final if line.upper().startswith(("COPY", "ADD"))]
    assert copies == ["COPY --from=build /opt/nrm-api /opt/nrm-api"]
    assert "keyring" not in " ".join(line for line in text.splitlines() if line.upper().startswith(("COPY", "ADD")))
    # the build context sends only the package: no instance/ (keyring, databases), no .env file
    ignore = [line for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if line and not line.startswith("#")]
    assert ignore[0] == "*" and "!instance/" not in ignore


# Kubernetes ------------------------------------------------------------------------------------------

def _manifests() -> list[Path]:
    return sorted(path for path in (DEPLOY / "k8s").rglob("*.yaml") if path.name != "kustomization.yaml")


def _documents(text: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(text) if document]


def _validate(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, K8S_VERSION, strict=True)


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    """The production overlay as kustomize (kubectl's, offline) builds it."""
    result = _run(BIN / "kubectl", "kustomize", DEPLOY / "k8s" / "overlays" / "production")
    assert result.returncode == 0, result.stderr
    return _documents(result.stdout)


def test_every_manifest_and_patch_matches_the_kubernetes_schemas() -> None:
    checked = 0
    for path in _manifests():
        for document in _documents(path.read_text()):
            if path.parent.name == "production" and path.name != "namespace.yaml":
                continue  # a patch is partial by nature: checked once merged, in the built overlay
            _validate(document)
            checked += 1
    assert checked >= 14


def test_the_built_overlay_matches_the_schemas_and_keeps_its_promises(production: list[dict[str, Any]]) -> None:
    kinds = {}
    for document in production:
        _validate(document)
        kinds.setdefault(document["kind"], []).append(document)
        assert document["kind"] != "Secret"  # referenced, never committed
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "nrm-api"
    for kind in ("Deployment", "Service", "Ingress", "NetworkPolicy", "PodDisruptionBudget",
                 "HorizontalPodAutoscaler", "ConfigMap"):
        assert kind in kinds, kind
    deployments = {document["metadata"]["name"]: document for document in kinds["Deployment"]}
    assert set(deployments) == {"nrm-api", "nrm-api-sequencer", "nrm-api-deliverer"}
    (job,) = kinds["Job"]
    for deployment in [*deployments.values(), job]:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert {"requests", "limits"} <= set(container["resources"])
            assert container["image"].startswith("registry.example.by/nrm-api:")
        keyring = [volume for volume in pod["volumes"] if volume.get("secret")]
        assert [volume["secret"]["secretName"] for volume in keyring] == ["nrm-api-keyring"]
    app = deployments["nrm-api"]["spec"]["template"]["spec"]["containers"][0]
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "--no-background" in app["args"] and "--workers" in app["args"]
    assert deployments["nrm-api-sequencer"]["spec"]["template"]["spec"]["containers"][0]["args"][:2] == [
        "audit", "sequence"]
    assert deployments["nrm-api-deliverer"]["spec"]["template"]["spec"]["containers"][0]["args"][:2] == [
        "webhooks", "deliver"]
    # only the sequencer is given the sequencer's login, only the migration the schema owner's (last: it wins)
    for name, deployment in [*deployments.items(), ("nrm-api-migrate", job)]:
        sources = [source.get("secretRef", {}).get("name") for source in
                   deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]]
        assert ("nrm-api-sequencer" in sources) == (name == "nrm-api-sequencer")
        assert ("nrm-api-migrate" in sources) == (name == "nrm-api-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    assert sources[-1] == "nrm-api-migrate"
    # the setup phase (README: applied and waited for before the nodes) holds what the Job needs
    setup = {document["kind"] for document in production
             if document["metadata"].get("labels", {}).get("nrm-api/phase") == "setup"}
    assert setup == {"Namespace", "ServiceAccount", "ConfigMap", "Job"}
    assert kinds["HorizontalPodAutoscaler"][0]["spec"]["minReplicas"] >= 2
    config = kinds["ConfigMap"][0]["data"]
    assert config["NRM_BASE_URL"].startswith("https://")
    assert not {key for key in config if "SECRET" in key or key.endswith("DATABASE_URL")}


def test_the_schemas_refuse_a_broken_manifest() -> None:
    deployment = _documents((DEPLOY / "k8s" / "base" / "app.yaml").read_text())[0]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)
    unknown = _documents((DEPLOY / "k8s" / "base" / "pdb.yaml").read_text())[0]
    unknown["spec"]["minAvailabel"] = 1  # a typo: strict validation refuses a field the API does not have
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(unknown)


# Compose ---------------------------------------------------------------------------------------------

def _compose_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads((ROOT / "tests" / "vectors" / "compose-spec" / "compose-spec.json").read_text())
    return [error.message for error in jsonschema.Draft7Validator(schema).iter_errors(document)]


def test_compose_file_matches_the_compose_specification() -> None:
    document = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert _compose_errors(document) == []
    services = document["services"]
    assert {"db", "redis", "app1", "app2", "sequencer", "deliverer", "nginx"} <= set(services)
    for name in ("app1", "app2"):
        assert "--no-background" in services[name]["command"]
        assert services[name]["secrets"] == ["keyring"] and services[name]["read_only"] is True
    assert services["sequencer"]["command"][:2] == ["audit", "sequence"]
    assert services["deliverer"]["command"][:2] == ["webhooks", "deliver"]
    assert "sequencer.env" in services["sequencer"]["env_file"]
    assert all("sequencer.env" not in services[name]["env_file"] for name in ("app1", "app2", "deliverer"))
    # secrets are files next to it (ignored by git), never values in it
    assert all(set(secret) == {"file"} for secret in document["secrets"].values())
    assert document["secrets"]["keyring"]["file"].startswith("./secrets/")
    for service in services.values():
        for key, value in (service.get("environment") or {}).items():
            assert not any(word in key for word in ("PASSWORD", "SECRET", "KEY")) or key.endswith("_FILE"), key
            assert "://" not in str(value) or "@" not in str(value), key  # no URL with credentials
    ignored = _run("git", "check-ignore", "deploy/nrm.env", "deploy/secrets/keyring.json", cwd=ROOT)
    assert ignored.returncode == 0, ignored.stderr


def test_the_compose_schema_refuses_a_broken_file() -> None:
    document = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    document["services"]["app1"]["restart_policy"] = "always"  # not a service key
    document["services"]["app2"]["ports"] = "8000"  # not a list
    errors = _compose_errors(document)
    assert any("restart_policy" in error for error in errors)
    assert any("is not of type 'array'" in error for error in errors)


# nginx -----------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    nginx_config.site(tmp_path / "plain", ["127.0.0.1:9"], _free_port(), http_port=_free_port())
    result = nginx_config.check(tmp_path / "plain")
    assert result.returncode == 0, result.stderr
    ca, _ = nginx_config.certificate(tmp_path, "agency-ca", ca=True)
    nginx_config.site(tmp_path / "mtls", ["127.0.0.1:9", "127.0.0.1:10"], _free_port(), client_ca=ca.cert)
    result = nginx_config.check(tmp_path / "mtls")
    assert result.returncode == 0, result.stderr


def test_what_differs_between_installations_is_only_in_site() -> None:
    """What an installation changes is in site/: the shared files name no host, port or path of one."""
    shared = (DEPLOY / "nginx" / "nginx.conf").read_text() + (DEPLOY / "nginx" / "nrm-api.conf").read_text()
    code = "\n".join(line.split("#")[0] for line in shared.splitlines())
    for directive in ("listen ", "ssl_certificate ", "server_name ", "pid ", "error_log ", "access_log "):
        assert directive not in code, directive
    tracked = _run("git", "ls-files", "deploy/nginx/site", cwd=ROOT).stdout.split()
    assert sorted(Path(path).name for path in tracked) == sorted(
        f"{name}.conf" for name in ("main", "http", "upstream", "listen", "tls", "redirect"))
    assert "http2 on" not in code  # nginx 1.22 (Debian 12) has no such directive
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in code
    assert f"client_max_body_size {from_environ({})['MAX_CONTENT_LENGTH'] // (1024 * 1024)}m;" in code


def test_nginx_refuses_a_broken_configuration(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(DEPLOY / "nginx", source)
    conf = source / "nrm-api.conf"
    conf.write_text(conf.read_text().replace("client_max_body_size 1m;", "client_max_body_size 1m;\n    http2 on;"))
    nginx_config.site(tmp_path / "broken", ["127.0.0.1:9"], _free_port(), source=source)
    result = nginx_config.check(tmp_path / "broken")
    assert result.returncode != 0
    assert 'unknown directive "http2"' in result.stderr


class _Echo(http.server.BaseHTTPRequestHandler):
    """An upstream that answers every request with the headers it received and the size of the body."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        payload = json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()},
                              "body": len(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Request-Id", "echo")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Run nginx on deploy/nginx (mutual TLS optional) in front of the echoing upstream."""
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    ca, ca_key = nginx_config.certificate(tmp_path, "agency-ca", ca=True)
    client, _ = nginx_config.certificate(tmp_path, "agency-system", issuer=(ca, ca_key), server=False)
    stranger, _ = nginx_config.certificate(tmp_path, "stranger", server=False)  # self-signed: not the agencies' CA
    port, http_port = _free_port(), _free_port()
    folder = tmp_path / "nginx"
    server = nginx_config.site(folder, [f"127.0.0.1:{upstream.server_address[1]}"], port,
                                   http_port=http_port, client_ca=ca.cert)
    nginx = nginx_config.Nginx(folder, port)
    try:
        nginx.start(server.cert)
        yield {"base": f"https://127.0.0.1:{port}", "http": f"http://127.0.0.1:{http_port}", "server": server,
               "client": client, "stranger": stranger, "folder": folder}
    finally:
        nginx.stop()
        upstream.shutdown()
        upstream.server_close()


def _request(setup: dict[str, Any], path: str = "/", *, data: bytes | None = None,
             headers: dict[str, str] | None = None, client: str | None = None,
             tls: ssl.TLSVersion | None = None, ciphers: str | None = None) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context(cafile=str(setup["server"].cert))
    if client:
        context.load_cert_chain(str(setup[client].cert), str(setup[client].key))
    if tls:
        context.minimum_version = context.maximum_version = tls
    if ciphers:
        context.set_ciphers(ciphers)
    request = urllib.request.Request(setup["base"] + path, data=data, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def test_nginx_in_front_of_a_node_sets_the_headers_and_limits(proxied: dict[str, Any]) -> None:
    status, headers, body = _request(proxied, headers={"X-Forwarded-For": "203.0.113.9",
                                                       "X-Client-Subject": "CN=forged"})
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    seen = json.loads(body)["headers"]
    assert seen["x-forwarded-for"] == "127.0.0.1"  # replaced, not appended to what the client said
    assert seen["x-forwarded-proto"] == "https"
    assert "x-client-subject" not in seen  # a client cannot claim a certificate it did not show
    # the app's body limit, here already: 1 MiB passes whole, one byte more is refused
    limit = from_environ({})["MAX_CONTENT_LENGTH"]
    status, _, body = _request(proxied, "/api", data=b"x" * limit, headers={"Content-Type": "application/json"})
    assert status == 200 and json.loads(body)["body"] == limit
    status, _, _ = _request(proxied, "/api", data=b"x" * (limit + 1), headers={"Content-Type": "application/json"})
    assert status == 413
    # TLS 1.2 and 1.3 are served; on 1.2 only forward-secret AEAD suites (OpenSSL's defaults, which
    # nginx would otherwise take, include CBC ones such as this); nothing older is in ssl_protocols
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert _request(proxied, tls=version)[0] == 200
    with pytest.raises(urllib.error.URLError, match="HANDSHAKE_FAILURE|handshake failure|NO_SHARED_CIPHER"):
        _request(proxied, tls=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA")
    # plain http redirects to https
    request = urllib.request.Request(proxied["http"] + "/x?y=1", headers={"Host": "nrm.example.by"})  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
    with redirect.value:
        assert redirect.value.code == 308 and redirect.value.headers["Location"] == "https://nrm.example.by/x?y=1"
    # the access log has no path and no query string
    log = (proxied["folder"] / "access.log").read_text()
    assert log and "/api" not in log and "y=1" not in log


def test_nginx_never_hands_metrics_on(proxied: dict[str, Any]) -> None:
    """Review: behind SNAT the clients arrive from an allowed range; /metrics is the nodes' own port's only."""
    for path in ("/metrics", "//metrics", "/%6detrics", "/metrics?x=1"):
        status, _, body = _request(proxied, path)
        assert status == 404 and b"headers" not in body, path
    assert _request(proxied, "/metrics/x")[0] == 200  # the exact path only (the app has no other)


def test_nginx_passes_an_agency_certificate_only_when_it_verified_it(proxied: dict[str, Any]) -> None:
    status, _, body = _request(proxied, client="client", headers={"X-Client-Subject": "CN=forged"})
    assert status == 200
    assert json.loads(body)["headers"]["x-client-subject"] == "CN=agency-system"
    status, _, body = _request(proxied, client="stranger")
    # optional verification: a certificate from another CA is refused with 400, never passed on
    assert status == 400 and b"agency-system" not in body


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


# systemd, gunicorn -----------------------------------------------------------------------------------

def _verify_units(folder: Path) -> subprocess.CompletedProcess[str]:
    return _run("systemd-analyze", "verify", "--man=no", "--recursive-errors=no",
                *sorted(folder.glob("*.service")))


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # the units name the installed path (deploy/README.md); verify checks that it is an executable
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = unit.read_text()
        assert "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text and "EnvironmentFile=" in text
        assert "LoadCredential=keyring:" in text
        (tmp_path / unit.name).write_text(text.replace("/opt/nrm-api/venv/bin/nrm-api", str(BIN / "nrm-api")))
    assert "--no-background" in (DEPLOY / "systemd" / "nrm-api.service").read_text()
    assert "sequencer.env" in (DEPLOY / "systemd" / "nrm-api-sequencer.service").read_text()
    assert "sequencer.env" not in (DEPLOY / "systemd" / "nrm-api.service").read_text()
    result = _verify_units(tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    broken = tmp_path / "nrm-api.service"
    broken.write_text(broken.read_text().replace("ProtectSystem=strict", "ProtectSystem=sometimes"))
    result = _verify_units(tmp_path)
    assert "Failed to parse protect system value" in result.stderr


def test_gunicorn_conf_is_what_nrm_api_serve_configures(tmp_path: Path) -> None:
    # --print-config loads the app too: give it a whole configuration (embedded SQLite, a new keyring)
    keyring = Keyring.create(tmp_path / "keyring.json").path
    env = {"PATH": str(BIN) + ":/usr/bin:/bin", "NRM_BIND": "127.0.0.1:8123", "NRM_WORKERS": "3",
           "NRM_INSTANCE_PATH": str(tmp_path), "NRM_KEYRING": str(keyring), "NRM_SECRET_KEY": secrets.token_urlsafe(48),
           "NRM_BASE_URL": "https://nrm.test", "NRM_SEQUENCER_DATABASE_URL": "postgresql+psycopg://seq@db/nrm"}
    result = _run(BIN / "gunicorn", "-c", DEPLOY / "gunicorn.conf.py", "--print-config", env=env)
    assert result.returncode == 0, result.stderr
    resolved = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    resolved = {key.strip(): value for key, value in resolved.items()}
    for key, value in serve.options("127.0.0.1", 8123, 3).items():
        expected = str([value]) if key == "bind" else f"<{value.__name__}()>" if callable(value) else str(value)
        assert resolved[key] == expected, key
    assert resolved["wsgi_app"] == "nrm_api:create_app()"
    # and its workers get the web's environment: no sequencer login, no sequencing, no delivery
    probe = _run(BIN / "python", "-c", "import os, runpy; runpy.run_path('deploy/gunicorn.conf.py'); print("
                 "os.environ.get('NRM_SEQUENCER_DATABASE_URL'), os.environ['NRM_AUDIT_SEQUENCER_INTERVAL'], "
                 "os.environ['NRM_WEBHOOK_INTERVAL'])", env=env, cwd=ROOT)
    assert probe.stdout.split() == ["None", "0", "0"], probe.stderr


def test_the_deploy_readme_names_files_that_exist() -> None:
    """Every file deploy/README.md's table and steps name is in deploy/ (a rename cannot leave it stale)."""
    text = (DEPLOY / "README.md").read_text()
    named = set(re.findall(r"`((?:k8s|nginx|systemd)/[\w./*-]+|[\w.-]+\.(?:example|yaml|py|service)|Dockerfile[\w.]*)`",
                           text))
    assert len(named) >= 10
    for name in named:
        found = list(DEPLOY.glob(name)) or list((DEPLOY / "k8s" / "base").glob(name)) or list(
            (DEPLOY / "systemd").glob(name)) or list(DEPLOY.rglob(name))
        assert found, name
