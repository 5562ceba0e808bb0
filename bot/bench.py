"""``make bench``: measure the product on this machine, in one run, on the same trained model.

Starts the whole product (launcher, sandbox fakes) on free loopback ports, then measures:

- webhook acknowledgement: signed WhatsApp webhooks, time until the HTTP 200 (the model is not
  waited for), p50/p95/p99;
- (a) Rasa's stock REST channel and (b) the full WhatsApp path (signed webhook → reply recorded by
  the fake Twilio) at 1, 10 and 20 concurrent conversations: messages per second, p50/p99 latency;
- one 200-turn conversation over REST: p50 of turns 1–10 against turns 191–200;
- resident memory of the public server and the action server; the model's training time.

Prints a table and writes it to ``results/bench.md`` (and ``results/bench.json``). Request loops
are bounded in count and time and only target 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.paths import ROOT

REPORT_DIR = ROOT / "results"
# Questions whose answers are two bubbles each (the WhatsApp path waits for both).
QUESTIONS = [
    "how long does the report take", "報告要幾耐先有呀", "哪些计划可以使用这个服务",
    "what is the second medical opinion service", "點樣申請第二醫療意見", "可以安排去海外治疗吗",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (from /proc)."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        pids += [int(p) for p in children.stdout.split()]
    except OSError:
        pass
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


@dataclass
class Product:
    """The product started by the launcher for the bench."""

    base: str
    fake_twilio: str
    process: subprocess.Popen
    log: Path
    pids: dict[str, int] = field(default_factory=dict)


def start_product(var_dir: Path) -> Product:
    port, action, core = free_port(), free_port(), free_port()
    twilio, wechat = free_port(), free_port()
    env = {
        **os.environ, "SMO_PORT": str(port), "SMO_ACTION_PORT": str(action),
        "SMO_VAR_DIR": str(var_dir), "SMO_FAKE_TWILIO_PORT": str(twilio),
        "SMO_CORE_PORT": str(core),
        "SMO_FAKE_WECHAT_PORT": str(wechat), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SMO_RATE_LIMIT_PER_MINUTE": "100000", "SMO_RATE_LIMIT_BURST": "100000",
        "SMO_LOG_LEVEL": "WARNING",
    }
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "WECHAT_APP_ID", "SMO_SANDBOX"):
        env.pop(name, None)
    log = var_dir / "bench-product.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "bot.launcher"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    import urllib.request

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"product exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(1)
    product = Product(base, f"http://127.0.0.1:{twilio}", process, log)
    pids = json.loads((var_dir / "processes.json").read_text(encoding="utf-8"))
    product.pids = {name: pids[name] for name in ("public server", "core", "action server")}
    return product


def stop_product(product: Product) -> None:
    product.process.send_signal(signal.SIGINT)
    try:
        product.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        product.process.kill()


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


async def recorded_count(session: aiohttp.ClientSession, fake: str, number: str) -> int:
    async with session.get(f"{fake}/_sandbox/messages",
                           params={"to": f"whatsapp:{number}"}) as response:
        data = await response.json()
    return len(data if isinstance(data, list) else data.get("messages", []))


async def whatsapp_turn(session: aiohttp.ClientSession, product: Product, number: str,
                        text: str, expect: int) -> float:
    """Signed webhook → until the fake Twilio has recorded the reply."""
    started = time.perf_counter()
    await whatsapp_ack(session, product.base, number, text)
    deadline = started + 60
    while time.perf_counter() < deadline:
        if await recorded_count(session, product.fake_twilio, number) >= expect:
            return time.perf_counter() - started
        await asyncio.sleep(0.005)
    raise RuntimeError("reply never reached the fake Twilio")


async def load(kind: str, product: Product, concurrency: int, turns: int) -> dict:
    """``concurrency`` conversations of ``turns`` messages, each conversation in order."""
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        async def conversation(index: int) -> None:
            tag = f"{kind}-{concurrency}-{index}-{time.time_ns()}"
            number = f"+8526{abs(hash(tag)) % 10**7:07d}"
            expect = 0
            for turn in range(turns):
                text = QUESTIONS[(index + turn) % len(QUESTIONS)]
                if kind == "rest":
                    latencies.append(await rest_turn(session, product.base, tag, text))
                else:
                    expect += 2  # every question has a two-bubble answer
                    latencies.append(await whatsapp_turn(session, product, number, text, expect))

        started = time.perf_counter()
        await asyncio.gather(*(conversation(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"kind": kind, "concurrency": concurrency, "messages": len(latencies),
            "throughput": len(latencies) / elapsed, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}


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


async def long_conversation(product: Product, turns: int) -> dict:
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        sender = f"long-{time.time_ns()}"
        for turn in range(turns):
            latencies.append(await rest_turn(session, product.base, sender,
                                             QUESTIONS[turn % len(QUESTIONS)]))
    early, late = latencies[:10], latencies[-10:]
    return {"turns": turns, "first10_p50_ms": statistics.median(early) * 1000,
            "last10_p50_ms": statistics.median(late) * 1000,
            "ratio": statistics.median(late) / statistics.median(early)}


def drain(product: Product, replies: int, timeout: float = 300) -> None:
    """Wait until the fake Twilio has recorded ``replies`` more messages (bounded in time)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{product.fake_twilio}/_sandbox/messages") as response:
            data = json.loads(response.read())
        if len(data if isinstance(data, list) else data.get("messages", [])) >= replies:
            return
        time.sleep(0.5)


def training_seconds() -> float | None:
    """The recorded training time of the current model (``bot.model`` writes it)."""
    from bot.model import _meta, model_name

    meta = _meta(ROOT / "models" / f"{model_name()}.tar.gz")
    if meta.exists():
        return json.loads(meta.read_text()).get("training_seconds")
    return None


def table(results: dict) -> str:
    lines = ["# Benchmark", "", f"Machine: {os.cpu_count()} cores; model {results['model']}", ""]
    ack, steady = results["ack"], results["ack_steady"]
    lines += ["## Webhook acknowledgement (signed WhatsApp webhook → HTTP 200)", "",
              "| load | messages | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|",
              f"| steady {steady['rate']:.0f} msg/s, answered meanwhile | {steady['count']} | "
              f"{steady['p50_ms']:.1f} | {steady['p95_ms']:.1f} | {steady['p99_ms']:.1f} |",
              f"| burst, {ack['concurrency']} at a time | {ack['count']} | {ack['p50_ms']:.1f} | "
              f"{ack['p95_ms']:.1f} | {ack['p99_ms']:.1f} |", ""]
    lines += ["## Throughput and end-to-end latency", "",
              "| path | concurrent | messages | msg/s | p50 ms | p99 ms |",
              "|---|---|---|---|---|---|"]
    for row in results["load"]:
        path = "(a) stock REST" if row["kind"] == "rest" else "(b) WhatsApp full path"
        lines.append(f"| {path} | {row['concurrency']} | {row['messages']} | "
                     f"{row['throughput']:.1f} | {row['p50_ms']:.0f} | {row['p99_ms']:.0f} |")
    long = results["long"]
    lines += ["", "## Long conversation (REST)", "",
              f"{long['turns']} turns: p50 of turns 1-10 {long['first10_p50_ms']:.0f} ms, "
              f"turns {long['turns'] - 9}-{long['turns']} {long['last10_p50_ms']:.0f} ms "
              f"(ratio {long['ratio']:.2f})", ""]
    lines += ["## Memory and training", ""]
    for name, value in results["rss_mb"].items():
        lines.append(f"- resident memory, {name}: {value:.0f} MB")
    trained = results.get("training_seconds")
    lines.append(f"- training time of this model: {trained:.0f} s" if trained else
                 "- training time: not recorded (model came from the cache)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12, help="messages per conversation")
    parser.add_argument("--long-turns", type=int, default=200)
    parser.add_argument("--ack-count", type=int, default=300)
    args = parser.parse_args(argv)

    from bot.model import ensure_model, model_name

    ensure_model()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="smo-bench-") as tmp:
        product = start_product(Path(tmp))
        try:
            results: dict = {"model": model_name()}
            asyncio.run(load("rest", product, 1, 3))  # warm-up, not reported
            results["ack_steady"] = asyncio.run(ack_latency_steady(product, args.ack_count, 5.0))
            drain(product, args.ack_count * 2)
            results["ack"] = asyncio.run(ack_latency(product, args.ack_count, 10))
            drain(product, args.ack_count * 4)  # let the acknowledged messages be answered first
            results["load"] = []
            for concurrency in (1, 10, 20):
                for kind in ("rest", "whatsapp"):
                    results["load"].append(asyncio.run(load(kind, product, concurrency,
                                                            args.turns)))
            results["long"] = asyncio.run(long_conversation(product, args.long_turns))
            results["rss_mb"] = {name: rss_mb(pid) for name, pid in product.pids.items() if pid}
            results["training_seconds"] = training_seconds()
        finally:
            stop_product(product)
    REPORT_DIR.mkdir(exist_ok=True)
    text = table(results)
    (REPORT_DIR / "bench.md").write_text(text, encoding="utf-8")
    (REPORT_DIR / "bench.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
