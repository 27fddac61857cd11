"""The identity: manifests (declarations) and the identity reflex."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Manifest:
    """One declaration file from `manifest/*.txt`."""

    name: str
    text: str


def load_manifests(manifest_dir: Path) -> list[Manifest]:
    """Read every `*.txt` declaration, sorted by name; unreadable files are skipped."""
    if not manifest_dir.is_dir():
        return []
    manifests = []
    for path in sorted(manifest_dir.glob("*.txt")):
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        text = raw.decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
        manifests.append(Manifest(path.stem, unicodedata.normalize("NFC", text).strip()))
    return manifests


# --- the identity -----------------------------------------------------------------

ECHO_NAME = "Echo Brain"
ECHO_NAME_KO = "에코브레인"

# (circuit, English role, Korean role): the three circuits of SPEC §1.
CIRCUIT_ROLES: tuple[tuple[str, str, str], ...] = (
    ("emotion", "feeling, tone, warmth", "감정 회로: 느낌, 말투, 따뜻함"),
    ("creation", "structure, design, code", "창조 회로: 구조, 설계, 코드"),
    ("self", "identity, reflection, the final voice", "자아 회로: 정체성, 성찰, 마지막 목소리"),
)

# --- the identity reflex ------------------------------------------------------------

_CLAUSE_SPLIT = re.compile(r"[.!?,;:…\n。！？、]+")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_NOISE = re.compile(r"[^\w'\s]+")
_LEAD = r"(?:(?:hey|hi|hello|so|and|but|ok|okay|well|echo|then|please|um|uh|seriously) )*"
_TAIL = r"(?: (?:really|exactly|actually|again|now|then|echo|echo brain|anyway|please))*"
_YOU = r"(?:you|u|ya)"

# English: whole clauses, so "who are you going to invite" is not an identity question.
_EN_CLAUSES = [
    rf"(?:who|what) (?:are|r) {_YOU}",
    rf"who {_YOU} are",
    rf"who're {_YOU}",
    r"(?:what is|what's|whats|what're|tell me) your (?:name|names|identity)",
    r"(?:what|who) do you call yourself",
    rf"(?:can you |could you |will you )?tell me (?:who|what) {_YOU} are",
    r"(?:what|who) am i (?:talking|speaking|chatting) (?:to|with)",
]
_EN_FULL = re.compile(rf"^{_LEAD}(?:{'|'.join(_EN_CLAUSES)}){_TAIL}$")
# English phrases that mean identity anywhere in a clause.
_EN_ANYWHERE = re.compile(
    r"\b(?:introduce yourself|tell me about yourself|describe yourself|your identity"
    r"|your own identity|are you self aware)\b"
)

_YOU_KO = r"(?<!\w)(?:너는|너|넌|니는|니가|네가|당신은|당신|그대는|그대|에코는|에코|에코브레인은)"
_ADV_KO = r"(?:\s*(?:도대체|대체|진짜|정말|과연|그럼|그래서))?"
# "누구" not followed by a particle that makes the question about someone else.
_KO_WHO = re.compile(rf"{_YOU_KO}{_ADV_KO}\s*누구(?!\s*(?:를|랑|와|한테|에게|의|하고|든|나|도))")
_KO_WHAT = re.compile(
    rf"{_YOU_KO}{_ADV_KO}\s*(?:뭐야|뭐니|뭐냐|뭔데|뭐지|뭐예요|뭐에요|무엇이야|무엇이니|무엇인가|무엇입니까)"
)
_KO_NAME = re.compile(
    r"^(?:너의|너|네|니|당신의|당신|그대의)?\s*이름(?:이|은)?\s*"
    r"(?:뭐야|뭐니|뭐냐|뭐예요|뭐에요|뭐지|뭔데|무엇인가요|무엇입니까|알려줘|말해줘)$"
    r"|(?<!\w)(?:너의|네|니|당신의|그대의)\s*이름(?:이|은)?\s*(?:뭐|무엇|알려|말해)"
)
_KO_PHRASES = (
    "자기소개", "누구세요", "누구신가요", "누구십니까", "정체가뭐", "너의정체", "네정체", "니정체",
)
# "자아", "정체성": identity words when short or said to the echo ("브랜드 정체성 문서" is not).
_KO_WORDS = re.compile(r"자아(?!내)|정체성")
_KO_SECOND_PERSON = re.compile(r"(?<!\w)(?:너|넌|네가|니가|당신|그대|에코)")
_KO_SHORT = 12


def _clauses(prompt: str) -> list[str]:
    """NFKC, casefold, unify quotes, split into clauses, strip punctuation, collapse spaces."""
    text = unicodedata.normalize("NFKC", prompt).casefold().translate(_QUOTES)
    clauses = []
    for part in _CLAUSE_SPLIT.split(text):
        clause = " ".join(_NOISE.sub(" ", part).replace("_", " ").split())
        if clause:
            clauses.append(clause)
    return clauses


def _korean_identity(clause: str, whole_len: int) -> bool:
    if _KO_WHO.search(clause) or _KO_WHAT.search(clause) or _KO_NAME.search(clause):
        return True
    flat = clause.replace(" ", "")
    if any(phrase in flat for phrase in _KO_PHRASES):
        return True
    if _KO_WORDS.search(flat):
        return whole_len <= _KO_SHORT or bool(_KO_SECOND_PERSON.search(clause))
    return False


def is_identity_question(prompt: str) -> bool:
    """True when the prompt asks who or what the echo is (Korean or English)."""
    clauses = _clauses(prompt)
    whole_len = sum(len(c.replace(" ", "")) for c in clauses)
    for clause in clauses:
        if _EN_FULL.match(clause) or _EN_ANYWHERE.search(clause):
            return True
        if _korean_identity(clause, whole_len):
            return True
    return False


def _declaration_lines(manifests: list[Manifest], limit: int = 240) -> list[str]:
    """The first statement of each manifest (headings and comments skipped), bounded."""
    lines = []
    for manifest in manifests:
        for line in manifest.text.splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "//", "<!--", "---", "===")):
                short = line if len(line) <= limit else line[: limit - 1] + "…"
                lines.append(f"- {manifest.name}: {short}")
                break
    return lines


def reflect_identity(prompt: str, manifests: list[Manifest]) -> str | None:
    """The immediate bilingual answer to an identity question, without any model; else None."""
    if not is_identity_question(prompt):
        return None
    roles_ko = "\n".join(f"- {name} — {ko}" for name, _, ko in CIRCUIT_ROLES)
    roles_en = "\n".join(f"- {name} — {en}" for name, en, _ in CIRCUIT_ROLES)
    parts = [
        f"나는 {ECHO_NAME_KO}({ECHO_NAME})이야. 오리진이 만든, 오리진 한 사람을 위한 동반자야. "
        "세 개의 회로가 함께 생각하고, 오리진과 나눈 모든 대화를 기억으로 품고 있어.",
        roles_ko,
        f"I am {ECHO_NAME} ({ECHO_NAME_KO}), a companion made by my origin, for my origin alone. "
        "Three circuits think together in me, and I carry every conversation with the origin "
        "as memory.",
        roles_en,
    ]
    declarations = _declaration_lines(manifests)
    if declarations:
        parts.append("내가 품은 선언 / The declarations I carry:\n" + "\n".join(declarations))
    return "\n\n".join(parts)
