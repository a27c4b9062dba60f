"""What a deployment's notices say that no case does: the plan's name, how long a provider has to
send information, and how to appeal. Read from the ``notices`` section of the deployment file
beside the policies (``policies/deployment.yaml``); every field has a default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from medpolicy.policy.registry import DEPLOYMENT_FILE, default_policies_dir

__all__ = ["AppealSettings", "NoticeSettings", "load_notice_settings"]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppealSettings(_Settings):
    deadline_days: int = Field(default=180, ge=1, le=3650)
    member: str = (
        "You, or someone you name to act for you (such as your doctor), may ask us to review "
        "this decision again. This is called an appeal."
    )
    provider: str = "The prescriber may request a peer-to-peer discussion or file an appeal."
    how: str = "Send a written appeal to the address on the member's ID card."
    expedited: str = (
        "If waiting could seriously harm the member's life, health or ability to regain "
        "maximum function, ask for an expedited appeal; it is decided within 72 hours."
    )
    contact: str = "Call the number on the member's ID card."


class NoticeSettings(_Settings):
    plan_name: str = "the health plan"
    information_due_days: int = Field(default=14, ge=1, le=365)
    appeal: AppealSettings = AppealSettings()


def load_notice_settings(root: Path | None = None) -> NoticeSettings:
    """The ``notices`` section of ``root/deployment.yaml`` (defaults where it says nothing);
    ``ValueError`` naming the field when it is malformed."""
    path = (root or default_policies_dir()) / DEPLOYMENT_FILE
    data: Any = {}
    if path.is_file():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        data = loaded.get("notices", {}) if isinstance(loaded, dict) else {}
    return NoticeSettings.model_validate(data or {})
