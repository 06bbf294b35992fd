"""Object store in an S3 bucket (the cloud system of record)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ragops.domain.downloads import content_disposition_name
from ragops.errors import ObjectNotFound, StoreUnavailable, WriteConflict

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
"""A conditional write that lost: the ETag no longer matches (412), or another
conditional write to the key is in flight (409)."""
_DENIED_CODES = frozenset({"AccessDenied", "403", "Forbidden"})
_PERMISSIONS = {
    "read": "s3:GetObject",
    "write": "s3:PutObject",
    "presign": "s3:PutObject",
    "delete": "s3:DeleteObject",
}
_SIGV4_HANDLER = "ragops-sigv4-presigned-post"
_SIGV4_GET_HANDLER = "ragops-sigv4-presigned-get"


def _sigv4_for_presigned_post(signature_version: str, **_: Any) -> str | None:
    """botocore presigns POSTs with SigV2 in the older regions unless the client was built
    with ``signature_version="s3v4"``; S3 refuses SigV2 for objects encrypted with KMS (the
    documents bucket's default), and new regions take SigV4 only."""
    return "s3v4" if signature_version.endswith("-presign-post") else None


def _sigv4_for_presigned_get(signature_version: str, **_: Any) -> str | None:
    """The same for presigned GET URLs (``-query``): SigV4, which KMS-encrypted objects
    need and which names its expiry (``X-Amz-Expires``)."""
    return "s3v4-query" if signature_version.endswith("-query") else None


def _denied(action: str, bucket: str, key: str) -> str:
    """What an access-denied answer means for ``action`` on ``key``: the permission the
    role lacks (a read of a key that does not exist also needs ``s3:ListBucket``)."""
    top = key.split("/", 1)[0] + "/" if "/" in key else key
    if action == "list":
        return (
            f"access denied listing s3://{bucket}/{key}: the role needs s3:ListBucket on "
            f"arn:aws:s3:::{bucket} for the prefix {top}*"
        )
    needs = f"{_PERMISSIONS.get(action, 's3:GetObject')} on arn:aws:s3:::{bucket}/{top}*"
    if action == "read":
        needs += (
            f", and s3:ListBucket on arn:aws:s3:::{bucket} for the prefix {top}* (without it "
            "S3 answers 403, not 404, for a key that does not exist)"
        )
    return f"access denied to {action} s3://{bucket}/{key}: the role needs {needs}"


class S3ObjectStore:
    """Keys live under ``prefix`` in ``bucket``. ``client`` is a boto3 S3 client; one is
    built (lazily, on first use) only when none is injected."""

    def __init__(
        self, bucket: str, *, prefix: str = "", client: Any | None = None, region: str | None = None
    ) -> None:
        if not bucket:
            raise ValueError("an S3 object store needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client = client
        self._region = region

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Virtual-hosted addressing names the bucket's own region in presigned URLs
            # (bucket.s3.eu-west-1.amazonaws.com): with the default, a presigned POST goes to
            # the global endpoint, which answers a new bucket outside us-east-1 with a 307
            # that a browser's cross-origin form post does not follow. Not with an endpoint
            # override (moto, LocalStack), which serves buckets by path.
            overridden = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            config = None if overridden else Config(s3={"addressing_style": "virtual"})
            self._client = boto3.client("s3", region_name=self._region, config=config)
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + key

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """Turn botocore errors into ObjectNotFound (missing key) or StoreUnavailable."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in _MISSING_CODES:
                raise ObjectNotFound(key) from exc
            if code in _CONFLICT_CODES and action == "write":
                raise WriteConflict(key) from exc
            if code in _DENIED_CODES:
                raise StoreUnavailable(_denied(action, self.bucket, self._key(key))) from exc
            raise StoreUnavailable(
                f"could not {action} s3://{self.bucket}/{self._key(key)}"
            ) from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(
                f"could not {action} s3://{self.bucket}/{self._key(key)}"
            ) from exc

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        with self._errors("write", key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)

    def get(self, key: str) -> bytes:
        with self._errors("read", key):
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        with self._errors("read", key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read(), str(response["ETag"])

    def put_if(
        self, key: str, data: bytes, content_type: str | None = None, *, tag: str | None
    ) -> None:
        """S3's conditional writes: ``If-Match`` the tag, or ``If-None-Match: *``."""
        extra: dict[str, str] = {"ContentType": content_type} if content_type else {}
        extra.update({"IfMatch": tag} if tag is not None else {"IfNoneMatch": "*"})
        try:
            with self._errors("write", key):
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)
        except ObjectNotFound as exc:  # If-Match on a key deleted meanwhile
            raise WriteConflict(key) from exc

    def exists(self, key: str) -> bool:
        try:
            with self._errors("read", key):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        """A presigned POST (``PresignsUploads``): the policy names the bucket and exactly
        this key, the content type, and a ``content-length-range`` of 1 to ``max_bytes``;
        S3 refuses a form that differs in any of them, or that arrives after ``expires_in``
        seconds (or after the signing credentials expire, whichever is first). Signed
        offline with the client's credentials (SigV4), so S3 checks the upload against the
        signer's permissions: ``s3:PutObject`` on the key (and KMS for the bucket key)."""
        if max_bytes < 1 or expires_in < 1:
            raise ValueError("a presigned upload needs max_bytes and expires_in of at least 1")
        client = self.client
        client.meta.events.register_first(
            "choose-signer.s3.PutObject", _sigv4_for_presigned_post, unique_id=_SIGV4_HANDLER
        )
        with self._errors("presign", key):
            post = client.generate_presigned_post(
                Bucket=self.bucket,
                Key=self._key(key),
                Fields={"Content-Type": content_type},
                Conditions=[
                    {"Content-Type": content_type},
                    ["content-length-range", 1, max_bytes],
                ],
                ExpiresIn=expires_in,
            )
        return str(post["url"]), {name: str(value) for name, value in post["fields"].items()}

    def presign_download(
        self, key: str, *, filename: str, content_type: str, inline: bool, expires_in: int
    ) -> str:
        """A presigned GET (``PresignsDownloads``), signed offline with the client's
        credentials: S3 checks the read against the signer's ``s3:GetObject`` (and KMS)."""
        if expires_in < 1:
            raise ValueError("a presigned download needs expires_in of at least 1")
        disposition = "inline" if inline else "attachment"
        self.client.meta.events.register_first(
            "choose-signer.s3.GetObject", _sigv4_for_presigned_get, unique_id=_SIGV4_GET_HANDLER
        )
        with self._errors("presign", key):
            return str(
                self.client.generate_presigned_url(
                    "get_object",
                    Params={
                        "Bucket": self.bucket,
                        "Key": self._key(key),
                        "ResponseContentType": content_type,
                        "ResponseContentDisposition": (
                            f"{disposition}; {content_disposition_name(filename)}"
                        ),
                    },
                    ExpiresIn=expires_in,
                )
            )

    def list(self, prefix: str) -> Iterator[str]:
        with self._errors("list", prefix):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]
