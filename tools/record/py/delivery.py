#!/usr/bin/env python3
"""The client of the `poll-vs-ws` capture: receives the same stream of messages four ways, one
technique after the other, from the server of tools/record/node/delivery.js.

  1. short polling: `GET /poll?after=N` every `poll_interval_ms` on one keep-alive connection
     (Python `http.client`), N being the highest seq received so far, until the last message;
  2. long polling: `GET /long-poll?after=N` again as soon as each answer has arrived, on one
     keep-alive connection;
  3. Server-Sent Events: `GET /events` (`Accept: text/event-stream`), read line by line until the
     server ends the body;
  4. WebSocket: Python `websockets` (sync client, no compression) to `ws://HOST:PORT/ws`, reading
     messages until the server closes.

Each technique uses one TCP connection, which the client closes before it waits
`pause_ms` and starts the next. The scenario's `delivery` object gives the number of messages
and the intervals.

Usage:
    delivery.py --role client --scenario FILE --host ADDR --port N --log FILE

Every message is a JSON object `{"seq": k, "sent": S, "text": ...}`. The client writes one JSON
line per request it sends, per response it reads and per message it receives, with the wall
clock (milliseconds since the Unix epoch, microseconds as three decimals) at which its library
handed the message over (format in ../README.md, "Delivery truth log").
"""

import argparse
import http.client
import json
import sys
import time

from websockets.sync.client import connect

USER_AGENT = "osiscope-record (Python http.client)"
TIMEOUT_SECONDS = 10


def wall_ms():
    """The wall clock in milliseconds since the Unix epoch, to the microsecond."""
    return (time.time_ns() // 1000) / 1000


class TruthLog:
    def __init__(self, path):
        self.file = open(path, "w", encoding="utf-8")

    def write(self, event, technique, **fields):
        line = {"side": "client", "event": event, "technique": technique, **fields}
        line["t"] = str(time.monotonic_ns())
        self.file.write(json.dumps(line) + "\n")
        self.file.flush()

    def received(self, technique, items, at):
        for item in items:
            self.write("recv", technique, seq=item["seq"], sent=item["sent"], recv=at)


class Client:
    def __init__(self, args, plan, truth):
        self.host = args.host
        self.port = args.port
        self.plan = plan
        self.truth = truth

    def polls(self, technique, path, interval):
        """Polls `path?after=N` until the last message, every `interval` seconds from the first
        request (or, with None, as soon as each answer has arrived)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_SECONDS)
        connection.connect()
        after = 0
        # The schedule starts with the first request, which also starts the server's producer,
        # so every recording has the same phase between polls and messages.
        start = time.monotonic()
        count = 0
        while after < self.plan["messages"]:
            if interval is not None:
                delay = start + count * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            count += 1
            target = f"{path}?after={after}"
            self.truth.write("request", technique, path=target)
            connection.request("GET", target, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
            response = connection.getresponse()
            body = response.read()
            at = wall_ms()
            items = json.loads(body)
            self.truth.write("response", technique, path=target, status=response.status,
                             seqs=[item["seq"] for item in items])
            self.truth.received(technique, items, at)
            if items:
                after = max(after, max(item["seq"] for item in items))
        connection.close()

    def events(self):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_SECONDS)
        self.truth.write("request", "sse", path="/events")
        connection.request("GET", "/events", headers={"Accept": "text/event-stream", "User-Agent": USER_AGENT})
        response = connection.getresponse()
        data = []
        seqs = []
        while True:
            line = response.readline()
            if not line:
                break
            text = line.decode("utf-8").rstrip("\n").rstrip("\r")
            if text == "":
                if data:
                    at = wall_ms()
                    item = json.loads("\n".join(data))
                    seqs.append(item["seq"])
                    self.truth.received("sse", [item], at)
                data = []
            elif text.startswith("data:"):
                value = text[len("data:"):]
                data.append(value[1:] if value.startswith(" ") else value)
        self.truth.write("response", "sse", path="/events", status=response.status, seqs=seqs)
        connection.close()

    def websocket(self):
        uri = f"ws://{self.host}:{self.port}/ws"
        with connect(uri, compression=None, open_timeout=TIMEOUT_SECONDS) as ws:
            for message in ws:
                at = wall_ms()
                self.truth.received("websocket", [json.loads(message)], at)

    def run(self):
        pause = self.plan["pause_ms"] / 1000
        self.polls("poll", "/poll", self.plan["poll_interval_ms"] / 1000)
        time.sleep(pause)
        self.polls("long-poll", "/long-poll", None)
        time.sleep(pause)
        self.events()
        time.sleep(pause)
        self.websocket()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["client"], required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--resume", help="accepted for the recorder's sake; the plan has no pause")
    args = parser.parse_args()
    with open(args.scenario, encoding="utf-8") as file:
        plan = json.load(file)["delivery"]
    truth = TruthLog(args.log)
    Client(args, plan, truth).run()
    truth.file.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        print(f"delivery.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
