"""Summarize skill: a pasted text, a file (txt/md), or the conversation so far.

Long inputs are split into chunks that fit the model's window (counted with the model's own
tokenizer, and capped in model-agnostic cl100k tokens), each chunk is summarized (map, with
progress), then the partial summaries are combined (reduce), recursively if they are long.
"""

from __future__ import annotations

import math
import re
import string
from pathlib import Path
from typing import Any, Iterator

from assistant.skills import ChatMessage, Progress, SkillContext, chunk_text, mentioned_paths, read_text, resolve_file

_COMMAND = re.compile(r"^\s*(?:please\s+)?(?:summari[sz]e|summary of|sum up|tl;?dr|give me (?:a|the) (?:summary|gist) of|condense)"
                      r"(?:\s+(?:this|the following|that|it|text|article|file|document))*\s*:?\s*", re.I)
MAX_DEPTH = 3
_NUMBERS = {"one": 1, "a": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "a couple of": 2, "a few": 3}
_SENTENCES = re.compile(r"\b(?:in\s+)?(?:(\d+|one|a|single|two|three|four|five|a couple of|a few)(?:\s+or\s+(\d+|two|three|four|five))?)"
                        r"[\s-]+sentences?\b", re.I)
_WORDS = re.compile(r"\b(?:in\s+)?(?:under|at most|less than|fewer than|about|around|max(?:imum)?)?\s*(\d+)\s+words?\b", re.I)
_BRIEF = re.compile(r"\b(?:brief(?:ly)?|short|tl;?dr|one[- ]liner|gist|headline)\b", re.I)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word.lower()]


def requested_length(instruction: str) -> tuple[str, int] | None:
    """(how long, in words for the prompt; reply token budget) when the request asks for a length."""
    m = _SENTENCES.search(instruction)
    if m:
        low = _count(m[1])
        high = _count(m[2]) if m[2] else low
        phrase = "in one sentence" if high == 1 else (f"in {low} or {high} sentences" if high != low else f"in {low} sentences")
        return phrase, 48 * high + 32
    m = _WORDS.search(instruction)
    if m:
        return f"in at most {int(m[1])} words", int(m[1]) * 2 + 16
    if _BRIEF.search(instruction):
        return "in one or two sentences", 128
    return None


def _source(ctx: SkillContext) -> tuple[str, str]:
    """(text to summarize, what it is) from an attached/named file, the message, or the chat."""
    files = list(ctx.attachments)
    if not files and ctx.tools is not None:
        files = mentioned_paths(ctx.text)
    if files:
        path = ctx.tools.check_read(files[0]) if ctx.tools is not None else files[0]
        return read_text(path), path.name
    head, colon, rest = ctx.text.partition(":")
    if colon and len(head.split()) <= 20 and "\n" not in head.strip() and len(rest.split()) >= 8:
        return rest.strip(), "the text"  # "summarize this dialogue in one sentence: <text>"
    body = _COMMAND.sub("", ctx.text, count=1).strip()
    if len(body.split()) >= 8:
        return body, "the text"
    if ctx.history:
        transcript = "\n\n".join(f"{m.role}: {m.content}" for m in ctx.history)
        return transcript, "our conversation"
    return "", ""


def _budget(ctx: SkillContext, system: str, out_tokens: int) -> int:
    # Room for text in one request: the window minus the instructions, the reply and template overhead.
    return ctx.n_ctx() - ctx.count_tokens(system) - out_tokens - 64


def _summarize(generate: Any, system: str, text: str, out_tokens: int) -> str:
    return generate([ChatMessage("system", system), ChatMessage("user", text)], max_tokens=out_tokens).text().strip()


def respond(ctx: SkillContext) -> Iterator[str | Progress]:
    text, what = _source(ctx)
    if not text.strip():
        yield "What should I summarize? Paste the text after 'summarize:', or attach or name a .txt or .md file."
        return
    settings = ctx.settings
    # A tuned model learnt summaries of a requested length; the paragraph with key points and
    # the parts of a long text go to ``full_model`` when set.
    full = ctx.generate_on(settings.get("full_model"))
    map_prompt, reduce_prompt = ctx.read_prompt("summarize_map.txt"), ctx.read_prompt("summarize.txt")
    part_tokens = int(settings.get("part_summary_tokens", 200))
    budget = _budget(ctx, map_prompt, part_tokens)
    chunks = chunk_text(text, budget, ctx.count_tokens, agnostic_budget=int(settings.get("chunk_tokens", 3000)))
    depth = 0
    while len(chunks) > 1:
        depth += 1
        parts = []
        for i, chunk in enumerate(chunks, 1):
            if ctx.cancel.is_set():
                return
            yield Progress(f"summarizing part {i} of {len(chunks)} of {what}" + (f" (pass {depth})" if depth > 1 else ""),
                           (i - 1) / len(chunks))
            parts.append(_summarize(full, map_prompt, chunk, part_tokens))
        yield Progress(f"combining {len(parts)} partial summaries", 1.0)
        joined = "\n\n".join(parts)
        chunks = [joined] if depth >= MAX_DEPTH else chunk_text(joined, _budget(ctx, reduce_prompt, part_tokens), ctx.count_tokens)
    instruction = _instruction(ctx.text)
    short = length_messages(ctx.read_prompt("summarize_length.txt"), instruction, chunks[0])
    if short is not None:
        messages, tokens = short
        yield from ctx.generate(messages, max_tokens=tokens)
        return
    yield from full([ChatMessage("system", reduce_prompt), ChatMessage("user", chunks[0])])


def _instruction(text: str) -> str:
    """The request's own words, without the text to summarize (before the first colon or line)."""
    head = re.split(r":|\n", text, maxsplit=1)[0]
    return head if len(head.split()) <= 20 else ""


# Training recipe (`assistant tune-data summarize --source dialogsum_train.jsonl`) ---------------
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_ASKS = ("summarize this {kind} {length}", "give me a summary of this {kind}, {length}", "sum up this {kind} {length}",
         "tl;dr of this {kind}, {length}", "{length}, what is this {kind} about")


def _length_asked(summary: str, rng: Any) -> str:
    """A length request the reference ``summary`` satisfies, phrased as users phrase it."""
    sentences = max(1, len(_SENTENCE_END.findall(summary.strip())))
    words = len(summary.split())
    limit = 10 * math.ceil((words + 3) / 10)
    ways = [f"in under {limit} words", f"in at most {limit} words"]
    if sentences == 1:
        ways += ["in one sentence", "in a single sentence", "in one or two sentences", "briefly"]
    elif sentences == 2:
        ways += ["in two sentences", "in one or two sentences", "in 2 sentences", "in a couple of sentences"]
    else:
        ways += [f"in {sentences} sentences", f"in {sentences - 1} or {sentences} sentences"]
    return rng.choice(ways)


def length_messages(template: str, instruction: str, text: str) -> tuple[list[ChatMessage], int] | None:
    """(the chat, the reply's token budget) for a summary of the length ``instruction`` asks for,
    or None when it asks for none. :func:`respond` sends this chat, and the recipe trains on it."""
    length = requested_length(instruction)
    if length is None:
        return None
    system = string.Template(template).safe_substitute(length=length[0])
    return [ChatMessage("system", system), ChatMessage("user", text)], length[1]


def training_pairs(rows: list[dict[str, Any]], prompt: str, rng: Any, count: int) -> list[dict[str, Any]]:
    """Length-conditioned summary pairs from ``{"text", "summary"}`` rows (DialogSum train).

    Each pair is a request for a summary of a length its reference meets (one sentence, two,
    under N words...), phrased several ways, so the adapter follows the asked length rather
    than one data set's habit. The chat is the one :func:`respond` sends for such a request
    (``summarize_length.txt``); texts over 1,300 characters are left out, so that a pair fits
    the 512 training tokens.
    """
    found = resolve_file(Path(__file__).parent, "summarize_length.txt")
    if found is None:
        return []
    template = found.read_text(encoding="utf-8").strip()
    usable = [r for r in rows if str(r.get("summary", "")).strip() and 0 < len(str(r.get("text", ""))) <= 1300]
    pairs: list[dict[str, Any]] = []
    for row in rng.sample(usable, min(count, len(usable))):
        summary = str(row["summary"]).strip()
        kind = "dialogue" if "#Person1#" in row["text"] else "text"
        instruction = rng.choice(_ASKS).format(kind=kind, length=_length_asked(summary, rng))
        asked = length_messages(template, instruction, str(row["text"]).strip())
        if asked is None:
            continue
        system, user = asked[0]
        pairs.append({"system": system.content, "input": user.content, "output": summary})
    return pairs
