"""``make bench``: the load generator. Conversations over stock Rasa's REST channel or the
product's signed WhatsApp webhooks; a WhatsApp turn ends when the fake Twilio has recorded the
reply (its long-poll, so the generator does not spin on the CPU it measures)."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.parse
import urllib.request

import aiohttp

from bot.bench_measure import percentile
from bot.bench_processes import Product, StockRasa

# Questions whose answers are two bubbles each (the WhatsApp path waits for both).
QUESTIONS = [
    "how long does the report take", "報告要幾耐先有呀", "哪些计划可以使用这个服务",
    "what is the second medical opinion service", "點樣申請第二醫療意見", "可以安排去海外治疗吗",
]


async def rest_turn(session: aiohttp.ClientSession, base: str, sender: str, text: str) -> float:
    started = time.perf_counter()
    async with session.post(f"{base}/webhooks/rest/webhook",
                            json={"sender": sender, "message": text}) as response:
        await response.read()
        response.raise_for_status()
    return time.perf_counter() - started


def signed_form(base: str, number: str, text: str) -> tuple[dict, dict]:
    from channels.sandbox import defaults, signing

    url = f"{base}/webhooks/whatsapp/webhook"
    form = signing.twilio_inbound_form(f"whatsapp:{number}", defaults.TWILIO_WHATSAPP_FROM, text)
    headers = {"X-Twilio-Signature": signing.twilio_signature(defaults.TWILIO_AUTH_TOKEN, url,
                                                              form),
               "Content-Type": "application/x-www-form-urlencoded"}
    return form, headers


async def whatsapp_ack(session: aiohttp.ClientSession, base: str, number: str, text: str) -> float:
    form, headers = signed_form(base, number, text)
    started = time.perf_counter()
    async with session.post(f"{base}/webhooks/whatsapp/webhook",
                            data=urllib.parse.urlencode(form), headers=headers) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"webhook answered {response.status}")
    return time.perf_counter() - started


async def whatsapp_turn(session: aiohttp.ClientSession, product: Product, number: str,
                        text: str, expect: int) -> float:
    """Signed webhook → until the fake Twilio has recorded the reply (long-poll, no spinning)."""
    started = time.perf_counter()
    await whatsapp_ack(session, product.base, number, text)
    async with session.get(f"{product.fake_twilio}/_sandbox/wait",
                           params={"to": f"whatsapp:{number}", "count": str(expect),
                                   "timeout": "60"}) as response:
        data = await response.json()
    if not data.get("reached"):
        raise RuntimeError("reply never reached the fake Twilio")
    return time.perf_counter() - started


async def load(kind: str, product: Product, concurrency: int, turns: int,
               stock: StockRasa | None = None) -> dict:
    """``concurrency`` conversations of ``turns`` messages, each conversation in order."""
    latencies: list[float] = []
    first_turns: list[float] = []  # each conversation's first message (they all start at once)
    async with aiohttp.ClientSession() as session:
        async def conversation(index: int) -> None:
            tag = f"{kind}-{concurrency}-{index}-{time.time_ns()}"
            number = f"+8526{abs(hash(tag)) % 10**7:07d}"
            expect = 0
            for turn in range(turns):
                text = QUESTIONS[(index + turn) % len(QUESTIONS)]
                if kind == "stock":
                    assert stock is not None
                    latency = await rest_turn(session, stock.base, tag, text)
                elif kind == "rest":
                    latency = await rest_turn(session, product.base, tag, text)
                else:
                    expect += 2  # every question has a two-bubble answer
                    latency = await whatsapp_turn(session, product, number, text, expect)
                latencies.append(latency)
                if turn == 0:
                    first_turns.append(latency)

        started = time.perf_counter()
        await asyncio.gather(*(conversation(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"kind": kind, "concurrency": concurrency, "messages": len(latencies),
            "throughput": len(latencies) / elapsed, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "slowest_first_message_ms": max(first_turns) * 1000}


async def ack_latency(product: Product, count: int, concurrency: int) -> dict:
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with semaphore:
                latencies.append(await whatsapp_ack(session, product.base, f"+8525{i:07d}",
                                                    QUESTIONS[i % len(QUESTIONS)]))

        await asyncio.gather(*(one(i) for i in range(count)))
    return {"count": count, "concurrency": concurrency,
            "p50_ms": percentile(latencies, 50) * 1000, "p95_ms": percentile(latencies, 95) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}


async def ack_latency_steady(product: Product, count: int, rate: float) -> dict:
    """Acknowledgements at a steady arrival rate (below capacity) while the model answers them."""
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        async def one(i: int) -> None:
            latencies.append(await whatsapp_ack(session, product.base, f"+8524{i:07d}",
                                                QUESTIONS[i % len(QUESTIONS)]))

        tasks = []
        for i in range(count):
            tasks.append(asyncio.ensure_future(one(i)))
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)
    return {"count": count, "rate": rate, "p50_ms": percentile(latencies, 50) * 1000,
            "p95_ms": percentile(latencies, 95) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


async def long_conversation(kind: str, product: Product, turns: int,
                            stock: StockRasa | None = None, runs: int = 3) -> dict:
    """``runs`` conversations of ``turns`` messages, one after another: does a late turn cost
    more than an early one? The p50 of turns 1-10 and of the last ten turns pool the runs
    (ten samples of ~20 ms alone moved the ratio by ±0.15 between identical runs here)."""
    early: list[float] = []
    late: list[float] = []
    async with aiohttp.ClientSession() as session:
        for run in range(runs):
            latencies: list[float] = []
            tag = f"long-{kind}-{run}-{time.time_ns()}"
            number = f"+8523{abs(hash(tag)) % 10**7:07d}"
            for turn in range(turns):
                text = QUESTIONS[turn % len(QUESTIONS)]
                if kind == "stock":
                    assert stock is not None
                    latencies.append(await rest_turn(session, stock.base, tag, text))
                else:
                    latencies.append(await whatsapp_turn(session, product, number, text,
                                                         2 * (turn + 1)))
            early += latencies[:10]
            late += latencies[-10:]
    return {"kind": kind, "turns": turns, "runs": runs,
            "first10_p50_ms": statistics.median(early) * 1000,
            "last10_p50_ms": statistics.median(late) * 1000,
            "ratio": statistics.median(late) / statistics.median(early)}


def recorded(product: Product) -> int:
    """How many messages the fake Twilio has recorded so far."""
    with urllib.request.urlopen(f"{product.fake_twilio}/_sandbox/messages") as response:
        data = json.loads(response.read())
    return len(data if isinstance(data, list) else data.get("messages", []))


def drain(product: Product, total: int, timeout: float = 300) -> None:
    """Wait until the fake Twilio has recorded ``total`` messages in all (bounded in time;
    looks every 0.25 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and recorded(product) < total:
        time.sleep(0.25)
