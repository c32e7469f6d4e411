"""The only door to ``cryptography``, joserfc and argon2: keys, signatures, hashes.

Everything else in nrm-api asks this package for what it needs and handles its exceptions.
"""

from .errors import CryptoError, KeyFormatError, TokenError

__all__ = ["CryptoError", "KeyFormatError", "TokenError"]
