"""Presigned GET URLs for S3 objects.

obstore's SigV4 signer (Rust) signs a URL in about 15 µs; botocore's presign through s3fs takes
0.3-0.6 ms, which a prefix of 2,000 objects paid on the event loop that also moves their bytes
(0.7-1.3 s, benchmarks/netbench.py). So plain GETs are signed by obstore, with s3fs's own
identity (its key and secret, or its session's credentials, or anonymous) and endpoint; a GET
that carries parameters obstore's signer does not take (a version id, RequestPayer,
ExpectedBucketOwner), or any failure to sign that way, goes to s3fs's signer as before.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any, Optional

log = logging.getLogger(__name__)

# Credentials are read again this often (temporary ones are refreshed by botocore meanwhile).
RENEW_SECONDS = 300


class Signer:
    """Signs GETs of the objects of one s3fs filesystem (a source and the members of its
    prefix share it)."""

    def __init__(self, fs: Any, endpoint_url: Optional[str], expires: int) -> None:
        self.fs = fs
        self.endpoint_url = endpoint_url
        self.expires = expires
        self._stores: dict[str, tuple[float, Any]] = {}
        self._fallback = False

    async def url(self, path: str, extra: dict[str, Any]) -> str:
        """A presigned GET of ``path`` (``bucket/key``) with the query parameters ``extra``."""
        if not extra and not self._fallback:
            bucket, _, key = path.partition("/")
            try:
                import obstore

                store = await self._store(bucket)
                found: str = await obstore.sign_async(
                    store, "GET", key, timedelta(seconds=self.expires)
                )
                return found
            except Exception as exc:  # obstore missing, a key it will not take, ...
                log.debug("presigning %s with s3fs instead of obstore: %s", path, exc)
                self._fallback = True
        signed: str = await self.fs._url(path, expires=self.expires, **extra)
        return signed

    async def _store(self, bucket: str) -> Any:
        made, store = self._stores.get(bucket, (0.0, None))
        if store is not None and time.monotonic() - made < RENEW_SECONDS:
            return store
        from obstore.store import S3Store

        await self.fs.set_session()
        meta = self.fs.s3.meta
        options: dict[str, Any] = {"region": meta.region_name or "us-east-1"}
        if self.endpoint_url:
            # An S3-compatible server (MinIO, SeaweedFS, moto): path-style, as botocore does.
            options["endpoint"] = self.endpoint_url
            options["virtual_hosted_style_request"] = False
            options["client_options"] = {"allow_http": self.endpoint_url.startswith("http:")}
        if getattr(self.fs, "anon", False):
            options["skip_signature"] = True
        else:
            credential = await self._credential()
            options["credential_provider"] = lambda: credential
        store = S3Store(bucket, **options)
        self._stores[bucket] = (time.monotonic(), store)
        return store

    async def _credential(self) -> dict[str, Any]:
        """s3fs's identity: the key and secret it was given, else its session's credentials."""
        key, secret, token = self.fs.key, self.fs.secret, getattr(self.fs, "token", None)
        if not (key and secret):
            found = await self.fs.session.get_credentials()
            if found is None:
                raise ValueError("no AWS credentials found")
            frozen = await found.get_frozen_credentials()
            key, secret, token = frozen.access_key, frozen.secret_key, frozen.token
        return {
            "access_key_id": key,
            "secret_access_key": secret,
            "token": token,
            "expires_at": None,
        }
