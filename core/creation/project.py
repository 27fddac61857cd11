"""Project creation (만들어줘): the creation circuit plans, the echo writes atomically.

`create_project` asks a planner for a file plan (see `core.creation.plan`), writes
`README.md`, the planned files and `structure.json` into a temporary folder
inside `origin/projects/`, and renames it into place: a project is either whole
or absent. An unusable plan (or no planner, or a planner that fails) gives the
minimal scaffold (`README.md`, `main.py`) and a reply that says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.creation.command import command_text, planner_prompt, slugify
from core.creation.plan import PLAN_SCHEMA, Plan, PlannedFile, parse_plan
from core.creation.write import STRUCTURE, prepare_folder, write_project
from core.errors import PlanRejected

logger = logging.getLogger(__name__)

Planner = Callable[[str, dict[str, Any]], Awaitable[str]]

_REPLY_FILES = 20


@dataclass
class ProjectResult:
    """What a creation did: the project's name, its path, its files and the user's reply."""

    name: str
    path: str
    files: list[str] = field(default_factory=list)
    scaffold: bool = False
    reply: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The `project` object of the /api/ask answer."""
        return {"name": self.name, "path": self.path, "files": list(self.files)}


def _scaffold_files(slug: str, title: str) -> list[PlannedFile]:
    main_py = (
        f'"""{slug}: scaffold written by Echo Brain / 에코브레인이 만든 최소 골격."""\n\n\n'
        "def main() -> None:\n"
        f'    print({f"{title} — hello / 안녕하세요"!r})\n\n\n'
        'if __name__ == "__main__":\n'
        "    main()\n"
    )
    return [PlannedFile("main.py", main_py)]


def _readme(title: str, prompt: str, plan: Plan, files: list[str], note: str | None) -> str:
    lines = [f"# {title}", "", "## 요청 / Request", "", prompt, ""]
    lines += ["## 설명 / Description", "", plan.description or "(없음 / none)", ""]
    if note:
        lines += [f"> {note}", ""]
    lines += ["## 파일 / Files", ""]
    lines += [f"- `{path}`" for path in files]
    lines += [f"- `{STRUCTURE}` — 설계와 메타데이터 / the plan and metadata", ""]
    if plan.readme:
        lines += ["## 노트 / Notes", "", plan.readme.strip(), ""]
    lines += ["---", "에코브레인의 창조 회로가 오리진을 위해 만들었습니다. / "
              "Made by Echo Brain's creation circuit for the origin.", ""]
    return "\n".join(lines)


def _reply(slug: str, path: str, files: list[str], why: PlanRejected | None) -> str:
    shown = ", ".join(files[:_REPLY_FILES]) + (", …" if len(files) > _REPLY_FILES else "")
    ko = f"프로젝트 '{slug}'를 {path}에 만들었습니다 (파일 {len(files)}개: {shown})."
    en = f"Project '{slug}' created in {path} with {len(files)} files: {shown}."
    if why is not None:
        ko += (f" 창조 회로의 설계를 쓸 수 없어({why.message_ko}) 대신 최소 골격"
               "(README.md, main.py)을 만들었습니다.")
        en += (f" The creation circuit's plan was unusable ({why.message}), so a minimal "
               "scaffold (README.md, main.py) was written instead.")
    return f"{ko}\n{en}"


async def _ask_planner(
    prompt: str, planner: Planner | None, timeout_s: float | None
) -> Plan | PlanRejected:
    """The validated plan, or the reason it is unusable (never raises for the planner's faults)."""
    if planner is None:
        return PlanRejected("no creation circuit is available", "창조 회로를 쓸 수 없습니다")
    try:
        raw = await asyncio.wait_for(planner(planner_prompt(prompt), PLAN_SCHEMA), timeout_s)
    except TimeoutError:
        return PlanRejected("the creation circuit timed out", "창조 회로의 시간이 초과되었습니다")
    except Exception as exc:  # the circuit's own failure must not fail the command
        logger.warning("creation planner failed: %s", type(exc).__name__)
        return PlanRejected(
            f"the creation circuit failed ({type(exc).__name__})",
            f"창조 회로가 실패했습니다 ({type(exc).__name__})",
        )
    try:
        return parse_plan(raw)
    except PlanRejected as exc:
        logger.info("creation plan rejected: %s", exc.message)
        return exc


async def create_project(
    prompt: str,
    *,
    origin_dir: Path,
    planner: Planner | None,
    name: str | None = None,
    timeout_s: float | None = None,
    redact: Callable[[str], str] | None = None,
) -> ProjectResult:
    """Plan, validate and atomically write origin/projects/<slug>/ (Conflict if it exists)."""
    slug = slugify(name) if name and name.strip() else slugify(prompt)
    projects = await asyncio.to_thread(prepare_folder, origin_dir, slug)  # before model time
    outcome = await _ask_planner(prompt, planner, timeout_s)
    why = outcome if isinstance(outcome, PlanRejected) else None
    clean = redact or (lambda text: text)
    request = clean(command_text(prompt) or prompt)
    if isinstance(outcome, Plan):
        plan = outcome
    else:
        plan = Plan(None, request, _scaffold_files(slug, request[:80] or slug))
    title = clean(plan.name or slug)
    planned = {f.path: clean(f.content) for f in plan.files}
    note = None
    if why is not None:
        note = (f"최소 골격입니다: {why.message_ko}. / "
                f"This is a minimal scaffold: {why.message}.")
    readme = clean(_readme(title, request, plan, sorted(planned), note))
    metadata = {
        "name": slug,
        "title": title,
        "prompt": clean(prompt),
        "description": clean(plan.description),
        "scaffold": why is not None,
        "scaffold_reason": None if why is None else {"en": why.message, "ko": why.message_ko},
    }
    files = await asyncio.to_thread(
        write_project, projects, slug, {"README.md": readme, **planned}, metadata
    )
    path = f"{origin_dir.name}/projects/{slug}"
    logger.info("project created: %s (%d files, scaffold=%s)", path, len(files), why is not None)
    return ProjectResult(slug, path, files, why is not None, _reply(slug, path, files, why))
