#!/usr/bin/env python3
"""Smoke test of a running ragops API: the deploy workflow runs it against the stage it has
just deployed; it runs the same against `ragops serve` on a laptop.

    RAGOPS_API_KEY=... python3 scripts/smoke.py \
        https://abc123.execute-api.us-east-1.amazonaws.com/dev --tenant docs --expect-key-required
    python3 scripts/smoke.py http://127.0.0.1:8000

Checks, in order (one line each on stdout; exit 0 when all pass, 1 otherwise):

1. ``GET /healthz`` answers 200 with ``status`` ``ok`` or ``maintenance`` (retried a few
   times: the first request after a deployment meets a cold start).
2. with ``--expect-key-required``: ``POST /v1/query`` without the key is refused (403), so
   the stage is not open to anyone.
3. ``POST /v1/query`` with the key (``x-api-key``, read from the environment variable named
   by ``--api-key-env``, never from the command line), a ragops credential when one is given
   (``Authorization: Bearer``, from ``--token-env``) and the tenant: 200 with an answer,
   citations and a model. While the tier is in maintenance (health said so) a 503
   ``service_paused`` passes too, with a note, unless ``--require-answer``.

Standard library only: the workflow runs it with the runner's python, before installing
anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

DEFAULT_QUESTION = "How does ragops keep tenants apart?"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class SmokeFailure(Exception):
    """A check failed; the message says which and why."""


def call(
    url: str,
    *,
    method: str = "GET",
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
    """(status, JSON body or None, headers) of one request; HTTP errors are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    request = Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urlopen(request, timeout=timeout) as response:
            status, raw, got = response.status, response.read(), dict(response.headers)
    except HTTPError as error:
        status, raw, got = error.code, error.read(), dict(error.headers or {})
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed if isinstance(parsed, dict) else None, got


def check_health(base: str, attempts: int, wait: float, timeout: float) -> dict[str, Any]:
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            status, body, _ = call(f"{base}/healthz", timeout=timeout)
        except (URLError, OSError) as error:
            last = f"no answer ({getattr(error, 'reason', error)})"
        else:
            if status == 200 and body and body.get("status") in ("ok", "maintenance"):
                return body
            last = f"HTTP {status}: {json.dumps(body)[:300] if body else 'no JSON body'}"
        if attempt < attempts:
            time.sleep(wait)
    raise SmokeFailure(f"healthz: {last} after {attempts} attempts")


def check_key_required(base: str, tenant: str, question: str, timeout: float) -> None:
    status, _, _ = call(
        f"{base}/v1/query",
        method="POST",
        body={"question": question},
        headers={"X-Tenant-Id": tenant},
        timeout=timeout,
    )
    if status != 403:
        raise SmokeFailure(f"query without an API key: expected 403, got HTTP {status}")


def check_query(
    base: str,
    *,
    api_key: str | None,
    token: str | None,
    tenant: str,
    question: str,
    maintenance: bool,
    require_answer: bool,
    timeout: float,
) -> str:
    headers = {"X-Tenant-Id": tenant}
    if api_key:
        headers["x-api-key"] = api_key
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, body, got = call(
        f"{base}/v1/query",
        method="POST",
        body={"question": question},
        headers=headers,
        timeout=timeout,
    )
    error_type = ((body or {}).get("error") or {}).get("type")
    if status == 503 and error_type == "service_paused":
        if maintenance and not require_answer:
            retry = got.get("Retry-After") or got.get("retry-after") or "?"
            return f"503 service_paused (tier in maintenance, Retry-After {retry}): accepted"
        raise SmokeFailure(
            "query: 503 service_paused"
            + (" (--require-answer)" if maintenance else " although health said ok")
        )
    if status != 200 or body is None:
        detail = json.dumps(body)[:300] if body else "no JSON body"
        raise SmokeFailure(f"query: HTTP {status}: {detail}")
    problems = [
        name
        for name, kind in (("answer", str), ("citations", list), ("model", str))
        if not isinstance(body.get(name), kind)
    ]
    if problems:
        raise SmokeFailure(f"query: 200 but missing or malformed {', '.join(problems)}")
    return (
        f"200 from {body['model']}, {len(body['citations'])} citations, "
        f"{'abstained' if body.get('abstained') else 'answered'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the API's base URL (the stack output ApiUrl)")
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument(
        "--api-key-env",
        default="RAGOPS_API_KEY",
        help="environment variable holding the API key (default RAGOPS_API_KEY; unset: none)",
    )
    parser.add_argument(
        "--token-env",
        default="RAGOPS_SMOKE_TOKEN",
        help="environment variable holding a ragops API key or JWT for the tenant, sent as "
        "Authorization: Bearer (default RAGOPS_SMOKE_TOKEN; unset: none)",
    )
    parser.add_argument(
        "--expect-key-required",
        action="store_true",
        help="also check that a query without the key is refused (403)",
    )
    parser.add_argument(
        "--require-answer",
        action="store_true",
        help="fail when the tier is in maintenance instead of accepting a 503",
    )
    parser.add_argument("--attempts", type=int, default=5, help="healthz attempts")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds between attempts")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")
    api_key = os.environ.get(args.api_key_env) or None
    token = os.environ.get(args.token_env) or None

    try:
        health = check_health(base, max(args.attempts, 1), args.wait, args.timeout)
        tier = health.get("tier") or {}
        say(f"ok   healthz: {health['status']} (tier {tier.get('state', '?')})")
        if args.expect_key_required:
            check_key_required(base, args.tenant, args.question, args.timeout)
            say("ok   a query without the API key is refused (403)")
        outcome = check_query(
            base,
            api_key=api_key,
            token=token,
            tenant=args.tenant,
            question=args.question,
            maintenance=health["status"] == "maintenance",
            require_answer=args.require_answer,
            timeout=args.timeout,
        )
        say(f"ok   query (tenant {args.tenant}): {outcome}")
    except SmokeFailure as failure:
        say(f"FAIL {failure}")
        return 1
    except (URLError, OSError) as error:
        say(f"FAIL no answer from {base}: {getattr(error, 'reason', error)}")
        return 1
    say("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
