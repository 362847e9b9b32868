"""Times the rules engine over a long synthetic transcript and prints utterances per second.

    python benchmarks/bench_rules.py [--utterances 10000]
"""

from __future__ import annotations

import argparse
import random
import time

from callassist.engine import Engine
from callassist.scriptpack import load_pack
from callassist.settings import load_settings
from callassist.sources import transcript_inputs
from callassist.inputs import Utterance

AGENT_LINES = [
    "您好，欢迎致电平安客户服务热线，客服代表三零二很高兴为您服务，请问有什么可以帮助您！",
    "好的，我帮您查一下您的账户信息。",
    "您这个月的话费是八十六元，其中流量费三十元。",
    "请您稍等，我帮您查询一下。",
    "对不起，让您久等了。",
    "这个不归我管",
    "请问还有什么可以帮助您？",
    "感谢您的来电，再见！",
]
CALLER_LINES = [
    "你好，我想查一下我的话费。",
    "我上个月交了一百块钱，但是这个月又扣了我五十块。",
    "好的，谢谢。",
    "你们这是什么破网络，我要投诉！",
    "我姓王。",
    "没有了。",
]


def synthetic_transcript(count: int, seed: int = 7) -> list[Utterance]:
    rng = random.Random(seed)
    t, utterances = 0.5, []
    for index in range(count):
        speaker = "agent" if index % 2 == 0 else "caller"
        text = rng.choice(AGENT_LINES if speaker == "agent" else CALLER_LINES)
        duration = len(text) / 4.5
        utterances.append(Utterance(speaker, round(t, 2), round(t + duration, 2), text))
        t += duration + rng.uniform(0.3, 2.5)
    return utterances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--utterances", type=int, default=10_000)
    args = parser.parse_args()
    settings = load_settings(None)
    pack = load_pack([], {"company": "平安", "agent": "三零二"})
    utterances = synthetic_transcript(args.utterances)
    inputs = transcript_inputs(utterances)
    began = time.perf_counter()
    engine = Engine(pack, settings)
    engine.feed_all(inputs)
    engine.finish(utterances[-1].end + 1)
    elapsed = time.perf_counter() - began
    print(f"utterances: {len(utterances)}  events: {len(engine.events)}  time: {elapsed:.2f} s")
    print(f"rules throughput: {len(utterances) / elapsed:,.0f} utterances/s")


if __name__ == "__main__":
    main()
