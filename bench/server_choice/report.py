"""Pool several runs of run.py (each an OUT dir with results.json) into one markdown report.

    python report.py results/pass1 results/pass2 results/pass3

Per setup: median requests/s and median p99 over all rounds of all passes, the ratio of each
median to nginx's, the per-pass ratios (to show how stable the conclusion is), and the
foreign CPU load recorded (when the pass recorded it).
"""

from __future__ import annotations

import json
import statistics as st
import sys
from pathlib import Path

SERVERS = ["nginx", "uvicorn", "aiohttp", "granian", "socketify", "stdlib"]


def main(dirs: list[str]) -> None:
    passes = [json.loads((Path(d) / "results.json").read_text()) for d in dirs]
    names = [Path(d).name for d in dirs]
    servers = [s for s in SERVERS if any(r["server"] == s for p in passes for r in p["results"])]
    setups = [
        s
        for s in ("pinned", "unpinned")
        if any(r["setup"] == s for p in passes for r in p["results"])
    ]
    out = []
    for setup in setups:
        out.append(f"#### {setup}: {len(passes)} passes × {passes[0]['runs']} rounds pooled\n")
        head = "| server | full GET rps | p99 ms | × nginx | 304 rps | p99 ms | × nginx |"
        out += [head, "|---|---:|---:|---:|---:|---:|---:|"]
        med: dict = {}
        for s in servers:
            for test in ("full", "304"):
                rs = [
                    r
                    for p in passes
                    for r in p["results"]
                    if (r["setup"], r["server"], r["test"]) == (setup, s, test)
                ]
                med[s, test] = (
                    st.median(r["rps"] for r in rs),
                    st.median(r["p99_ms"] for r in rs),
                    len(rs),
                )
        for s in servers:
            cells = []
            for test in ("full", "304"):
                rps, p99, _ = med[s, test]
                cells += [f"{rps:,.0f}", f"{p99:.2f}", f"{rps / med['nginx', test][0]:.2f}"]
            out.append(f"| {s} | " + " | ".join(cells) + " |")
        out.append("")
        out.append(f"Ratio to nginx per pass ({', '.join(names)}), full GET / 304:\n")
        out += [
            "| server | full GET | 304 | foreign CPU % of a core (median, where recorded) |",
            "|---|---|---|---|",
        ]
        for s in servers:
            cols = []
            for test in ("full", "304"):
                ratios = []
                for p in passes:

                    def m(srv, p=p, test=test, setup=setup):
                        return st.median(
                            r["rps"]
                            for r in p["results"]
                            if (r["setup"], r["server"], r["test"]) == (setup, srv, test)
                        )

                    ratios.append(f"{m(s) / m('nginx'):.2f}")
                cols.append(" · ".join(ratios))
            fg = [
                r["foreign_cpu_pct"]
                for p in passes
                for r in p["results"]
                if (r["setup"], r["server"]) == (setup, s) and r.get("foreign_cpu_pct") is not None
            ]
            cols.append(f"{st.median(fg):.0f}" if fg else "–")
            out.append(f"| {s} | " + " | ".join(cols) + " |")
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
