"""Sends every request twice: the script copies the flow and replays the copy, while the
original goes on as usual. The replayed copy runs through the scripts too, so it is told
apart (``is_replay``) to keep it from being copied again.

Usage: mitmdump -s examples/dup_and_replay.py
"""


def request(context, flow):
    if flow.request.is_replay:
        return
    f = context.duplicate_flow(flow)
    context.replay_request(f)
