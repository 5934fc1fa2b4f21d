#!/usr/bin/python3
"""report.py RAW.csv [--plot OUT.png] — bench_box's raw samples to markdown.

Reads the CSV bench_box writes (scenario,variant,run,value,unit) and prints
one markdown table per scenario: samples, median and p99 of every variant,
and for each peer the ratio of boxlet's median to the peer's (below 1 =
boxlet takes less time; for throughput above 1 = boxlet moves more bytes).
p99 is the nearest-rank percentile: with 30 samples it is the maximum.
With --plot, draws the latency distributions (and throughput) into a PNG.
Statistics only; nothing here measures anything."""
import csv
import math
import statistics
import sys
from collections import OrderedDict, defaultdict

TITLES = OrderedDict([
    ("exec", "Exec round trip of `true` in a running box (ms, lower is better)"),
    ("cold", "Cold start: create + start + first exec of `true` (ms, lower is better)"),
    ("tput", "stdout throughput (MB/s, higher is better)"),
    ("copy-in", "Copy a file into a box's /tmp (MB/s, higher is better)"),
    ("copy-out", "Copy a file out of a box's /tmp (MB/s, higher is better)"),
    ("tunnel", "A box service's bytes to a host reader (MB/s, higher is better)"),
])
# boxlet variants whose ratios to each peer are printed, per scenario
HEADLINE = {
    "exec": ["boxlet-sdk", "boxlet-rest-ws", "boxlet-cli"],
    "cold": ["boxlet-sdk-hostimage", "boxlet-sdk", "boxlet-sdk-incl-remove", "boxlet-cli"],
    "tput": ["boxlet-sdk", "boxlet-rest-ws", "boxlet-sdk-tty"],
    "copy-in": ["boxlet-sdk", "boxlet-cli"],
    "copy-out": ["boxlet-sdk", "boxlet-cli"],
    "tunnel": ["boxlet-rest-tunnel"],
    "conc": ["boxlet-sdk"],
    "boxes": ["boxlet-sdk"],
}
SHORT = {"boxlet-sdk": "sdk", "boxlet-rest-ws": "rest", "boxlet-cli": "cli",
         "boxlet-sdk-hostimage": "host", "boxlet-sdk-incl-remove": "sdk+rm",
         "boxlet-sdk-tty": "tty"}


def pct(v, p):
    s = sorted(v)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def load(path):
    data = defaultdict(lambda: OrderedDict())
    units = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            data[row["scenario"]].setdefault(row["variant"], []).append(
                (int(row["run"]), float(row["value"])))
            units[row["scenario"]] = row["unit"]
    return data, units


def fmt(x):
    if x is None:
        return "–"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) >= 1 else f"{x:.3f}"


def ratios(scen, med, variant):
    heads = [h for h in HEADLINE.get(scen, []) if h in med]
    each = " · ".join(f"{SHORT.get(h, h)} {med[h] / med[variant]:.2f}" for h in heads)
    if variant == "host-relay":  # what journaling every byte in one more process costs
        return f"(no runtime: a journaling relay) {each}"
    if variant.startswith("host"):
        return "(no runtime: the floor)"
    if variant.startswith("boxlet") or not heads:
        return ""
    return each


def latency_table(out, scen, title, rows, total=None):
    med = {v: statistics.median(x for _, x in s) for v, s in rows.items()}
    out.append(f"### {title}\n")
    extra = " | total ms (median of rounds)" if total else ""
    out.append(f"| variant | n | median | p99 | boxlet/peer (median){extra} |")
    out.append("|---|---|---|---|---" + ("|---" if total else "") + "|")
    for v, s in rows.items():
        vals = [x for _, x in s]
        t = ""
        if total:
            t = " | " + (fmt(statistics.median(x for _, x in total[v])) if v in total else "–")
        out.append(f"| {v} | {len(vals)} | {fmt(med[v])} | {fmt(pct(vals, 99))} | "
                   f"{ratios(scen, med, v)}{t} |")
    out.append("")


def attach_table(out, rows, counts):
    if not rows:
        return
    conns = int(counts.get("connected", [(0, 0)])[0][1])
    refused = int(counts.get("refused", [(0, 0)])[0][1])
    out.append(f"### Idle WebSocket attaches to `boxlet serve` ({conns} held, "
               f"{refused} refused)\n")
    out.append("| metric | at 0 | at end | per connection |")
    out.append("|---|---|---|---|")
    for v, s in rows.items():
        base = [x for r, x in s if r == 0]
        last = s[-1]
        if not base or last[0] == 0:
            continue
        per = (last[1] - base[0]) / last[0]
        unit = "KiB" if "kib" in v else "fds"
        out.append(f"| {v} | {fmt(base[0])} | {fmt(last[1])} (at {last[0]}) | "
                   f"{per:.2f} {unit} |")
    out.append("")
    opened = counts.get("open-ms")
    if opened:
        cpu = {k: counts[k][0][1] for k in ("server-cpu-ms", "client-cpu-ms") if k in counts}
        cost = ", ".join(f"{k.replace('-cpu-ms', '')} CPU {v / 1e3:.2f} s" for k, v in cpu.items())
        out.append(f"Opening them took {opened[0][1] / 1e3:.2f} s"
                   f"{' (' + cost + ')' if cost else ''}; target for 10,000: "
                   f"≤ 5 s, ≤ 16 KiB and 1 descriptor each in the server.\n")


def idle_table(out, data):
    keys = [k for k in ("idle-host-kib-per-box", "idle-cgroup-kib-per-box") if k in data]
    if not keys:
        return
    out.append("### Idle boxes: memory per box (KiB)\n")
    out.append("| variant | " + " | ".join(k.replace("idle-", "") for k in keys) + " |")
    out.append("|---" * (len(keys) + 1) + "|")
    variants = OrderedDict()
    for k in keys:
        for v in data[k]:
            variants[v] = 1
    for v in variants:
        cells = [fmt(data[k][v][0][1]) if v in data[k] else "–" for k in keys]
        out.append(f"| {v} | " + " | ".join(cells) + " |")
    for k in ("idle-agent-rss", "idle-agent-pss"):
        if k in data:
            vals = [x for _, x in data[k]["boxlet-agent"]]
            out.append(f"\nboxlet-agent {k[11:].upper()} per idle box: median "
                       f"{fmt(statistics.median(vals))} KiB, p99 {fmt(pct(vals, 99))} KiB "
                       f"({len(vals)} boxes)")
    out.append("")


def report(data, units):
    out = []
    for scen, title in TITLES.items():
        if scen in data:
            latency_table(out, scen, title, data[scen])
    for scen in sorted((s for s in data if s.startswith("conc") and not s.endswith("total")),
                       key=lambda s: int(s[4:])):
        latency_table(out, "conc", f"{scen[4:]} concurrent executions of `true` in one box: "
                      "latency of each (ms)", data[scen], data.get(scen + "-total", {}))
    if "boxes" in data:
        latency_table(out, "boxes", "Boxes created and started concurrently: latency of each "
                      "(ms)", data["boxes"], data.get("boxes-total", {}))
    attach_table(out, data.get("attach", {}), data.get("attach-count", {}))
    idle_table(out, data)
    return "\n".join(out)


def plot(data, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [s for s in ("exec", "cold", "conc1000", "tput") if s in data]
    if not panels:
        return
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)))
    axes = [axes] if len(panels) == 1 else axes
    for ax, scen in zip(axes, panels):
        names = list(data[scen])
        vals = [[x for _, x in data[scen][v]] for v in names]
        if scen == "tput":
            ax.barh(names, [statistics.median(v) for v in vals], color="tab:blue")
            ax.set_xlabel("MB/s (median)")
            ax.set_title("stdout throughput")
        else:
            ax.boxplot(vals, vert=False, labels=names, whis=(1, 99), showfliers=True,
                       flierprops={"markersize": 2})
            ax.set_xscale("log")
            ax.set_xlabel("ms (log scale; box = quartiles, whiskers = p1..p99)")
            ax.set_title({"exec": "exec round trip of `true`",
                          "cold": "cold start: create + start + first exec",
                          "conc1000": "1,000 concurrent executions: latency of each"}[scen])
        ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    data, units = load(args[0])
    print(report(data, units))
    if "--plot" in args:
        plot(data, args[args.index("--plot") + 1])


if __name__ == "__main__":
    main()
