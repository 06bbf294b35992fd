"""detect-secrets detectors for ragops' own credentials, loaded by secret_scan.py by file
path (detect-secrets imports this file on its own: keep it to detector classes)."""

import re

from detect_secrets.plugins.base import RegexBasedDetector

LABEL = "ragops API key"


class RagopsApiKeyDetector(RegexBasedDetector):
    """ragops API keys (``ragops.domain.auth``): ``rgk{16 hex}{43 letters and digits}``, and
    the earlier ``rgk_{16 hex}_{43 URL-safe base64}``."""

    secret_type = LABEL
    denylist = (re.compile(r"rgk_?[0-9a-f]{16}_?[A-Za-z0-9_-]{43}"),)
