"""One self-contained HTML page for an audit: counts per verdict, category and code, and a table of
targets to filter and sort, each opening to its findings with their evidence and fix.

No network: the styles and the script are inline, the rows are embedded as JSON (with `</`
escaped, so no value can close the script element), and the page builds itself from them.
`report.html#open=TARGET` opens with that target's findings shown.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

from whyload.audit.summary import Summary, label

VERDICT_LABELS = {"loads_broken": "loads broken", "fails": "fails", "unknown": "unknown",
                  "loads": "loads"}


def render_audit_html(rows: Iterable[Mapping[str, Any]], summary: Summary,
                      title: str = "whyload audit") -> str:
    rows = list(rows)
    data = [_row_data(r) for r in rows]
    embedded = json.dumps({"rows": data, "summary": summary.to_dict(),
                           "codes": summary.all_codes}, default=str)
    embedded = embedded.replace("</", "<\\/").replace("<!--", "<\\!--")
    cards = "".join(
        f'<button class="card v-{v}" data-verdict="{v}"><b>{n:,}</b>{VERDICT_LABELS[v]}</button>'
        for v, n in summary.verdicts.items())
    categories = "".join(f"<tr><td>{html.escape(c)}</td><td>{n:,}</td></tr>"
                         for c, n in summary.categories.items())
    codes = "".join(
        f'<tr><td><a href="#" data-code="{html.escape(c.code)}">{html.escape(c.code)}</a></td>'
        f'<td class="s-{html.escape(c.severity)}">{html.escape(c.severity)}</td>'
        f"<td>{html.escape(c.title)}</td><td>{c.targets:,}</td></tr>" for c in summary.codes)
    first = "".join(
        f"<li><code>{html.escape(p.target)}</code> <span class=\"v-{p.verdict}\">"
        f"{html.escape(VERDICT_LABELS.get(p.verdict, p.verdict))}</span>: "
        f"{html.escape(p.headline)} <i>({html.escape(p.reason)})</i></li>" for p in summary.first)
    return PAGE.format(title=html.escape(title), total=f"{summary.total:,}", cards=cards,
                       categories=categories, codes=codes or EMPTY_ROW,
                       first=first or "<li>nothing: every target loads</li>",
                       seconds=f"{summary.seconds:,.1f}", cached=f"{summary.from_cache:,}",
                       data=embedded)


def _row_data(row: Mapping[str, Any]) -> dict[str, Any]:
    resolved = row.get("resolved") or {}
    findings = [{k: f.get(k) for k in ("code", "category", "severity", "title", "detail",
                                       "evidence", "fix", "file")}
                for f in row.get("findings", ())]
    return {"target": label(row), "path": resolved.get("path", ""), "verdict": row.get("verdict"),
            "findings": findings, "errors": sum(f["severity"] == "error" for f in findings),
            "seconds": (row.get("timings") or {}).get("total_s")}


EMPTY_ROW = '<tr><td colspan="4">no findings</td></tr>'

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330}}
h1{{font-size:20px;margin:0 0 4px}} h2{{font-size:15px;margin:22px 0 8px}}
.muted{{color:#667}} code{{font:12px ui-monospace,Menlo,Consolas,monospace}}
.cards{{display:flex;gap:10px;margin:14px 0}}
.card{{border:1px solid #ccd;border-radius:8px;padding:10px 16px;background:#fff;cursor:pointer;
  min-width:110px;text-align:left;font:inherit}}
.card b{{display:block;font-size:22px}} .card.on{{outline:3px solid #4a6cf7}}
.v-loads{{color:#11743a}} .v-fails{{color:#b3261e}} .v-loads_broken{{color:#9a4d00}}
.v-unknown{{color:#555}} .s-error{{color:#b3261e}} .s-warning{{color:#9a4d00}} .s-info{{color:#555}}
.grid{{display:grid;grid-template-columns:1fr 2fr;gap:24px}}
table{{border-collapse:collapse;width:100%}} th,td{{text-align:left;padding:4px 8px;
  border-bottom:1px solid #e4e6ee;vertical-align:top}}
th{{cursor:pointer;user-select:none;background:#f5f6fa}} th.sorted:after{{content:" \\2195"}}
#targets tr.target{{cursor:pointer}} #targets tr.target:hover{{background:#f7f8fc}}
tr.detail td{{background:#fafbfe}} .finding{{margin:6px 0 10px}}
pre{{background:#f1f3f8;padding:6px 8px;border-radius:4px;overflow:auto;max-height:200px;
  font-size:12px;margin:4px 0}}
.filters{{display:flex;gap:8px;margin:8px 0}} input,select{{font:inherit;padding:4px 6px}}
</style></head><body>
<h1>{title}</h1>
<div class="muted">{total} targets &middot; {seconds} s &middot; {cached} from the cache</div>
<div class="cards">{cards}</div>
<h2>Look at these first</h2><ol>{first}</ol>
<div class="grid"><div><h2>Targets with a problem, by category</h2>
<table><tr><th>category</th><th>targets</th></tr>{categories}</table></div>
<div><h2>Most frequent codes</h2>
<table><tr><th>code</th><th>severity</th><th>title</th><th>targets</th></tr>{codes}</table></div></div>
<h2>Targets</h2>
<div class="filters"><input id="q" placeholder="filter: path, code, title" size="40">
<select id="verdict"><option value="">every verdict</option>
<option value="loads_broken">loads broken</option><option value="fails">fails</option>
<option value="unknown">unknown</option><option value="loads">loads</option></select>
<select id="code"><option value="">every code</option></select>
<span class="muted" id="shown"></span></div>
<table id="targets"><thead><tr><th data-key="target">target</th><th data-key="verdict">verdict</th>
<th data-key="errors">errors</th><th data-key="first">first finding</th>
<th data-key="seconds">s</th></tr></thead><tbody></tbody></table>
<script type="application/json" id="data">{data}</script>
<script>
(function(){{
const D=JSON.parse(document.getElementById("data").textContent);
const rows=D.rows, body=document.querySelector("#targets tbody");
const order={{loads_broken:0,fails:1,unknown:2,loads:3}};
const labels={{loads_broken:"loads broken",fails:"fails",unknown:"unknown",loads:"loads"}};
rows.forEach(r=>{{r.first=r.findings.length?r.findings[0].code+" "+r.findings[0].title:"";
  r.text=(r.target+" "+r.path+" "+r.findings.map(f=>f.code+" "+f.title).join(" "))
    .toLowerCase();}});
const codeSel=document.getElementById("code");
Object.keys(D.codes).sort().forEach(c=>{{const o=document.createElement("option");
  o.value=c;o.textContent=c+" ("+D.codes[c]+")";codeSel.appendChild(o);}});
let key="verdict", dir=1, open=new Set();
if(location.hash.startsWith("#open="))open.add(decodeURIComponent(location.hash.slice(6)));
function el(tag,cls,text){{const e=document.createElement(tag);if(cls)e.className=cls;
  if(text!==undefined)e.textContent=text;return e;}}
function detail(r){{const td=el("td");td.colSpan=5;
  if(!r.findings.length)td.appendChild(el("div","muted","no findings"));
  r.findings.forEach(f=>{{const d=el("div","finding");
    d.appendChild(el("b","s-"+f.severity,f.code+" "+f.severity+": "));
    d.appendChild(document.createTextNode(f.title+(f.file?" ("+f.file+")":"")));
    if(f.detail)d.appendChild(el("div","muted",f.detail));
    if(f.evidence&&Object.keys(f.evidence).length)
      d.appendChild(el("pre",null,JSON.stringify(f.evidence,null,1)));
    if(f.fix){{const x=el("div");x.appendChild(el("b",null,"fix: "));
      x.appendChild(el("code",null,f.fix));
      d.appendChild(x);}}
    td.appendChild(d);}});
  const tr=el("tr","detail");tr.appendChild(td);return tr;}}
function draw(){{const q=document.getElementById("q").value.toLowerCase();
  const v=document.getElementById("verdict").value, c=codeSel.value;
  const shown=rows.filter(r=>(!v||r.verdict===v)&&(!q||r.text.includes(q))&&
    (!c||r.findings.some(f=>f.code===c)));
  shown.sort((a,b)=>{{let x=a[key],y=b[key];if(key==="verdict"){{x=order[x];y=order[y];}}
    if(x===y)return a.target<b.target?-1:1;if(x===undefined||x===null)return 1;
    if(y===undefined||y===null)return -1;return (x<y?-1:1)*dir;}});
  body.textContent="";
  shown.slice(0,5000).forEach(r=>{{const tr=el("tr","target");
    tr.appendChild(el("td",null)).appendChild(el("code",null,r.target));
    tr.appendChild(el("td","v-"+r.verdict,labels[r.verdict]||r.verdict));
    tr.appendChild(el("td",null,String(r.errors)));tr.appendChild(el("td",null,r.first));
    tr.appendChild(el("td",null,r.seconds==null?"":r.seconds.toFixed(3)));
    tr.onclick=()=>{{open.has(r.target)?open.delete(r.target):open.add(r.target);draw();}};
    body.appendChild(tr);if(open.has(r.target))body.appendChild(detail(r));}});
  document.getElementById("shown").textContent=shown.length+" of "+rows.length+
    (shown.length>5000?" (first 5000 drawn)":"");
  document.querySelectorAll("th[data-key]").forEach(th=>
    th.classList.toggle("sorted",th.dataset.key===key));
  document.querySelectorAll(".card").forEach(b=>b.classList.toggle("on",b.dataset.verdict===v));}}
document.querySelectorAll("th[data-key]").forEach(th=>th.onclick=()=>{{
  dir=(key===th.dataset.key)?-dir:1;key=th.dataset.key;draw();}});
document.querySelectorAll(".card").forEach(b=>b.onclick=()=>{{
  const s=document.getElementById("verdict");
  s.value=s.value===b.dataset.verdict?"":b.dataset.verdict;draw();}});
document.querySelectorAll("a[data-code]").forEach(a=>a.onclick=e=>{{e.preventDefault();
  codeSel.value=a.dataset.code;draw();}});
["q","verdict","code"].forEach(id=>document.getElementById(id).oninput=draw);
draw();
}})();
</script></body></html>
"""
