"""deploy/nginx as a test runs it: the committed nginx.conf and nrm-api.conf unchanged, site/ written here.

``site(folder, upstreams=[...], https_port=...)`` makes ``folder`` an nginx configuration folder:
``nginx.conf`` and ``nrm-api.conf`` copied from deploy/nginx, a throwaway certificate for 127.0.0.1 and
localhost, and the six small files of ``site/`` (pid file, logs and temporary paths inside the
folder; the nodes; the loopback ports). ``Nginx`` then runs ``nginx -p FOLDER -c FOLDER/nginx.conf``.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEPLOY_NGINX = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Certificate:
    """A certificate and its key on disk (PEM)."""

    cert: Path
    key: Path


def certificate(folder: Path, name: str, *, issuer: tuple[Certificate, ec.EllipticCurvePrivateKey] | None = None,
                ca: bool = False, server: bool = True) -> tuple[Certificate, ec.EllipticCurvePrivateKey]:
    """A throwaway P-256 certificate for ``name`` (valid one day): self-signed, or signed by ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signer = subject, key
    if issuer is not None:
        issuer_name, signer = x509.load_pem_x509_certificate(issuer[0].cert.read_bytes()).subject, issuer[1]
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server and not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    paths = Certificate(folder / f"{name}.crt", folder / f"{name}.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    paths.key.chmod(0o600)
    return paths, key


def site(folder: Path, upstreams: Sequence[str], https_port: int, *, http_port: int | None = None,
             client_ca: Path | None = None, source: Path = DEPLOY_NGINX) -> Certificate:
    """Write a runnable configuration into ``folder``; the server's certificate (trust its ``cert``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("nginx.conf", "nrm-api.conf"):
        shutil.copyfile(source / name, folder / name)
    own = folder / "site"
    own.mkdir(exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    server, _ = certificate(folder, "server")
    temp = " ".join(f"{kind}_temp_path tmp/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    files = {
        "main.conf": "pid nginx.pid;\nerror_log error.log warn;\n",
        "http.conf": f"access_log access.log nrm;\n{temp}\n",
        "upstream.conf": "".join(f"server {address} max_fails=1 fail_timeout=10s;\n" for address in upstreams),
        "listen.conf": f"listen 127.0.0.1:{https_port} ssl http2;\nserver_name localhost;\n",
        "tls.conf": f"ssl_certificate {server.cert};\nssl_certificate_key {server.key};\n" + (
            f"ssl_client_certificate {client_ca};\nssl_verify_client optional;\n" if client_ca else ""),
        "redirect.conf": (f"server {{\n    listen 127.0.0.1:{http_port};\n"
                          "    location / { return 308 https://$host$request_uri; }\n}\n") if http_port else "",
    }
    for name, text in files.items():
        (own / name).write_text(text)
    return server


def check(folder: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on the configuration in ``folder``."""
    return subprocess.run([NGINX, "-t", "-q", "-p", f"{folder}/", "-c", str(folder / "nginx.conf")],
                          capture_output=True, text=True, timeout=60, check=False)


@dataclass
class Nginx:
    """nginx running in the foreground on the configuration in ``folder``; ``stop()`` always ends it."""

    folder: Path
    https_port: int
    process: subprocess.Popen[bytes] | None = field(default=None)

    def start(self, ca: Path) -> None:
        """Start nginx and wait until it answers TLS on its port (``ca``: the server certificate to trust)."""
        with (self.folder / "nginx.stderr").open("ab") as stderr:
            self.process = subprocess.Popen([NGINX, "-p", f"{self.folder}/", "-c", str(self.folder / "nginx.conf"),
                                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=stderr)
        context = ssl.create_default_context(cafile=str(ca))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                errors = (self.folder / "nginx.stderr").read_text(errors="replace")
                raise AssertionError(f"nginx exited: {errors}{self.errors()}")
            try:
                urllib.request.urlopen(f"https://127.0.0.1:{self.https_port}/nginx-started", timeout=2,  # noqa: S310
                                       context=context).close()
                return
            except urllib.error.HTTPError:
                return  # nginx answered (the nodes may not)
            except OSError:
                time.sleep(0.1)
        raise AssertionError("nginx did not answer in time")

    def errors(self) -> str:
        """What nginx wrote to its error log (site/main.conf: error.log in the folder)."""
        log = self.folder / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self) -> None:
        """Stop nginx (SIGQUIT lets it finish what it serves; then it is killed)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
