/** The dashboard's HTML: a skeleton its script (assets.ts) fills from `/api/status`. */

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const head = (title: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<link rel="stylesheet" href="/assets/uplot.css">
<link rel="stylesheet" href="/assets/dashboard.css">`;

export function signInPage(problem?: string): string {
  return `${head('ragsync dashboard: sign in')}
</head>
<body class="sign-in">
<main>
<h1>ragsync dashboard</h1>
<form method="post" action="/login">
<label for="token">Dashboard token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
${problem ? `<p class="error" role="alert">${escape(problem)}</p>` : ''}
<p class="hint">The token is the value of <code>RAGSYNC_DASHBOARD_TOKEN</code> where the dashboard runs.</p>
</form>
</main>
</body>
</html>`;
}

export function dashboardPage(options: { title: string; csrf: string; signOut: boolean }): string {
  return `${head('ragsync dashboard')}
<meta name="csrf-token" content="${escape(options.csrf)}">
<script src="/assets/uplot.js" defer></script>
<script src="/assets/dashboard.js" defer></script>
</head>
<body>
<header>
<h1>ragsync dashboard</h1>
<span class="where">${escape(options.title)}</span>
<span class="updated">status of <time id="updated">…</time></span>
${options.signOut ? '<button id="sign-out" type="button" class="quiet">Sign out</button>' : ''}
</header>
<section id="verdict" class="verdict unknown" aria-live="polite"><strong id="verdict-state">reading the status…</strong><ul id="verdict-reasons"></ul></section>
<p id="read-error" class="error" hidden></p>

<section class="tiles">
<div class="tile"><span class="label">lag</span><span class="value" id="tile-lag">-</span></div>
<div class="tile"><span class="label">changes in /s</span><span class="value" id="tile-in">-</span></div>
<div class="tile"><span class="label">indexed /s</span><span class="value" id="tile-done">-</span></div>
<div class="tile"><span class="label">dead letters</span><span class="value" id="tile-dlq">-</span></div>
<div class="tile"><span class="label">documents</span><span class="value" id="tile-documents">-</span></div>
<div class="tile"><span class="label">points</span><span class="value" id="tile-points">-</span></div>
<div class="tile"><span class="label">embedding cache hits</span><span class="value" id="tile-cache">-</span></div>
</section>

<section class="charts">
<figure><figcaption>Lag per stage (records)</figcaption><div id="chart-lag" class="chart"></div></figure>
<figure><figcaption>Processed per stage (records/s, last minute)</figcaption><div id="chart-rate" class="chart"></div></figure>
</section>

<section>
<h2>Stages</h2>
<table id="stages"><thead><tr><th>stage</th><th>group</th><th class="n">lag</th><th class="n">produced/s</th><th class="n">processed/s</th><th class="n">oldest unprocessed</th><th class="n">dead letters</th><th></th></tr></thead><tbody></tbody></table>
<h3>Partitions with lag</h3>
<table id="partitions"><thead><tr><th>stage</th><th>topic</th><th class="n">partition</th><th class="n">committed</th><th class="n">end</th><th class="n">lag</th><th>oldest unprocessed</th></tr></thead><tbody></tbody></table>
<p id="tombstones" class="hint"></p>
</section>

<section class="columns">
<div>
<h2>Dead letters</h2>
<table id="dlq-reasons"><thead><tr><th>group</th><th>code</th><th>class</th><th class="n">records</th><th>last message</th></tr></thead><tbody></tbody></table>
<div class="actions">
<label for="replay-group">Replay dead letters of</label>
<select id="replay-group"><option value="all">every group</option></select>
<button id="replay" type="button">Replay dead letters…</button>
</div>
<p id="replay-result" class="result" aria-live="polite"></p>
<h2>Circuits</h2>
<ul id="circuits" class="plain"></ul>
<h2>Retry tiers</h2>
<table id="retries"><thead><tr><th>group</th><th>tier</th><th>topic</th><th class="n">waiting</th><th>next due</th></tr></thead><tbody></tbody></table>
</div>
<div>
<h2>Index</h2>
<table id="index-documents"><thead><tr><th>tenant</th><th>entity type</th><th class="n">documents</th></tr></thead><tbody></tbody></table>
<h3>Points per document type</h3>
<table id="index-points"><thead><tr><th>tenant</th><th>document type</th><th class="n">points</th></tr></thead><tbody></tbody></table>
<h2>Last event per entity type</h2>
<table id="last-events"><thead><tr><th>entity type</th><th>last change</th></tr></thead><tbody></tbody></table>
<h2>Freshness (source to target)</h2>
<table id="freshness"><thead><tr><th>target</th><th>class</th><th class="n">p50</th><th class="n">p95</th><th class="n">max</th><th class="n">samples</th></tr></thead><tbody></tbody></table>
</div>
</section>

<section>
<h2>Resync</h2>
<form id="resync-form" class="actions">
<label>tenant <input name="tenant" placeholder="every tenant" pattern="[a-z0-9][a-z0-9_\\-]{0,62}"></label>
<label>types <input name="types" placeholder="every type, or product,category"></label>
<label>from <select name="from"><option value="changes">change topics</option><option value="documents">documents</option><option value="vectors">vectors (no embedding)</option></select></label>
<label>into collection <input name="into" placeholder="the configured one"></label>
<button type="submit">Start resync…</button>
</form>
<div id="resync-panel" hidden>
<p id="resync-state"></p>
<progress id="resync-progress" max="1" value="0"></progress>
<pre id="resync-output"></pre>
</div>
</section>

<dialog id="confirm">
<form method="dialog">
<h2 id="confirm-title"></h2>
<p id="confirm-text"></p>
<ul id="confirm-list"></ul>
<div class="buttons"><button value="cancel" id="confirm-cancel">Cancel</button><button value="ok" id="confirm-ok" class="danger">Confirm</button></div>
</form>
</dialog>
</body>
</html>`;
}
