"""Exceptions of the crypto package: no key material or plaintext ever in their text."""


class CryptoError(Exception):
    """Base of every error raised by ``nrm_api.crypto``."""


class KeyFormatError(CryptoError):
    """A key given to the service is not of the kind it accepts."""


class KeyringError(CryptoError):
    """The keyring is missing, unreadable or would be overwritten."""


class TokenError(CryptoError):
    """A JWS or JWT was refused; ``code`` says why, in words safe to log and return."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
