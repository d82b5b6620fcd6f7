"""Sample caches are named by the judgment protocol: samples made before a change to how judgments are made (the
injection defence) are never reused by the new code."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from spct.sampling import judgments
from spct.sampling.judgments import JudgeSettings, model_fingerprint


def test_cache_name_changes_with_the_judgment_protocol(tmp_path, monkeypatch):
    settings = JudgeSettings(max_new_tokens=4)
    current = settings.fingerprint(tmp_path)
    monkeypatch.setattr(judgments, "JUDGMENT_PROTOCOL", judgments.JUDGMENT_PROTOCOL + 1)
    assert settings.fingerprint(tmp_path) != current


def test_caches_written_before_the_injection_defence_are_not_reused(tmp_path):
    """Before the defence a cache was named by the settings and the model alone: not a name the new code reads."""
    settings = JudgeSettings(max_new_tokens=4)
    payload = json.dumps({"settings": asdict(settings), "model": model_fingerprint(tmp_path)}, sort_keys=True)
    before_defence = hashlib.sha256(payload.encode()).hexdigest()[:12]
    assert judgments.JUDGMENT_PROTOCOL >= 2
    assert settings.fingerprint(tmp_path) != before_defence
