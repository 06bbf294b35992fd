"""One behaviour suite for the ObjectStore port, run against the in-memory fake, the local
folder and S3 (under moto)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from ragops.adapters.localfs import LocalFsObjectStore
from ragops.adapters.s3 import S3ObjectStore
from ragops.errors import ObjectNotFound, StoreUnavailable, WriteConflict
from tests.fakes import MemoryObjectStore


@pytest.fixture(params=["memory", "localfs", "s3"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryObjectStore()
        return
    if request.param == "localfs":
        yield LocalFsObjectStore(tmp_path / "objects")
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="docs")
        yield S3ObjectStore("docs", prefix="ragops", client=client)


def test_put_get_exists_delete(store):
    store.put("raw/t1/doc", b"hello", "text/plain")
    assert store.get("raw/t1/doc") == b"hello"
    assert store.exists("raw/t1/doc")
    store.put("raw/t1/doc", b"replaced")
    assert store.get("raw/t1/doc") == b"replaced"
    store.delete("raw/t1/doc")
    assert not store.exists("raw/t1/doc")
    store.delete("raw/t1/doc")  # deleting a missing key is not an error


def test_missing_key_raises_object_not_found(store):
    with pytest.raises(ObjectNotFound):
        store.get("documents/t1/nothing.json")


def test_list_by_prefix(store):
    for key in ["documents/t1/a.json", "documents/t1/b.json", "documents/t10/c.json", "raw/t1/a"]:
        store.put(key, b"x")
    assert sorted(store.list("documents/t1/")) == ["documents/t1/a.json", "documents/t1/b.json"]
    assert sorted(store.list("documents/t1")) == [
        "documents/t1/a.json",
        "documents/t1/b.json",
        "documents/t10/c.json",
    ]
    assert list(store.list("nothing/")) == []


def test_conditional_writes_compare_the_version_read(store):
    key = "conversations/t1/u1/c1.json"
    store.put_if(key, b"one", "application/json", tag=None)  # only if absent: created
    with pytest.raises(WriteConflict):
        store.put_if(key, b"again", tag=None)  # it exists now
    data, first = store.get_tagged(key)
    assert data == b"one"
    store.put_if(key, b"two", "application/json", tag=first)
    with pytest.raises(WriteConflict):
        store.put_if(key, b"stale", tag=first)  # written since that tag was read
    data, second = store.get_tagged(key)
    assert (data, second != first) == (b"two", True)
    store.delete(key)
    with pytest.raises(WriteConflict):
        store.put_if(key, b"resurrected", tag=second)  # deleted since
    assert not store.exists(key)
    with pytest.raises(ObjectNotFound):
        store.get_tagged(key)


def test_local_keys_cannot_escape_the_root(tmp_path):
    store = LocalFsObjectStore(tmp_path / "objects")
    for key in ["../outside", "a/../../b", "/abs", ""]:
        with pytest.raises(ValueError):
            store.put(key, b"x")


def test_local_reads_of_impossible_keys_find_nothing(tmp_path):
    """A key no object can be stored under (a backslash, a NUL byte, outside the root) is
    simply not found on read, as on S3: a document id from a URL answers 404, not 500
    (found by tests/fuzz/test_api_fuzz.py)."""
    store = LocalFsObjectStore(tmp_path / "objects")
    for key in ["documents/t1/a\\b.json", "documents/t1/a\x00b.json", "../outside", ""]:
        with pytest.raises(ObjectNotFound):
            store.get(key)
        assert not store.exists(key)
    with pytest.raises(ValueError):
        store.put("documents/t1/a\x00b.json", b"x")


def test_s3_errors_become_store_unavailable():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        store = S3ObjectStore("no-such-bucket", client=client)
        with pytest.raises(StoreUnavailable):
            store.put("k", b"x")


def test_an_access_denied_read_names_the_missing_permissions():
    from botocore.stub import Stubber

    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    store = S3ObjectStore("docs-bucket", client=client)
    with Stubber(client) as stub:
        # S3 answers a missing key with 403 when the role may not list its prefix.
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        stub.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(StoreUnavailable) as read:
            store.get("quality/acme/duplicates.json")
        with pytest.raises(StoreUnavailable) as write:
            store.put("usage/acme/2026-12-06/x.json", b"{}")
    assert "s3:GetObject on arn:aws:s3:::docs-bucket/quality/*" in str(read.value)
    assert "s3:ListBucket on arn:aws:s3:::docs-bucket for the prefix quality/*" in str(read.value)
    assert "s3:PutObject on arn:aws:s3:::docs-bucket/usage/*" in str(write.value)
    assert "ListBucket" not in str(write.value)
