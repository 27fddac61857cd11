"""The echo brain: reflex → command → fan-out → merge → save (the seed's name)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core import audience, identity, merge
from core import creation as creator
from core.context import MemoryLine, TokenCounter, build_messages, estimate_tokens
from core.errors import BadInput, CircuitBusy, NotReady, PromptTooLong
from core.identity import Manifest
from core.origin import ANONYMOUS_CALLER, Caller, creation_forbidden, redact
from core.settings import CIRCUIT_NAMES, Settings
from llm.backend import Generation, QueueFull
from llm.circuit import Circuit, CircuitResult, DeltaHook, Ticket

log = logging.getLogger(__name__)

PLAN_MAX_TOKENS = 1024  # a file plan is JSON with whole files in it: cut short, it is useless


DoneHook = Callable[[str, CircuitResult], Awaitable[None]]
Observer = Callable[[str, CircuitResult], None]


@dataclass(frozen=True)
class AskOptions:
    """Per-request knobs (the OpenAI route sets them; /api/ask uses the defaults)."""

    names: tuple[str, ...] = CIRCUIT_NAMES
    max_tokens: int | None = None
    temperature: float | None = None
    system: str | None = None
    history: tuple[dict[str, str], ...] = ()


class TurnStore(Protocol):
    """Where answered turns go, each caller's in its own tree (core.memory.callers)."""

    def save_turn(
        self, prompt: str, reply: str, *, idempotency_key: str | None = None, caller: Caller
    ) -> Any:
        """Append a turn durably to the caller's tree; returns something with `as_dict()`."""

    def guest_names(self) -> list[str]:
        """Guests with a tree of their own."""

    def lines_of(self, names: list[str], prompt: str, k: int) -> Sequence[MemoryLine]:
        """The best lines of these guests' trees, each labelled with its guest."""


class ContextSource(Protocol):
    """Where remembered lines come from (core.memory.index.MemoryIndex)."""

    def context_for(self, prompt: str, k: int = 8) -> Sequence[MemoryLine]:
        """Best-matching lines for a prompt."""


@dataclass
class Answer:
    """One answered prompt: the response document of POST /api/ask."""

    reply: str
    kind: str
    circuits: dict[str, CircuitResult] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=lambda: {"saved": False})
    ms: int = 0
    project: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON document."""
        doc: dict[str, Any] = {
            "reply": self.reply,
            "kind": self.kind,
            "circuits": {name: r.as_dict() for name, r in self.circuits.items()},
            "memory": self.memory,
            "ms": self.ms,
        }
        if self.project is not None:
            doc["project"] = self.project
        return doc


class EchoBrain:
    """Answers prompts with the three circuits, the memory and the identity."""

    def __init__(
        self,
        settings: Settings,
        circuits: Mapping[str, Circuit],
        *,
        memory: TurnStore | None = None,
        context: ContextSource | None = None,
        manifests: Sequence[Manifest] = (),
        observer: Observer | None = None,
    ) -> None:
        self.settings = settings
        self.observer = observer
        self.circuits = dict(circuits)
        self.memory = memory
        self.context = context
        self.manifests = list(manifests)

    def check_prompt(self, prompt: str) -> str:
        """Reject an empty or oversized prompt."""
        if not prompt.strip():
            raise BadInput("prompt is empty", "프롬프트가 비어 있습니다.")
        if len(prompt) > self.settings.max_prompt_chars:
            raise PromptTooLong(
                f"prompt has {len(prompt)} characters; the limit is "
                f"{self.settings.max_prompt_chars} (ECHO_MAX_PROMPT_CHARS)",
                f"프롬프트가 {len(prompt)}자입니다. "
                f"한도는 {self.settings.max_prompt_chars}자입니다.",
            )
        return prompt

    def authorize(self, prompt: str, caller: Caller) -> None:
        """Refuse a creation command from anyone but the origin (before anything runs)."""
        if creator.is_creation_command(prompt) and not caller.is_origin:
            raise creation_forbidden()

    async def ask(
        self,
        prompt: str,
        *,
        caller: Caller,
        idempotency_key: str | None = None,
        on_delta: DeltaHook | None = None,
        on_done: DoneHook | None = None,
        options: AskOptions | None = None,
    ) -> Answer:
        """Answer one prompt and save the turn."""
        started = time.monotonic()
        options = options or AskOptions()
        self.check_prompt(prompt)
        self.authorize(prompt, caller)
        reflex = identity.reflect_identity(prompt, self.manifests)
        remembered: Sequence[MemoryLine] = ()
        if reflex is not None:
            answer = Answer(reply=reflex, kind="identity")
        elif creator.is_creation_command(prompt):
            answer = await self._create(prompt, caller)
        else:
            remembered = await self.remember(prompt, caller)
            results = await self.fan_out(
                prompt, options, on_delta=on_delta, on_done=on_done, memory=remembered,
                caller=caller,
            )
            if not caller.is_origin:  # where the origin's files lie is his alone
                results = {n: _without_paths(r) for n, r in results.items()}
            reply = await self._merge(prompt, results, caller)
            answer = Answer(reply=reply, kind="echo", circuits=results)
        answer.memory = await self._save(prompt, answer.reply, idempotency_key, caller)
        if caller.is_origin and answer.kind == "echo":
            answer.memory["context"] = [_used(line) for line in remembered]
        answer.ms = int((time.monotonic() - started) * 1000)
        return answer

    async def fan_out(
        self,
        prompt: str,
        options: AskOptions | None = None,
        *,
        on_delta: DeltaHook | None = None,
        on_done: DoneHook | None = None,
        memory: Sequence[MemoryLine] = (),
        caller: Caller = ANONYMOUS_CALLER,
    ) -> dict[str, CircuitResult]:
        """Ask the ready circuits among `options.names` at once; the others are `unavailable`.

        `memory`: the remembered lines every circuit gets (see `remember`). A circuit that
        answers the origin only is `unavailable` for anyone else (`core.audience`).
        """
        options = options or AskOptions()
        wanted = [self.circuits[n] for n in options.names]
        allowed = audience.serving(wanted, caller)
        ready = [c for c in allowed if c.ready]
        if not ready:
            states = ", ".join(f"{c.name}: {c.state}" for c in wanted)
            raise NotReady(
                f"no circuit is ready yet ({states}); see GET /ready",
                f"준비된 회로가 아직 없습니다 ({states}). GET /ready 를 확인하세요.",
                retry_after=5,
            )
        gens = [self.generation(c, prompt, memory, options, caller=caller) for c in ready]
        tickets = _open_all(ready, gens)

        async def collect(ticket: Ticket) -> CircuitResult:
            result = await ticket.result(on_delta)
            if self.observer is not None:
                self.observer(ticket.circuit.name, result)
            if on_done is not None:
                await on_done(ticket.circuit.name, result)
            return result

        answers = await asyncio.gather(*(collect(t) for t in tickets))
        results = {t.circuit.name: a for t, a in zip(tickets, answers, strict=True)}
        return {c.name: results.get(c.name) or _unavailable(c, caller) for c in wanted}

    def generation(
        self,
        circuit: Circuit,
        prompt: str,
        memory: Sequence[MemoryLine] = (),
        options: AskOptions | None = None,
        json_schema: dict[str, Any] | None = None,
        *,
        persona: str | None = None,
        repeat_penalty: float | None = None,
        caller: Caller = ANONYMOUS_CALLER,
    ) -> Generation:
        """The request one circuit gets: persona, declarations, context, earlier turns, prompt.

        Everything is fitted to `n_ctx` with the circuit's own tokenizer where it has one.
        """
        options = options or AskOptions()
        tokens = options.max_tokens or self.settings.max_tokens
        messages = build_messages(
            persona or circuit.persona,
            prompt,
            memory=memory,
            manifests=self.manifests,
            history=options.history,
            extra_system=options.system,
            n_ctx=self.settings.n_ctx,
            max_tokens=tokens,
            count=_counter(circuit),
        )
        temp = options.temperature if options.temperature is not None else self.settings.temperature
        return Generation(messages, tokens, temp, json_schema, repeat_penalty,
                          origin=caller.is_origin, audience=audience.audience(caller))

    async def remember(self, prompt: str, caller: Caller) -> Sequence[MemoryLine]:
        """The remembered lines for a prompt, by caller (see core/memory/callers.py).

        The origin's lines go to the origin (to others only with ECHO_SHARE_MEMORY); a
        guest's own lines to that guest (ECHO_GUEST_RECALL); guests' lines to the origin
        only with ECHO_RECALL_GUESTS, labelled, in slots after his own.
        """
        k = self.settings.context_lines
        if k == 0:
            return ()
        lines: list[MemoryLine] = []
        if self.context is not None and (caller.is_origin or self.settings.share_memory):
            try:
                lines += await asyncio.to_thread(self.context.context_for, prompt, k)
            except Exception as exc:  # memory must never stop an answer
                log.warning("memory context unavailable: %s", exc)
        guests = self._recalled_guests(caller)
        if guests and self.memory is not None:
            room = max(1, k // 2) if lines else k
            lines += await asyncio.to_thread(self.memory.lines_of, guests, prompt, room)
        return lines

    def _recalled_guests(self, caller: Caller) -> list[str]:
        """Whose guest trees this caller's prompt may recall from."""
        if caller.is_origin:
            if self.settings.recall_guests and self.memory is not None:
                return self.memory.guest_names()
            return []
        if caller.kind == "guest" and self.settings.guest_recall:
            return [caller.name]
        return []  # anonymous callers are not one person: none recalls another's turns

    async def _merge(self, prompt: str, results: dict[str, CircuitResult], caller: Caller) -> str:
        drafts = [r for r in results.values() if r.status == "ok" and r.text]
        self_circuit = self.circuits.get("self")
        if (
            self.settings.merge != "synthesize"
            or len(drafts) < 2
            or not (self_circuit and self_circuit.ready and self_circuit.serves(caller.is_origin))
        ):
            return merge.concat(results)
        gen = self.generation(
            self_circuit,
            merge.synthesis_prompt(prompt, results),
            persona=self_circuit.persona + "\n\n" + merge.SYNTHESIS_INSTRUCTION,
            caller=caller,
        )
        try:
            final = await _open(self_circuit, gen).result()
        except CircuitBusy:
            return merge.concat(results)
        if self.observer is not None:  # the synthesis is a fourth call: metrics count it
            self.observer(self_circuit.name, final)
        return final.text if final.status == "ok" and final.text else merge.concat(results)

    async def _create(self, prompt: str, caller: Caller) -> Answer:
        self.authorize(prompt, caller)
        result = await creator.create_project(
            prompt,
            origin_dir=self.settings.origin_dir,
            planner=self._planner(caller),
            timeout_s=self.settings.circuit_timeout_s,
            redact=lambda text: redact(text, self.settings),
        )
        return Answer(reply=result.reply, kind="create", project=result.as_dict())

    def _planner(self, caller: Caller) -> creator.Planner | None:
        circuit = self.circuits.get("creation")
        if circuit is None or not circuit.ready:
            return None

        async def plan(prompt: str, schema: dict[str, Any]) -> str:
            options = AskOptions(max_tokens=max(self.settings.max_tokens, PLAN_MAX_TOKENS))
            # repeat_penalty: small models loop inside long JSON strings otherwise
            gen = self.generation(
                circuit, prompt, options=options, json_schema=schema, repeat_penalty=1.15,
                caller=caller,
            )
            result = await _open(circuit, gen).result()
            if result.status != "ok":
                raise RuntimeError(result.error or result.status)
            return result.text

        return plan

    async def _save(
        self, prompt: str, reply: str, key: str | None, caller: Caller
    ) -> dict[str, Any]:
        if self.memory is None:
            return {"saved": False, "error": "memory is not configured / 기억 저장소가 없습니다"}
        # A token typed into a prompt (or echoed back) never reaches the archive.
        prompt, reply = redact(prompt, self.settings), redact(reply, self.settings)
        result = await asyncio.to_thread(
            self.memory.save_turn, prompt, reply, idempotency_key=key, caller=caller
        )
        doc: dict[str, Any] = result.as_dict()
        if not caller.is_origin:
            doc.pop("path", None)  # where the origin's archive lies is his alone
        return doc


def _open_all(circuits: Sequence[Circuit], gens: Sequence[Generation]) -> list[Ticket]:
    """Queue every generation, or none: a busy circuit cancels those already queued."""
    tickets: list[Ticket] = []
    try:
        for circuit, gen in zip(circuits, gens, strict=True):
            tickets.append(_open(circuit, gen))
    except CircuitBusy:
        for ticket in tickets:
            ticket.cancel()
        raise
    return tickets


def _open(circuit: Circuit, gen: Generation) -> Ticket:
    """Queue one generation; a full queue is the domain's CircuitBusy (429 + Retry-After)."""
    try:
        return circuit.open(gen)
    except QueueFull as exc:
        raise CircuitBusy(
            f"circuit {circuit.name} is busy ({exc.size} requests waiting); "
            "retry in a few seconds",
            f"{circuit.name} 회로가 바쁩니다. 잠시 후 다시 시도하세요.",
            retry_after=5,
        ) from None


def _counter(circuit: Circuit) -> TokenCounter:
    """The circuit's own tokenizer when its backend has one, else the high estimate."""
    backend = circuit.backend
    if backend is None:
        return estimate_tokens

    def count(text: str) -> int:
        exact = backend.count_tokens(text)
        return estimate_tokens(text) if exact is None else exact

    return count


def _used(line: MemoryLine) -> dict[str, Any]:
    """A remembered line as `memory.context` lists it (day, part, line, speaker, text;
    `guest` for a guest's line)."""
    doc = {
        "day": line.day,
        "part": getattr(line, "part", None),
        "line": getattr(line, "line", None),
        "speaker": getattr(line, "speaker", None),
        "date": getattr(line, "date", None),
        "text": line.text,
    }
    if (guest := getattr(line, "guest", None)) is not None:
        doc["guest"] = guest
    return doc


PATH_RE = re.compile(r"(?:[A-Za-z]:)?[\\/][^\s'\"]*[\\/][^\s'\")]*")


def _without_paths(result: CircuitResult) -> CircuitResult:
    """A circuit's result with file paths cut out of its error (for callers other than the
    origin; the rest of the reason, bilingual, stays)."""
    if not result.error:
        return result
    return dataclasses.replace(result, error=PATH_RE.sub("…", result.error))


def _unavailable(circuit: Circuit, caller: Caller) -> CircuitResult:
    if not circuit.serves(caller.is_origin):
        return audience.origin_only(circuit)
    reason = circuit.error if circuit.state == "failed" else f"circuit is {circuit.state}"
    return CircuitResult("", "unavailable", error=reason)
