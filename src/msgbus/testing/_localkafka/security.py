"""What ``LocalKafka(security=True)`` adds: TLS material, SCRAM users, ACLs.

The cluster keeps its PLAINTEXT listener (the broker's own: controllers and
inter-broker traffic, and the test harness's admin client); its principal,
``User:ANONYMOUS``, is the super user. Beside it come:

* an ``SSL`` listener that requires a client certificate (mutual TLS); the
  certificate's CN is the principal (``tls_user``), allowed every topic;
* a ``SASL_SSL`` listener with SCRAM-SHA-512; ``sasl_user`` may use one topic
  only (``allowed_topic``), ``sasl_admin`` every topic.

The CA, the broker's and the client's certificates are made afresh at every
start (Python's ``cryptography``) and are valid for ``localhost`` and
``127.0.0.1`` only.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SCRAM = "SCRAM-SHA-512"
_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


@dataclass
class KafkaSecurity:
    """Everything a client needs to reach a secured LocalKafka (``LocalKafka.security``)."""

    #: PEM files: the CA that signed the broker's and the client's certificates,
    #: and the client's certificate and (unencrypted) key for mutual TLS.
    ca_location: str
    client_certificate_location: str
    client_key_location: str
    #: The mutual-TLS principal (the client certificate's CN); allowed every topic.
    tls_user: str
    #: A SCRAM-SHA-512 user allowed ``allowed_topic`` (and consumer groups) only.
    sasl_user: str
    sasl_password: str = field(repr=False)
    allowed_topic: str
    #: A SCRAM-SHA-512 user allowed every topic.
    sasl_admin: str
    sasl_admin_password: str = field(repr=False)
    #: Bootstrap servers of the SSL (mutual TLS) and SASL_SSL listeners.
    ssl_bootstrap: str
    sasl_ssl_bootstrap: str
    ssl_ports: list[int]
    sasl_ssl_ports: list[int]


@dataclass
class SecurityPlan:
    """Made before the brokers are formatted: names, passwords and files."""

    directory: Path
    sasl_user: str = "alice"
    sasl_password: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    sasl_admin: str = "admin"
    sasl_admin_password: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    tls_user: str = "carol"
    allowed_topic: str = "alice-only"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def broker_pem(self) -> Path:
        return self.directory / "broker.pem"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client-cert.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client-key.pem"

    def make_files(self) -> None:
        """The throw-away CA, the broker's key+chain, the client's cert and key."""
        self.directory.mkdir(parents=True, exist_ok=True)
        ca_key, ca_cert = self_signed_ca("msgbus LocalKafka test CA")
        broker_key, broker_cert = issue(ca_key, ca_cert, "localhost", server=True)
        client_key, client_cert = issue(ca_key, ca_cert, self.tls_user, server=False)
        self.ca.write_bytes(pem_cert(ca_cert))
        # Kafka's PEM key store: a PKCS#8 key, then the certificate chain.
        self.broker_pem.write_bytes(pem_key(broker_key) + pem_cert(broker_cert) + pem_cert(ca_cert))
        self.client_cert.write_bytes(pem_cert(client_cert))
        self.client_key.write_bytes(pem_key(client_key))
        for path in (self.broker_pem, self.client_key):
            path.chmod(0o600)

    def scram_format_args(self) -> list[str]:
        """StorageTool ``format`` arguments that create the SCRAM users in KRaft."""
        args: list[str] = []
        for name, password in ((self.sasl_user, self.sasl_password), (self.sasl_admin, self.sasl_admin_password)):
            args += ["--add-scram", f"{SCRAM}=[name={name},password={password}]"]
        return args

    def broker_properties(
        self, client_port: int, controller_port: int, ssl_port: int, sasl_port: int
    ) -> dict[str, str]:
        """Listener, TLS, SASL and authorizer settings for one node."""
        return {
            "listeners": (
                f"PLAINTEXT://{HOST}:{client_port},CONTROLLER://{HOST}:{controller_port},"
                f"SSL://{HOST}:{ssl_port},SASL_SSL://{HOST}:{sasl_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{HOST}:{client_port},SSL://{HOST}:{ssl_port},SASL_SSL://{HOST}:{sasl_port}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL",
            "authorizer.class.name": _AUTHORIZER,
            # The broker's own listener (controllers, replication, the test's admin).
            "super.users": "User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.broker_pem),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca),
            "listener.name.ssl.ssl.client.auth": "required",
            # "CN=carol" -> User:carol
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
            "sasl.enabled.mechanisms": SCRAM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
        }

    def create_acls(self, admin: Any, timeout: float = 30.0) -> None:
        """``sasl_user``: its one topic; ``sasl_admin`` and ``tls_user``: every topic; all: any group."""
        from confluent_kafka import admin as kafka_admin

        acl_binding: Any = getattr(kafka_admin, "AclBinding")  # noqa: B009 (not re-exported for mypy)
        operation: Any = getattr(kafka_admin, "AclOperation")  # noqa: B009
        permission: Any = getattr(kafka_admin, "AclPermissionType")  # noqa: B009
        pattern: Any = getattr(kafka_admin, "ResourcePatternType")  # noqa: B009
        resource: Any = getattr(kafka_admin, "ResourceType")  # noqa: B009

        def allow(user: str, kind: Any, name: str) -> Any:
            return acl_binding(kind, name, pattern.LITERAL, f"User:{user}", "*", operation.ALL, permission.ALLOW)

        bindings = [allow(self.sasl_user, resource.TOPIC, self.allowed_topic)]
        for user in (self.sasl_admin, self.tls_user):
            bindings.append(allow(user, resource.TOPIC, "*"))
        for user in (self.sasl_user, self.sasl_admin, self.tls_user):
            bindings.append(allow(user, resource.GROUP, "*"))
        for future in admin.create_acls(bindings, request_timeout=timeout).values():
            future.result(timeout=timeout)

    def info(self, ssl_ports: list[int], sasl_ports: list[int]) -> KafkaSecurity:
        return KafkaSecurity(
            ca_location=str(self.ca),
            client_certificate_location=str(self.client_cert),
            client_key_location=str(self.client_key),
            tls_user=self.tls_user,
            sasl_user=self.sasl_user,
            sasl_password=self.sasl_password,
            allowed_topic=self.allowed_topic,
            sasl_admin=self.sasl_admin,
            sasl_admin_password=self.sasl_admin_password,
            ssl_bootstrap=",".join(f"{HOST}:{p}" for p in ssl_ports),
            sasl_ssl_bootstrap=",".join(f"{HOST}:{p}" for p in sasl_ports),
            ssl_ports=list(ssl_ports),
            sasl_ssl_ports=list(sasl_ports),
        )


# -- certificates (cryptography) ---------------------------------------------------------


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: Any, issuer: Any, public_key: Any) -> Any:
    from cryptography import x509

    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def self_signed_ca(common_name: str) -> tuple[Any, Any]:
    """A new CA: (private key, certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _new_key()
    name = _name(common_name)
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(ca_key: Any, ca_cert: Any, common_name: str, *, server: bool) -> tuple[Any, Any]:
    """A certificate signed by the CA: a server's for localhost/127.0.0.1, or a client's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _new_key()
    builder = _builder(_name(common_name), ca_cert.subject, key.public_key()).add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def pem_cert(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    data: bytes = cert.public_bytes(serialization.Encoding.PEM)
    return data


def pem_key(key: Any) -> bytes:
    """An unencrypted PKCS#8 key (what Kafka's PEM key store and librdkafka both read)."""
    from cryptography.hazmat.primitives import serialization

    data: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return data
