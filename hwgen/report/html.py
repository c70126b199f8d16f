"""report.html / compare.html: one self-contained file each (plots are base64 PNGs, the style is
inline; no external CSS, JS or fonts), so it opens anywhere and can be mailed as it is."""
from __future__ import annotations

import base64
import html
import io

from hwgen.boards import RESOURCES

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1250px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #eee; } td.l, th.l { text-align: left; }
tr.bottleneck td { background: #fde2e2; } td.flag, tr.bottleneck td.flag { background: #ffe066; }
.box { border: 1px solid #999; padding: 0.6em 1em; margin: 0.6em 0.6em 0.6em 0; display: inline-block;
       vertical-align: top; max-width: 580px; }
table.layers { font-size: 0.72em; } table.layers td { padding: 1px 3px; }
td.fold { max-width: 150px; text-align: left; }
.estimate { border: 2px solid #c60; background: #fff7ee; }
.warn { color: #a00; font-weight: bold; } .note { color: #555; font-size: 0.85em; }
.sources { color: #555; font-size: 0.75em; overflow-wrap: anywhere; padding-left: 1.5em; }
img { max-width: 100%; }
"""


def _e(value) -> str:
    return html.escape(str(value))


def _n(value, digits: int = 0) -> str:
    """A number as the tables show it; '-' for a value that was not computed."""
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return _e(value)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _figure(width: float, height: float, rows: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, 1, figsize=(width, height), sharex=True)


def cycles_plot(layers: list[dict]) -> str:
    fig, ax = _figure(12, 3.6)
    names = [layer["name"] for layer in layers]
    ax.bar(range(len(layers)), [layer["cycles"] for layer in layers],
           color=["#c0392b" if layer["bottleneck"] else "#2e86c1" for layer in layers])
    ax.set_xticks(range(len(layers)), names, rotation=90, fontsize=7)
    ax.set_ylabel("expected cycles per frame (FINN)")
    ax.set_title("cycles per layer (red: the bottleneck, which sets the II)")
    return _png(fig)


def resources_plot(layers: list[dict]) -> str:
    fig, axes = _figure(12, 7.5, rows=3)
    width, x = 0.4, range(len(layers))
    for ax, resource in zip(axes, ("LUT", "BRAM_18K", "DSP")):
        ax.bar([i - width / 2 for i in x], [layer["finn"][resource] for layer in layers], width, label="FINN estimate")
        ax.bar([i + width / 2 for i in x], [(layer["yosys"] or {}).get(resource, 0) for layer in layers], width,
               label="Yosys synth_xilinx")
        ax.set_ylabel(resource)
    axes[0].set_title("resources per layer (missing Yosys bar: not synthesized)")
    axes[0].legend()
    axes[-1].set_xticks(list(x), [layer["name"] for layer in layers], rotation=90, fontsize=7)
    return _png(fig)


def utilization_plot(totals: dict) -> str:
    fig, ax = _figure(7, 3.2)
    width = 0.38
    sources = [s for s in ("finn", "yosys") if s in totals["utilization_pct"]]
    for k, source in enumerate(sources):
        pct = [totals["utilization_pct"][source].get(r) or 0 for r in RESOURCES]
        ax.bar([i + (k - 0.5) * width for i in range(len(RESOURCES))], pct, width,
               label={"finn": "FINN estimate", "yosys": "Yosys"}[source])
    ax.scatter(range(len(RESOURCES)), [100 * totals["limits"][r] for r in RESOURCES], marker="_", s=600,
               color="k", label="practical limit", zorder=3)
    ax.set_xticks(range(len(RESOURCES)), RESOURCES)
    ax.set_ylabel("% of the board's capacity")
    ax.set_title("utilization vs the board")
    ax.legend(fontsize=8)
    return _png(fig)


def _layer_table(layers: list[dict], power: dict) -> str:
    head = ("<tr><th class=l>layer</th><th class=l>op type</th><th class=l>folding</th><th>cycles</th>"
            "<th>FINN LUT</th><th>FINN BRAM18</th><th>FINN URAM</th><th>FINN DSP</th>"
            "<th>Yosys LUT</th><th>(LUTRAM)</th><th>Yosys FF</th><th>Yosys BRAM18</th><th>Yosys URAM</th>"
            "<th>Yosys DSP</th><th>dynamic mW (ESTIMATE)</th><th class=l>synthesis</th></tr>")
    rows = []
    for layer in layers:
        flagged = {d["resource"] for d in layer["discrepancies"]}
        y = layer["yosys"] or {}
        folding = ", ".join(f"{k}={v}" for k, v in layer["folding"].items())
        synth = layer["synth"]
        status = ("-" if synth is None else "FAILED (below)" if synth["error"]
                  else "cached" if synth["cached"] else f"{synth['seconds']} s")
        status += " -nolutram (below)" if synth and synth.get("note") else ""
        cells = [f"<td class=l>{_e(layer['name'])}</td>", f"<td class=l>{_e(layer['op_type'])}</td>",
                 f"<td class=fold>{_e(folding)}</td>", f"<td>{_n(layer['cycles'])}</td>"]
        cells += [f"<td{' class=flag' if r in flagged else ''}>{_n(layer['finn'][r])}</td>"
                  for r in ("LUT", "BRAM_18K", "URAM", "DSP")]
        cells += [f"<td{' class=flag' if r in flagged else ''}>{_n(y.get(r))}</td>" for r in ("LUT",)]
        cells += [f"<td>{_n(y.get('LUTRAM'))}</td>", f"<td>{_n(y.get('FF'))}</td>"]
        cells += [f"<td{' class=flag' if r in flagged else ''}>{_n(y.get(r))}</td>" for r in ("BRAM_18K", "URAM", "DSP")]
        dynamic = power["dynamic_by_layer"].get(layer["name"])
        milliwatts = "-" if dynamic is None else f"{dynamic['watts'] * 1e3:.3f}"
        cells.append(f"<td>{milliwatts}</td>")
        cells.append(f"<td class=l>{_e(status)}</td>")
        rows.append(f"<tr{' class=bottleneck' if layer['bottleneck'] else ''}>{''.join(cells)}</tr>")
    failures = "".join(f"<li>{_e(layer['name'])}: {_e(layer['synth']['error'])}</li>" for layer in layers
                       if layer["synth"] and layer["synth"]["error"])
    failed = f"<p class=warn>Yosys could not synthesize:</p><ul class=note>{failures}</ul>" if failures else ""
    notes = "".join(f"<li>{_e(layer['name'])}: {_e(layer['synth']['note'])}</li>" for layer in layers
                    if layer["synth"] and layer["synth"].get("note"))
    noted = f"<p class=warn>Synthesized with a workaround:</p><ul class=note>{notes}</ul>" if notes else ""
    return f"<table class=layers>{head}{''.join(rows)}</table>{failed}{noted}"


def _discrepancy_table(layers: list[dict]) -> str:
    rows = [f"<tr><td class=l>{_e(layer['name'])}</td><td class=l>{d['resource']}</td><td>{_n(d['finn'])}</td>"
            f"<td>{_n(d['yosys'])}</td><td>{d['ratio'] or '(one is 0)'}</td><td class=l>{_e(d['reason'])}</td></tr>"
            for layer in layers for d in layer["discrepancies"]]
    if not rows:
        return "<p>No layer where FINN's estimate and Yosys' count differ by more than 2x.</p>"
    return ("<table><tr><th class=l>layer</th><th class=l>resource</th><th>FINN</th><th>Yosys</th><th>ratio</th>"
            f"<th class=l>why they differ</th></tr>{''.join(rows)}</table>")


def _totals_table(totals: dict) -> str:
    rows = []
    for source, label in (("finn", "FINN estimate"), ("yosys", "Yosys")):
        counts = totals[source]
        if counts is None:
            continue
        pct = totals["utilization_pct"][source]
        cells = "".join(
            f"<td{' class=flag' if pct.get(r) is not None and pct[r] > 100 * totals['limits'][r] else ''}>"
            f"{_n(counts.get(r))} ({'-' if pct.get(r) is None else f'{pct[r]:.1f} %'})</td>" for r in RESOURCES)
        rows.append(f"<tr><td class=l>{label}</td>{cells}</tr>")
    capacity = "".join(f"<td>{_n(totals['capacity'][r])} (limit {100 * totals['limits'][r]:.0f} %)</td>" for r in RESOURCES)
    head = "".join(f"<th>{r}</th>" for r in RESOURCES)
    note = "" if totals["yosys_complete"] else (
        f"<p class=warn>Yosys totals leave out {len(totals['yosys_missing_layers'])} layer(s) it could not "
        f"synthesize: {_e(', '.join(totals['yosys_missing_layers']))}</p>")
    return (f"<table><tr><th class=l></th>{head}</tr>{''.join(rows)}<tr><td class=l>board capacity</td>{capacity}</tr>"
            f"</table>{note}")


def _power_box(power: dict) -> str:
    def w(v):
        return "-" if v is None else f"{v:.3f} W"
    def coefficient(c):
        if c["uw_per_mhz"] is None:
            return "<td>no report</td><td></td><td>0</td>"
        value = ("&le; " if c["upper_bound"] else "") + f"{c['uw_per_mhz']:.4g}"
        return f"<td>{value}</td><td>{c['spread'][0]:.3g}-{c['spread'][1]:.3g}</td><td>{len(c['reports'])}</td>"
    coefficients = "".join(f"<tr><td class=l>{r} per {_e(c['unit'])}{'' if c['activity_scaled'] else ' (every cycle)'}"
                           f"</td>{coefficient(c)}</tr>" for r, c in power["coefficients"].items())
    sources = sorted({s for c in power["coefficients"].values() for s in c["reports"]} | set(power["static_reports"]))
    sources = "".join(f"<li>{_e(s)}</li>" for s in sources)
    by_resource = "".join(f"<tr><td class=l>{r}</td><td>{v * 1e3:.2f} mW</td></tr>"
                          for r, v in (power["dynamic_by_resource_w"] or {}).items())
    unestimated = power.get("resources_without_coefficient") or []
    unestimated = (f"<p class=warn>not in the dynamic power (used, but no Vivado report gives a figure): "
                   f"{_e(', '.join(unestimated))}</p>" if unestimated else "")
    activity = power["activity"]
    energy = "-" if power["energy_per_frame_mj"] is None else f"{power['energy_per_frame_mj']:.4g} mJ per frame"
    return f"""<div class="box estimate"><h3>Power: ESTIMATE</h3>
<p class=warn>{_e(power['label'])}</p>
<table><tr><td class=l>static ({_e(power['die'])})</td><td>{w(power['static_w'])}</td></tr>
<tr><td class=l>dynamic at {power['clock_mhz']:g} MHz</td><td>{w(power['dynamic_w'])}</td></tr>
<tr><th class=l>total</th><th>{w(power['total_w'])}</th></tr>
<tr><td class=l>energy per frame</td><td>{energy}</td></tr></table>
<p class=note>energy = total power / FPS, FPS {_e(power.get('energy_fps_source'))}</p>
<p class=note>toggle rate {100 * activity['toggle_rate']:.2f} % ({_e(activity['source'])})</p>
<p class=note>static: {_e(power['static_source'])}</p>
<table><tr><th class=l>component</th><th>&micro;W/MHz at {100 * power['coefficients_at_toggle_rate']:.1f} %</th>
<th>spread</th><th>reports</th></tr>
{coefficients}</table><table><tr><th class=l>dynamic by component</th><th></th></tr>{by_resource}</table>{unestimated}
<p class=note>coefficients: {_e(power['coefficients_source'])}</p>
<p class=note>Vivado report_power results used (repository/blob/commit/path):</p><ol class=sources>{sources}</ol></div>"""


def render_report(r: dict) -> str:
    t, totals = r["throughput"], r["totals"]
    synthesis = r["synthesis"]
    warnings = "".join(f"<p class=warn>WARNING: {_e(w)}</p>" for w in totals["warnings"])
    synth_note = (f"<p class=note>{_e(synthesis['tool'])}, <code>synth_xilinx -family {synthesis['family']}</code>: "
                  f"{synthesis['layers']} layers, {synthesis['layers_cached']} from the cache, "
                  f"{len(synthesis['layers_failed'])} failed, {synthesis['seconds']} s. {_e(synthesis['note'])}.</p>"
                  + "".join(f"<p class=note>Synthesized {_e(x['with'])} in place of {_e(x['file'])}: {_e(x['why'])}.</p>"
                            for x in synthesis["substitutions"])
                  + "".join(f"<p class=note>In the staged copy of {_e(x['file'])}: <code>{_e(x['replaced'])}</code> -&gt; "
                            f"<code>{_e(x['with'])}</code> ({_e(x['why'])}).</p>" for x in synthesis["source_fixups"])
                  if synthesis["ran"] else f"<p class=note>Yosys synthesis {_e(synthesis['note'])}.</p>")
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>hwgen report: {_e(r['board'])}</title>
<style>{STYLE}</style></head><body>
<h1>hwgen report: {_e(r['board'])} ({_e(r['part'])}, {r['clock_mhz']:g} MHz)</h1>
<p class=note>{_e(r['build'])}</p>
<div class=box><h3>Throughput and latency</h3><table>
<tr><td class=l>FPS</td><td><b>{_n(t['fps'])}</b></td></tr>
<tr><td class=l>II</td><td>{_n(t['ii_cycles'])} cycles</td></tr>
<tr><td class=l>latency</td><td>{_n(t['latency_cycles'])} cycles = {t['latency_us']:,} &micro;s</td></tr>
<tr><td class=l>FINN expected</td><td>{_n(t['expected_fps'])} FPS, II {_n(t['expected_ii_cycles'])}</td></tr>
<tr><td class=l>bottleneck</td><td>{_e(t['bottleneck_layer'])}</td></tr></table>
<p class=note>FPS and II: {_e(t['label'])}<br>latency: {_e(t['latency_label'])}</p></div>
{_power_box(r['power'])}
<h2>Totals against the board</h2>{_totals_table(totals)}{warnings}
{utilization_plot(totals)}
<h2>Per layer</h2>{synth_note}{_layer_table(r['layers'], r['power'])}
<p class=note>Red row: the bottleneck layer. Yellow cell: FINN and Yosys differ by more than 2x (below).
Yosys LUT includes LUTRAM (shown on its own in brackets). BRAM in 18 kbit halves.</p>
{cycles_plot(r['layers'])}{resources_plot(r['layers'])}
<h2>Where FINN's estimate and Yosys disagree (more than 2x)</h2>{_discrepancy_table(r['layers'])}
</body></html>
"""


def render_compare(c: dict) -> str:
    builds = c["builds"]
    metrics = [("board", lambda b: b["board"]), ("clock MHz", lambda b: f"{b['clock_mhz']:g}"),
               ("FPS", lambda b: f"{_n(b['fps'])} ({'measured' if b['throughput_source'] == 'rtl_simulation' else 'expected'})"),
               ("II cycles", lambda b: _n(b["ii_cycles"])), ("latency cycles", lambda b: _n(b["latency_cycles"])),
               ("latency us", lambda b: _n(b["latency_us"], 2))]
    metrics += [(f"FINN {r}", lambda b, r=r: _n(b["finn"][r])) for r in ("LUT", "BRAM_18K", "URAM", "DSP")]
    metrics += [(f"Yosys {r}", lambda b, r=r: _n(b["yosys"][r])) for r in ("LUT", "FF", "BRAM_18K", "URAM", "DSP")]
    metrics += [("power W (ESTIMATE)", lambda b: "-" if b["power_w"] is None else f"{b['power_w']:.3f}"),
                ("energy mJ/frame (ESTIMATE)", lambda b: "-" if b["energy_per_frame_mj"] is None
                 else f"{b['energy_per_frame_mj']:.4g}")]
    head = "".join(f"<th>{i + 1}</th>" for i in range(len(builds)))
    rows = "".join(f"<tr><td class=l>{name}</td>{''.join(f'<td>{_e(get(b))}</td>' for b in builds)}</tr>"
                   for name, get in metrics)
    paths = "".join(f"<li>{i + 1}: {_e(b['build'])}</li>" for i, b in enumerate(builds))
    fig, ax = _figure(12, 3.6)
    for i, b in enumerate(builds):
        ax.plot(range(len(b["layer_cycles"])), list(b["layer_cycles"].values()), marker="o", label=f"{i + 1}")
    ax.set_xlabel("layer (stream order)")
    ax.set_ylabel("expected cycles per frame")
    ax.set_title("cycles per layer")
    ax.legend()
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>hwgen comparison</title>
<style>{STYLE}</style></head><body><h1>hwgen: {len(builds)} builds side by side</h1><ul>{paths}</ul>
<table><tr><th class=l>metric</th>{head}</tr>{rows}</table>
<p class=note>Power and energy are estimates (see each build's report.html). FPS is measured in RTL simulation
where hwgen verify ran, else FINN's expected figure, as marked.</p>{_png(fig)}</body></html>
"""
