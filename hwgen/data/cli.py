"""`hwgen data`: record driving data into a DonkeyCar tub, or summarize tubs.

  hwgen data record --sim carracing --episodes N --out DIR [--seed S] [--max-steps M] [--steer-noise A]
  hwgen data info TUB [TUB...] [--json]
"""
from __future__ import annotations

import argparse
import json


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION")
    actions.required = True

    rec = actions.add_parser("record", help="drive a simulator with the scripted expert and write a tub")
    rec.add_argument("--sim", choices=["carracing"], required=True,
                     help="simulator: gymnasium CarRacing-v3 (Box2D, headless)")
    rec.add_argument("--episodes", type=int, required=True, help="episodes to drive (one session each)")
    rec.add_argument("--out", required=True, help="tub folder to create (must not exist or be empty)")
    rec.add_argument("--seed", type=int, default=0, help="episode k uses track seed S+k (default 0)")
    rec.add_argument("--max-steps", type=int, default=1000,
                     help="simulator steps per episode at 50 Hz (default 1000, CarRacing's limit)")
    rec.add_argument("--record-every", type=int, default=1,
                     help="record every K-th step after the 1 s intro (default 1: 50 Hz)")
    rec.add_argument("--steer-noise", type=float, default=0.0,
                     help="std of a smooth random offset added to the executed steering (angle units, "
                          "default 0); the recorded labels stay the expert's, so the tub shows recoveries")
    rec.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality of the frames (default 95)")

    info = actions.add_parser("info", help="frames, sessions, skipped records and class balance of tubs")
    info.add_argument("tubs", nargs="+", metavar="TUB", help="DonkeyCar tub v2 folders")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")


def main(args: argparse.Namespace) -> int:
    if args.data_action == "record":
        from hwgen.data.carracing import record

        summary = record(args.out, args.episodes, seed=args.seed, max_steps=args.max_steps,
                         record_every=args.record_every, steer_noise=args.steer_noise,
                         jpeg_quality=args.jpeg_quality)
        print(f"wrote {summary['frames']} frames to {args.out} (summary: {args.out}/record.json); "
              f"mean reward {summary['mean_reward']:.1f}, mean track completion "
              f"{100 * summary['mean_completion']:.1f}%")
        return 0

    from hwgen.data.tub import read_tubs, summarize

    summary = summarize(read_tubs(args.tubs, progress=True))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_info_text(summary))
    return 0


def _info_text(summary: dict) -> str:
    lines = [f"tubs: {', '.join(summary['tubs'])}",
             f"frames: {summary['frames']} ({'x'.join(map(str, summary['image_hwc']))} images)",
             f"sessions: {len(summary['sessions'])}"]
    lines += [f"  {name}: {count} frames" for name, count in summary["sessions"].items()]
    skipped = summary["skipped"]
    lines.append(f"skipped records: {sum(skipped.values())}")
    lines += [f"  {reason}: {count}" for reason, count in skipped.items()]
    classes = summary["classes"]
    lines.append(f"steering classes (straight when |angle| <= {classes['straight_max_abs_angle']}):")
    lines += [f"  {name}: {classes[name]['frames']} ({100 * classes[name]['fraction']:.1f}%)"
              for name in ("left", "straight", "right")]
    for label in ("angle", "throttle"):
        s = summary[label]
        lines.append(f"{label}: mean {s['mean']:+.3f} std {s['std']:.3f} range [{s['min']:+.3f}, {s['max']:+.3f}]")
    lines.append("modes: " + ", ".join(f"{m} {c}" for m, c in summary["modes"].items()))
    return "\n".join(lines)
