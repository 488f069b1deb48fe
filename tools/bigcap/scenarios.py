#!/usr/bin/env python3
"""Writes the recorder scenarios of the big benchmark capture, tools/record/scenarios/big-*.json.

Each scenario is a few hundred WebSocket connections that the recorder's peers play at the same
time (see tools/record/README.md for the format). A connection is a small "application": a chat
room, a market data feed, a game or a notification channel. It opens with a subscription and a
welcome, then exchanges many small JSON texts both ways with pauses between them, a few binary
messages of 1 to 64 KiB, one to three pings, and ends with a closing handshake started by the
client (most often) or the server.

Everything is drawn from random generators seeded with the scenario's name and the connection's
number, so running this script again writes the same files byte for byte. The peers give up
after 30 seconds, so the pauses of one connection add up to at most SLEEP_BUDGET_MS.

Usage:
    tools/bigcap/scenarios.py [--check]

With --check, the script writes nothing and exits non-zero if a file differs from what it would
write.
"""

import argparse
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "..", "record", "scenarios")

# The scenarios: name, network, permessage-deflate, server and client implementation, capture
# tool. Each implementation is the client in two scenarios and the server in the other two, and
# each capture tool (file format) is used for two.
PLANS = [
    ("big-v4-plain", "ipv4", False, "node", "python", "dumpcap"),
    ("big-v4-deflate", "ipv4", True, "python", "node", "dumpcap"),
    ("big-v6-plain", "ipv6", False, "python", "node", "tcpdump"),
    ("big-v6-deflate", "ipv6", True, "node", "python", "tcpdump"),
]

# Connections per scenario.
CONNECTIONS = 200

# The pauses of one connection add up to at most this long; the peers' watchdog is 30 s for the
# whole scenario, and the messages themselves take time too.
SLEEP_BUDGET_MS = 14000

# How many data messages (texts and binaries) a connection exchanges after its opening pair.
MESSAGES_MIN = 30
MESSAGES_MAX = 110

# Binary messages: at most this many per connection, each 2**U bytes with U uniform in
# [BINARY_LOG2_MIN, BINARY_LOG2_MAX] (1 KiB to 64 KiB).
BINARY_MAX = 3
BINARY_LOG2_MIN = 10.0
BINARY_LOG2_MAX = 16.0

KINDS = ["chat", "feed", "game", "notify"]

WORDS = (
    "hello there anyone around tonight ok sure thanks see you later lol yes no maybe "
    "meeting moved to three pm did you get the file looks good ship it the build is green "
    "again coffee lunch weekend plans great idea let me check what about tomorrow morning "
    "sounds fine works for me on my way almost done nice one agreed"
).split()

SYMBOLS = ["BTC-USD", "ETH-USD", "ETH-EUR", "SOL-USD", "ADA-EUR", "XRP-USD", "DOT-USD", "LTC-EUR"]

ROOMS = ["lobby", "general", "random", "dev", "support", "ops", "music", "games"]

TOPICS = ["build", "deploy", "alert", "invoice", "comment", "mention", "reminder", "backup"]

BASE_TS = 1_732_200_000_000


def compact(value):
    """JSON without spaces, as an application would send it."""
    return json.dumps(value, separators=(",", ":"))


class Connection:
    """Builds the steps of one connection."""

    def __init__(self, rng, scenario, number):
        self.rng = rng
        self.scenario = scenario
        self.number = number
        self.kind = KINDS[number % len(KINDS)]
        self.steps = []
        self.slept = 0
        self.seq = {"client": 0, "server": 0}
        self.ts = BASE_TS + rng.randrange(10_000_000)
        self.user = f"user-{rng.randrange(100, 100000)}"

    def path(self):
        if self.kind == "chat":
            return f"/chat/{self.rng.choice(ROOMS)}?client={self.number}"
        if self.kind == "feed":
            return f"/stream/v2?id={self.number}"
        if self.kind == "game":
            return f"/game/match-{self.rng.randrange(1000, 9999)}/{self.number}"
        return f"/notify/{self.user}/{self.number}"

    def sleep(self, side, mean_ms):
        """A pause of the side that sends next, drawn from an exponential distribution, within the
        connection's budget."""
        ms = min(int(self.rng.expovariate(1 / mean_ms)), 4 * mean_ms)
        if ms < 5 or self.slept + ms > SLEEP_BUDGET_MS:
            return
        self.slept += ms
        self.steps.append({"from": side, "send": "sleep", "ms": ms})

    def text(self, side, value):
        self.steps.append({"from": side, "send": "text", "data": compact(value)})

    def next_seq(self, side):
        self.seq[side] += 1
        self.ts += self.rng.randrange(5, 900)
        return self.seq[side]

    def words(self, low, high):
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(low, high)))

    def opening(self):
        """The subscription the client sends first and the server's welcome."""
        rng = self.rng
        if self.kind == "feed":
            channels = rng.sample(SYMBOLS, rng.randint(1, 4))
            hello = {"op": "subscribe", "channels": [f"ticker:{s}" for s in channels], "id": 1}
            welcome = {"event": "subscribed", "id": 1, "channels": hello["channels"]}
        elif self.kind == "chat":
            hello = {"type": "join", "user": self.user, "token": "%032x" % rng.getrandbits(128)}
            welcome = {"type": "welcome", "user": self.user, "online": rng.randrange(2, 400)}
        elif self.kind == "game":
            hello = {"t": "hello", "player": self.user, "version": "1.4.2"}
            welcome = {"t": "start", "tick": 0, "seed": rng.getrandbits(32), "players": rng.randint(2, 8)}
        else:
            hello = {"action": "listen", "user": self.user, "since": self.ts - 3_600_000}
            welcome = {"action": "ok", "pending": rng.randrange(0, 20)}
        self.text("client", hello)
        self.text("server", welcome)

    def client_message(self):
        rng = self.rng
        seq = self.next_seq("client")
        if self.kind == "feed":
            value = {"op": "ack", "id": seq, "ts": self.ts}
        elif self.kind == "chat":
            value = {"type": "say", "id": seq, "text": self.words(1, 18), "ts": self.ts}
        elif self.kind == "game":
            value = {
                "t": "input",
                "seq": seq,
                "keys": rng.sample(["up", "down", "left", "right", "fire", "jump"], rng.randint(0, 2)),
                "aim": [round(rng.uniform(-1, 1), 3), round(rng.uniform(-1, 1), 3)],
            }
        else:
            value = {"action": "read", "id": rng.randrange(1, 10**6)}
        self.text("client", value)

    def server_message(self):
        rng = self.rng
        seq = self.next_seq("server")
        if self.kind == "feed":
            updates = []
            for _ in range(rng.randint(1, 5)):
                price = rng.uniform(0.2, 70000)
                spread = price * rng.uniform(0.0001, 0.001)
                updates.append(
                    {
                        "s": rng.choice(SYMBOLS),
                        "b": f"{price:.2f}",
                        "a": f"{price + spread:.2f}",
                        "v": f"{rng.uniform(0, 5000):.4f}",
                    }
                )
            value = {"ch": "ticker", "seq": seq, "ts": self.ts, "data": updates}
        elif self.kind == "chat":
            value = {
                "type": "message",
                "id": 50_000 + seq,
                "from": f"user-{rng.randrange(100, 100000)}",
                "text": self.words(1, 30),
                "ts": self.ts,
            }
        elif self.kind == "game":
            players = [
                {
                    "id": p,
                    "x": round(rng.uniform(0, 1024), 1),
                    "y": round(rng.uniform(0, 768), 1),
                    "hp": rng.randrange(0, 101),
                }
                for p in range(rng.randint(2, 8))
            ]
            value = {"t": "state", "tick": seq * 3, "players": players}
        else:
            value = {
                "action": "notify",
                "id": rng.randrange(1, 10**6),
                "topic": rng.choice(TOPICS),
                "title": self.words(2, 8),
                "ts": self.ts,
            }
        self.text("server", value)

    def binary(self, side, index):
        """A binary message of 1 to 64 KiB: half are pseudo-random (like compressed media, they
        do not deflate), half are the recorder's counting pattern (they deflate well)."""
        size = int(2 ** self.rng.uniform(BINARY_LOG2_MIN, BINARY_LOG2_MAX))
        step = {"from": side, "send": "binary", "size": size}
        if self.rng.random() < 0.5:
            step["seed"] = self.number * 10 + index
        self.steps.append(step)

    def ping(self, side):
        self.steps.append({"from": side, "send": "ping", "data": f"hb-{self.rng.randrange(10**6)}"})

    def close(self):
        roll = self.rng.random()
        if roll < 0.75:
            self.steps.append({"from": "client", "send": "close", "code": 1000, "reason": ""})
        elif roll < 0.85:
            self.steps.append({"from": "client", "send": "close", "code": 1001, "reason": "page unloaded"})
        elif roll < 0.95:
            self.steps.append({"from": "server", "send": "close", "code": 1001, "reason": "server going away"})
        else:
            self.steps.append({"from": "server", "send": "close", "code": 1000, "reason": "session ended"})

    def build(self):
        rng = self.rng
        path = self.path()
        # Connections start together; a short pause spreads their first messages.
        self.sleep("client", 400)
        self.opening()
        # The share of messages the server sends and the mean pause before a message, by kind.
        server_share, mean_gap = {
            "chat": (0.7, 120),
            "feed": (0.85, 60),
            "game": (0.55, 45),
            "notify": (0.6, 250),
        }[self.kind]
        messages = rng.randint(MESSAGES_MIN, MESSAGES_MAX)
        binaries = sorted(rng.sample(range(messages), rng.randint(0, BINARY_MAX)))
        pings = sorted(rng.sample(range(messages), rng.randint(1, 3)))
        for index in range(messages):
            side = "server" if rng.random() < server_share else "client"
            self.sleep(side, mean_gap)
            if index in binaries:
                self.binary(side, binaries.index(index))
            else:
                (self.server_message if side == "server" else self.client_message)()
            if index in pings:
                self.ping("server" if rng.random() < 0.7 else "client")
        self.sleep("client", 200)
        self.close()
        return {"path": path, "steps": self.steps}


def scenario(plan):
    name, network, deflate, server, client, tool = plan
    connections = []
    for number in range(CONNECTIONS):
        rng = random.Random(f"{name}/{number}")
        connections.append(Connection(rng, name, number).build())
    family = "IPv6" if network == "ipv6" else "IPv4"
    return {
        "description": (
            f"Big benchmark capture, part {name}: {CONNECTIONS} WebSocket connections at the same "
            f"time over {family}{', with permessage-deflate' if deflate else ''}, each a chat, "
            "market data, game or notification session with many small JSON texts both ways, up "
            "to three binary messages of 1 to 64 KiB, pings and a closing handshake. Written by "
            "tools/bigcap/scenarios.py; recorded and multiplied by tools/bigcap/make-big, never "
            "committed as a capture."
        ),
        "server": server,
        "client": client,
        "network": network,
        "port": 8080,
        "deflate": deflate,
        "capture": {"tool": tool, "interface": "eth0"},
        "connections": connections,
    }


def render(value):
    """The scenario as JSON: the top level indented, one connection step per line."""
    lines = ["{"]
    items = list(value.items())
    for position, (key, item) in enumerate(items):
        comma = "," if position < len(items) - 1 else ""
        if key != "connections":
            lines.append(f"  {json.dumps(key)}: {json.dumps(item, ensure_ascii=False)}{comma}")
            continue
        lines.append('  "connections": [')
        for number, connection in enumerate(item):
            lines.append("    {")
            lines.append(f'      "path": {json.dumps(connection["path"])},')
            lines.append('      "steps": [')
            steps = connection["steps"]
            for index, step in enumerate(steps):
                tail = "," if index < len(steps) - 1 else ""
                lines.append(f"        {json.dumps(step, ensure_ascii=False)}{tail}")
            lines.append("      ]")
            lines.append("    }" + ("," if number < len(item) - 1 else ""))
        lines.append(f"  ]{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the files")
    args = parser.parse_args()
    stale = []
    for plan in PLANS:
        path = os.path.normpath(os.path.join(SCENARIOS, plan[0] + ".json"))
        text = render(scenario(plan))
        json.loads(text)
        if args.check:
            try:
                with open(path, encoding="utf-8") as file:
                    same = file.read() == text
            except FileNotFoundError:
                same = False
            if not same:
                stale.append(path)
            continue
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        print(f"wrote {path} ({len(text)} bytes)")
    if stale:
        print("differs from scenarios.py: " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
