package web

import "html/template"

// pages are the HTML templates. html/template escapes every value by its
// context; only dayBar and chart return template.HTML, built from numbers and
// escaped text.
var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="refresh" content="60">
<link rel="icon" href="data:,">
<title>{{.Title}} · sitestat</title>
<style>
:root{--bg:#fff;--fg:#1b1f24;--mute:#5b6570;--line:#d8dee4;--card:#f6f8fa;--up:#1a7f37;--down:#cf222e;--warn:#9a6700;--none:#d0d7de;--b99:#4ac26b;--b95:#d4a72c;--link:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#8d96a0;--line:#30363d;--card:#161b22;--up:#3fb950;--down:#f85149;--warn:#d29922;--none:#30363d;--b99:#9be9a8;--b95:#bb8009;--link:#4493f8}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:12px;font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--link)}
header{display:flex;flex-wrap:wrap;gap:12px;align-items:baseline;border-bottom:1px solid var(--line);margin-bottom:12px}
header h1{font-size:20px;margin:8px 0}
nav a{margin-right:12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--mute);font-weight:600}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.wrap{overflow-x:auto}
.summary{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0}
.state{font-weight:600;white-space:nowrap}
.state.up{color:var(--up)}.state.down{color:var(--down)}.state.failing{color:var(--warn)}.state.stale,.state.never,.state.maintenance{color:var(--mute)}
.url{color:var(--mute);font-size:12px;overflow-wrap:anywhere}
td.site{min-width:12em}
.bar{width:450px;max-width:100%;height:24px;display:block}.wide .bar{width:100%;height:32px}
.bar .b100{fill:var(--up)}.bar .b99{fill:var(--b99)}.bar .b95{fill:var(--b95)}.bar .blow{fill:var(--down)}.bar .none{fill:var(--none)}
.legend span{margin-right:10px;white-space:nowrap}
.sw{display:inline-block;width:10px;height:10px;margin-right:3px;vertical-align:-1px}
.chart{margin:8px 0}.plot{position:relative;aspect-ratio:4/1;font-size:clamp(11px,1.25vw - .3px,14.7px);line-height:1;background:var(--card);border:1px solid var(--line);border-radius:6px}
.plot svg{position:absolute;top:0;left:4.6em;width:calc(100% - 4.6em);height:100%}
.grid{stroke:var(--line);stroke-width:1}.axis{position:absolute;color:var(--mute);white-space:nowrap}
.axis.y{left:.25em;transform:translateY(-50%)}.axis.x0{left:4.6em;bottom:.3em}.axis.x1{right:8px;bottom:.3em}.axis.none{top:45%;left:0;right:0;text-align:center}
.line{fill:none;stroke-width:1.5}.line.p50,.pt.p50{stroke:var(--link)}.line.p95,.pt.p95{stroke:var(--warn)}.pt{fill:var(--bg)}
path.fail{fill:var(--down)}
.k.p50{color:var(--link)}.k.p95{color:var(--warn)}.k.fail{color:var(--down)}
figcaption{color:var(--mute);font-size:12px}
form{margin:8px 0}input[type=search]{padding:4px 8px;min-width:240px;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:4px}
.err{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.pager{margin:12px 0}.pager a{margin-right:12px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}dt{color:var(--mute)}dd{margin:0;word-break:break-all}
@media (max-width:700px){.hide-sm{display:none}.bar{width:100%}
.state{white-space:normal;overflow-wrap:anywhere}
.cards table,.cards tbody,.cards td{display:block}.cards thead{display:none}
.cards tr{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));grid-auto-flow:dense;gap:4px 12px;padding:8px 0;border-bottom:1px solid var(--line)}
#sites tr.site{grid-template-columns:repeat(3,minmax(0,1fr))}
.cards td{padding:0;border:0;min-width:0}.cards td.num{text-align:left}.cards td:empty{display:none}
.cards td.full{grid-column:1/-1}.cards td[data-label]::before{content:attr(data-label) ": ";color:var(--mute)}
.cards .hide-sm{display:none}.cards td.num{white-space:normal}#sites td[data-label]::before{content:attr(data-label);display:block;font-size:12px}
.plot{aspect-ratio:auto;height:170px}.pt{display:none}.line,.grid{vector-effect:non-scaling-stroke}}
</style></head><body>
<header><h1>{{.Title}}</h1><nav><a href="/">Overview</a><a href="/incidents">Incidents</a></nav></header>
{{end}}

{{define "foot"}}<footer class="url">sitestat · refreshes every minute</footer></body></html>{{end}}

{{define "state"}}<span class="state {{.Kind}}"><span aria-hidden="true">{{.Icon}}</span> {{.Text}}</span>{{end}}

{{define "legend"}}<div class="legend url"><span><i class="sw" style="background:var(--up)"></i>≥ 99.9%</span><span><i class="sw" style="background:var(--b99)"></i>≥ 99%</span><span><i class="sw" style="background:var(--b95)"></i>≥ 95%</span><span><i class="sw" style="background:var(--down)"></i>below</span><span><i class="sw" style="background:var(--none)"></i>no checks</span> (hover a day for its uptime)</div>{{end}}

{{define "overview"}}{{template "head" .}}
<p class="summary" id="summary">{{.Total}} websites: <b>{{.Up}} up</b>, <b>{{.Down}} down</b>{{range .Counts}}, {{.N}} {{.Text}}{{end}} · <a href="/incidents">open incidents: {{.OpenIncidents}}</a></p>
<form method="get" action="/" role="search"><input type="search" name="q" value="{{.Query}}" placeholder="search by name or URL" aria-label="search by name or URL"> <button type="submit">Search</button>{{if .Query}} <a href="/">clear</a>{{end}}</form>
{{template "legend"}}
<div class="wrap cards"><table id="sites">
<thead><tr><th>Website</th><th>State</th><th class="hide-sm">Checked</th>{{range .WindowNames}}<th class="num">{{.}}</th>{{end}}<th class="num hide-sm">p95 24h</th><th>Last 90 days</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="site" data-state="{{.State.Kind}}">
<td class="site full"><a href="/sites/{{.ID}}">{{.Label}}</a>{{if and .URL (ne .URL .Label)}}<div class="url">{{.URL}}</div>{{end}}</td>
<td class="full">{{template "state" .State}}{{range .Probes}}<div class="url">{{.Probe}}: {{template "state" .State}}</div>{{end}}</td>
<td class="hide-sm">{{.Checked}}</td>
{{range $i, $u := .Uptime}}<td class="num" data-label="uptime {{index $.WindowNames $i}}">{{$u}}</td>{{end}}
<td class="num hide-sm">{{.P95}}</td>
<td class="full">{{.Bar}}</td>
</tr>
{{else}}<tr><td colspan="8">No websites{{if $.Query}} match “{{$.Query}}”{{end}}.</td></tr>{{end}}
</tbody></table></div>
<div class="pager">Page {{.Page}} of {{.Pages}} {{if .PrevURL}}<a href="{{.PrevURL}}" rel="prev">← previous</a>{{end}}{{if .NextURL}}<a href="{{.NextURL}}" rel="next">next →</a>{{end}}</div>
{{template "foot"}}{{end}}

{{define "site"}}{{template "head" .}}
<p class="summary">{{template "state" .State}}</p>
<div class="grid2">
<section><h2>Settings</h2><dl>
<dt>ID</dt><dd>{{.ID}}</dd>
{{if .URL}}<dt>URL</dt><dd>{{.URL}}</dd>{{end}}
<dt>Interval</dt><dd>{{.Interval}}</dd>
{{if .Regex}}<dt>Regex</dt><dd class="err">{{.Regex}}</dd>{{end}}
<dt>TLS</dt><dd>{{.TLS}}</dd>
<dt>Certificate expires</dt><dd>{{.Cert}}</dd>
</dl></section>
<section><h2>Uptime</h2><table id="uptime"><thead><tr><th>Window</th><th class="num" title="share of the checks that were up, all probes together">Uptime</th><th class="num" title="1 − time in down incidents ÷ window">Availability</th><th class="num hide-sm">Down</th><th class="num">p95</th><th class="num hide-sm">Checks</th><th class="hide-sm">By probe</th></tr></thead><tbody>
{{range .Windows}}<tr><td>{{.Name}}</td><td class="num">{{.Uptime}}</td><td class="num">{{.Availability}}</td><td class="num hide-sm">{{.Downtime}}</td><td class="num">{{.P95}}</td><td class="num hide-sm">{{.Checks}}</td><td class="hide-sm">{{.ByProbe}}</td></tr>{{end}}
</tbody></table></section>
</div>
<h2>State per probe</h2>
<div class="wrap cards"><table id="probes"><thead><tr><th>Probe</th><th>State</th><th>Checked</th><th class="num">Code</th><th class="num">Time</th><th>Error</th></tr></thead><tbody>
{{range .Probes}}<tr><td data-label="probe">{{.Probe}}</td><td class="full">{{template "state" .State}}</td><td data-label="checked">{{.Checked}}</td><td class="num" data-label="code">{{.Code}}</td><td class="num" data-label="time">{{.Time}}</td><td class="err full">{{.Error}}</td></tr>
{{else}}<tr><td colspan="6">Never checked.</td></tr>{{end}}
</tbody></table></div>
<h2>Response time</h2>
{{.Chart24}}
{{.Chart7}}
<h2>Last 90 days</h2>
<div class="wide">{{.Bar}}</div>
{{template "legend"}}
<h2>Incidents</h2>
{{template "incidents-table" .Incidents}}
<h2>Last failed checks</h2>
<div class="wrap cards"><table id="failed"><thead><tr><th>When (UTC)</th><th>Probe</th><th>Reason</th><th class="num">Code</th><th>Error</th></tr></thead><tbody>
{{range .Failed}}<tr><td>{{.At}}</td><td data-label="probe">{{.Probe}}</td><td data-label="reason">{{.Reason}}</td><td class="num" data-label="code">{{.Code}}</td><td class="err full">{{.Error}}</td></tr>
{{else}}<tr><td colspan="5">No failed check in raw history.</td></tr>{{end}}
</tbody></table></div>
{{template "foot"}}{{end}}

{{define "incidents-table"}}<div class="wrap cards"><table class="incidents"><thead><tr><th>Website</th><th>Kind</th><th>State</th><th>Started (UTC)</th><th>Duration</th><th>Reason</th><th>Notifications</th></tr></thead><tbody>
{{range .}}<tr class="incident" data-open="{{.Open}}">
<td>{{if .SiteID}}<a href="/sites/{{.SiteID}}">{{.Site}}</a>{{else}}{{.Site}}{{end}}</td>
<td data-label="kind">{{.Kind}}</td>
<td class="full">{{if .Open}}<span class="state down"><span aria-hidden="true">✖</span> open</span>{{else}}<span class="state up"><span aria-hidden="true">✔</span> resolved {{.Resolved}}</span>{{end}}</td>
<td data-label="started">{{.Started}}</td><td data-label="lasted">{{.Duration}}</td>
<td class="full">{{.Reason}}{{if .Error}}<div class="err">{{.Error}}</div>{{end}}{{if .Probes}}<div class="url">probes: {{.Probes}}</div>{{end}}</td>
<td class="full" data-label="notifications">{{range .Notes}}<div class="url">{{.}}</div>{{else}}–{{end}}</td>
</tr>
{{else}}<tr><td colspan="7">No incidents.</td></tr>{{end}}
</tbody></table></div>{{end}}

{{define "incidents"}}{{template "head" .}}
{{template "incidents-table" .Incidents}}
{{template "foot"}}{{end}}

{{define "error"}}{{template "head" .}}
<p class="summary">{{.Code}}: {{.Message}}</p>
{{template "foot"}}{{end}}
`))
