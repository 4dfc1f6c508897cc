/**
 * The dashboard page's script and styles, served from this module (so a built package needs no
 * file besides its JavaScript). The script reads `/api/status` every few seconds and renders it
 * with text nodes only (record keys and error messages are never parsed as HTML); actions go
 * through a confirmation dialog and send the page's CSRF token.
 */

export const DASHBOARD_CSS = String.raw`
:root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --line: #d0d7de; --muted: #57606a; font-family: system-ui, sans-serif; font-size: 14px; color: #1f2328; }
body { margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1400px; }
header { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.4rem; margin: 0.2rem 0; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 0.5rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.4rem; }
.where, .updated, .hint { color: var(--muted); }
.verdict { border-radius: 6px; padding: 0.7rem 1rem; margin: 0.8rem 0; border: 1px solid var(--line); }
.verdict strong { font-size: 1.2rem; }
.verdict ul { margin: 0.3rem 0 0; padding-left: 1.2rem; }
.verdict.in-sync { background: #dafbe1; border-color: var(--ok); }
.verdict.behind { background: #fff8c5; border-color: var(--warn); }
.verdict.failing { background: #ffebe9; border-color: var(--bad); }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 0.6rem; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 0.7rem; display: flex; flex-direction: column; }
.tile .label { color: var(--muted); font-size: 0.85rem; }
.tile .value { font-size: 1.5rem; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; margin-top: 1rem; }
.charts figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem; min-width: 0; }
.charts figcaption { color: var(--muted); margin-bottom: 0.3rem; }
.chart { min-height: 220px; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
td.message { max-width: 28rem; overflow-wrap: anywhere; }
tr.empty td { color: var(--muted); font-style: italic; }
.actions { display: flex; gap: 0.6rem; align-items: center; flex-wrap: wrap; margin: 0.6rem 0; }
button { font: inherit; padding: 0.3rem 0.8rem; border-radius: 6px; border: 1px solid var(--line); background: #f6f8fa; cursor: pointer; }
button.danger { background: var(--bad); color: white; border-color: var(--bad); }
button.quiet { margin-left: auto; }
input, select { font: inherit; padding: 0.2rem 0.4rem; }
.error { color: var(--bad); white-space: pre-wrap; }
.result { min-height: 1.2rem; }
.state-closed { color: var(--ok); } .state-open { color: var(--bad); } .state-half-open { color: var(--warn); }
ul.plain { list-style: none; padding: 0; margin: 0; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 0.5rem; max-height: 14rem; overflow: auto; white-space: pre-wrap; }
#resync-panel.failed pre { border-color: var(--bad); color: var(--bad); }
progress { width: 100%; }
dialog { border: 1px solid var(--line); border-radius: 8px; max-width: 36rem; }
dialog .buttons { display: flex; justify-content: flex-end; gap: 0.6rem; margin-top: 1rem; }
body.sign-in main { max-width: 22rem; margin: 4rem auto; }
body.sign-in form { display: flex; flex-direction: column; gap: 0.6rem; }
@media (max-width: 900px) { .charts, .columns { grid-template-columns: 1fr; } }
`;

export const DASHBOARD_JS = String.raw`
(function () {
  'use strict';
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  var charts = {};
  var latest = null;
  var POLL_MS = 3000;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else if (k.indexOf('data-') === 0) node.setAttribute(k, attrs[k]);
      else node[k] = attrs[k];
    }
    for (var i = 2; i < arguments.length; i++) if (arguments[i] != null) node.appendChild(typeof arguments[i] === 'string' ? document.createTextNode(arguments[i]) : arguments[i]);
    return node;
  }
  function rows(tbody, list, columns, empty) {
    tbody.textContent = '';
    if (list.length === 0) { tbody.appendChild(el('tr', { className: 'empty' }, el('td', { colSpan: columns, text: empty }))); return; }
    list.forEach(function (r) { tbody.appendChild(r); });
  }
  function rate(n) { return n == null ? '-' : n >= 10 ? n.toFixed(0) : n.toFixed(1); }
  function age(ms) {
    if (ms == null) return '-';
    var s = Math.round(ms / 1000);
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    var h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + (m % 60) + 'm';
    return Math.floor(h / 24) + 'd' + (h % 24 ? ' ' + (h % 24) + 'h' : '');
  }
  function dur(ms) { return ms < 1000 ? Math.round(ms) + 'ms' : ms < 60000 ? (ms / 1000).toFixed(1) + 's' : age(ms); }
  function sum(list, f) { return list.reduce(function (a, x) { return a + (f(x) || 0); }, 0); }
  function td(text, cls, field) { var a = { text: String(text) }; if (cls) a.className = cls; if (field) a['data-field'] = field; return el('td', a); }

  function post(path, body) {
    return fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) })
      .then(function (res) { return res.json().catch(function () { return {}; }).then(function (data) { if (!res.ok) throw new Error(data.error || ('HTTP ' + res.status)); return data; }); });
  }

  function confirmDialog(title, text, items) {
    var dialog = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    var list = $('confirm-list');
    list.textContent = '';
    (items || []).forEach(function (i) { list.appendChild(el('li', { text: i })); });
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise(function (resolve) {
      dialog.addEventListener('close', function onClose() { dialog.removeEventListener('close', onClose); resolve(dialog.returnValue === 'ok'); });
    });
  }

  function renderVerdict(status) {
    var v = status.verdict || { state: 'unknown', reasons: [], notes: [] };
    var box = $('verdict');
    box.className = 'verdict ' + v.state.replace(/ /g, '-');
    box.setAttribute('data-state', v.state);
    $('verdict-state').textContent = v.state;
    var list = $('verdict-reasons');
    list.textContent = '';
    v.reasons.concat(v.notes.map(function (n) { return 'note: ' + n; })).forEach(function (r) { list.appendChild(el('li', { text: r })); });
  }

  function renderTiles(status) {
    var stages = status.stages;
    $('tile-lag').textContent = sum(stages, function (s) { return s.lag; });
    var map = stages.filter(function (s) { return s.stage === 'map'; })[0];
    var store = stages.filter(function (s) { return s.stage === 'store'; })[0];
    $('tile-in').textContent = map ? rate(map.inPerSecond) : '-';
    $('tile-done').textContent = store ? rate(store.donePerSecond) : '-';
    $('tile-dlq').textContent = sum(stages, function (s) { return s.dlq; });
    $('tile-documents').textContent = status.documents == null ? '-' : status.documents;
    $('tile-points').textContent = status.points == null ? '-' : status.points;
    var c = status.embeddingCache;
    $('tile-cache').textContent = !c || c.hitRatio == null ? '-' : Math.round(c.hitRatio * 100) + '%';
  }

  function renderStages(status) {
    var select = $('replay-group');
    var chosen = select.value;
    select.textContent = '';
    select.appendChild(el('option', { value: 'all', text: 'every group' }));
    rows($('stages').tBodies[0], status.stages.map(function (s) {
      var group = s.stage;
      var button = null;
      if (s.dlq != null) select.appendChild(el('option', { value: group, text: group + '.dlq (' + s.dlq + ')' }));
      if (s.dlq > 0) {
        button = el('button', { type: 'button', text: 'Replay…', className: 'replay-row' });
        button.setAttribute('data-group', group);
        button.addEventListener('click', function () { replay(group); });
      }
      var tr = el('tr', { 'data-stage': s.stage },
        td(s.stage, null, 'stage'), td(s.group, null, 'group'), td(s.lag, 'n', 'lag'), td(rate(s.inPerSecond), 'n', 'inPerSecond'),
        td(rate(s.donePerSecond), 'n', 'donePerSecond'), td(age(s.oldestUnprocessedMs), 'n', 'oldest'), td(s.dlq == null ? '-' : s.dlq, 'n', 'dlq'), el('td', null, button));
      return tr;
    }), 8, 'no stage');
    if (Array.prototype.some.call(select.options, function (o) { return o.value === chosen; })) select.value = chosen;
    var now = Date.now();
    var lagging = [];
    status.stages.forEach(function (s) {
      (s.partitions || []).forEach(function (p) {
        if (p.lag > 0) lagging.push(el('tr', { 'data-partition': s.stage + ':' + p.topic + ':' + p.partition },
          td(s.stage), td(p.topic), td(p.partition, 'n'), td(p.committed == null ? 'none' : p.committed, 'n'), td(p.high, 'n'), td(p.lag, 'n', 'lag'),
          td(p.oldestUnprocessedAt ? p.oldestUnprocessedAt + ' (' + age(now - Date.parse(p.oldestUnprocessedAt)) + ' ago)' : '?')));
      });
    });
    rows($('partitions').tBodies[0], lagging, 7, 'no partition has lag');
    var retentions = status.stages.map(function (s) { return s.deleteRetentionMs; }).filter(function (n) { return n != null; });
    $('tombstones').textContent = retentions.length ? 'Tombstones stay ' + age(Math.min.apply(null, retentions)) + ' on the compacted inputs (delete.retention.ms): a group whose oldest unprocessed record gets older than that may miss deletes.' : '';
  }

  function renderSides(status) {
    var now = Date.now();
    rows($('dlq-reasons').tBodies[0], (status.dlqByReason || []).map(function (r) {
      return el('tr', { 'data-reason': r.group + ':' + r.code }, td(r.group), td(r.code), td(r.errorClass), td(r.count, 'n', 'count'), td(r.lastMessage, 'message'));
    }), 5, 'no dead letter to handle');
    var circuits = $('circuits');
    circuits.textContent = '';
    (status.circuits || []).forEach(function (c) {
      var detail = c.state === 'open' ? ', half-open in ' + age(c.waitMs) : c.failures > 0 ? ', ' + c.failures + ' failure(s) in a row' : '';
      circuits.appendChild(el('li', { 'data-target': c.target }, c.target + ': ', el('strong', { className: 'state-' + c.state, text: c.state }), detail));
    });
    if (!(status.circuits || []).length) circuits.appendChild(el('li', { text: 'unknown (Redis did not answer)' }));
    var tiers = [];
    (status.retries || []).forEach(function (g) {
      g.tiers.forEach(function (t) {
        tiers.push(el('tr', null, td(g.group), td(t.tier), td(t.topic), td(t.exists ? t.depth : 'no topic', 'n'), td(t.nextDueAt || '-')));
      });
    });
    rows($('retries').tBodies[0], tiers, 5, 'no retry tier');
    var emptyIndex = status.storeProblem ? 'store not counted: ' + status.storeProblem : status.documents == null ? 'store left out' : 'the index is empty';
    rows($('index-documents').tBodies[0], (status.documentsByType || []).map(function (d) {
      return el('tr', { 'data-index': d.tenant + '/' + d.entityType }, td(d.tenant), td(d.entityType), td(d.documents, 'n', 'documents'));
    }), 3, emptyIndex);
    rows($('index-points').tBodies[0], (status.pointsByType || []).map(function (p) {
      return el('tr', { 'data-index': p.tenant + '/' + p.docType }, td(p.tenant), td(p.docType), td(p.points, 'n', 'points'));
    }), 3, emptyIndex);
    rows($('last-events').tBodies[0], (status.lastEvents || []).map(function (e) {
      return el('tr', { 'data-entity': e.entityType }, td(e.entityType), td(e.at ? age(now - Date.parse(e.at)) + ' ago (' + e.at + ')' : 'none'));
    }), 2, 'no change topic');
    rows($('freshness').tBodies[0], (status.freshness || []).map(function (f) {
      return el('tr', { 'data-freshness': f.where + ':' + f.class }, td(f.where), td(f.class), td(dur(f.p50Ms), 'n'), td(dur(f.p95Ms), 'n'), td(dur(f.maxMs), 'n'), td(f.samples, 'n'));
    }), 6, status.freshness ? 'no change reached a target lately' : 'unknown (Redis did not answer)');
  }

  function chart(id, history, field, stages) {
    var box = $(id);
    var width = Math.max(300, box.clientWidth - 10);
    var data = [history.map(function (h) { return h.at / 1000; })].concat(stages.map(function (s) { return history.map(function (h) { return h[field][s] == null ? null : h[field][s]; }); }));
    var key = stages.join(',');
    var palette = ['#0969da', '#1a7f37', '#9a6700', '#cf222e', '#8250df', '#bf3989', '#57606a', '#0550ae', '#116329', '#7d4e00'];
    if (!charts[id] || charts[id].key !== key) {
      if (charts[id]) charts[id].plot.destroy();
      var series = [{}].concat(stages.map(function (s, i) { return { label: s, stroke: palette[i % palette.length], width: 2 }; }));
      charts[id] = { key: key, plot: new uPlot({ width: width, height: 200, series: series, axes: [{}, { size: 50 }], scales: { x: { time: true } } }, data, box) };
    } else {
      charts[id].plot.setData(data);
      if (Math.abs(charts[id].plot.width - width) > 20) charts[id].plot.setSize({ width: width, height: 200 });
    }
  }

  function renderResync(job) {
    var panel = $('resync-panel');
    if (!job) { panel.hidden = true; return; }
    panel.hidden = false;
    panel.className = job.state;
    panel.setAttribute('data-state', job.state);
    var p = job.progress || {};
    var text = 'ragsync ' + job.args.join(' ') + ': ' + job.state;
    if (job.state === 'failed') text += ' (exit code ' + job.exitCode + ')';
    if (p.phase) text += ' | ' + p.phase + ' ' + (p.done != null ? p.done : '?') + (p.total != null ? ' of ' + p.total : '') + (p.rate != null ? ', ' + rate(p.rate) + '/s' : '') + (p.etaSeconds != null ? ', about ' + age(p.etaSeconds * 1000) + ' left' : '');
    $('resync-state').textContent = text;
    var bar = $('resync-progress');
    bar.hidden = job.state === 'failed';
    if (p.total > 0) { bar.max = p.total; bar.value = p.done || 0; } else if (job.state === 'done') { bar.max = 1; bar.value = 1; } else { bar.removeAttribute('value'); }
    $('resync-output').textContent = job.output || (job.state === 'running' ? '' : '(no output)');
  }

  function render(data) {
    latest = data;
    $('read-error').hidden = !data.error;
    $('read-error').textContent = data.error ? 'The last status read failed (' + data.error.at + '): ' + data.error.message : '';
    renderResync(data.resync);
    var status = data.status;
    if (!status) return;
    $('updated').textContent = status.at;
    $('updated').setAttribute('datetime', status.at);
    renderVerdict(status);
    renderTiles(status);
    renderStages(status);
    renderSides(status);
    var stages = status.stages.map(function (s) { return s.stage; });
    if (window.uPlot && data.history.length > 0) {
      chart('chart-lag', data.history, 'lag', stages);
      chart('chart-rate', data.history, 'donePerSecond', stages);
    }
    document.body.setAttribute('data-rendered', status.at);
  }

  function poll() {
    fetch('/api/status', { credentials: 'same-origin' })
      .then(function (res) {
        if (res.status === 401) { location.href = '/login'; return null; }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (data) { if (data) render(data); })
      .catch(function (error) { $('read-error').hidden = false; $('read-error').textContent = 'The dashboard does not answer: ' + error.message; })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  function replay(group) {
    var result = $('replay-result');
    result.className = 'result';
    result.textContent = 'Checking what would be replayed…';
    post('/api/replay', { group: group, dryRun: true }).then(function (preview) {
      var count = preview.replayed.length;
      var items = preview.groups.filter(function (g) { return g.replayed > 0 || g.skipped.notReplayable > 0; }).map(function (g) {
        return g.group + '.dlq: ' + g.replayed + ' to send back (' + Object.keys(g.byCode).map(function (c) { return c + ' ' + g.byCode[c]; }).join(', ') + ')' + (g.skipped.notReplayable ? ', ' + g.skipped.notReplayable + ' cannot be replayed' : '');
      });
      if (count === 0) { result.textContent = 'Nothing to replay' + (group === 'all' ? '' : ' in ' + group + '.dlq') + '.'; return null; }
      result.textContent = '';
      return confirmDialog('Replay ' + count + ' dead letter' + (count === 1 ? '' : 's') + '?', 'Each record goes back through its stage once its cause is fixed: terminal groups through their first retry tier, map, chunk and embed from the key\'s current input.', items)
        .then(function (ok) {
          if (!ok) { result.textContent = 'Replay cancelled.'; return null; }
          result.textContent = 'Replaying…';
          return post('/api/replay', { group: group, dryRun: false, confirm: true }).then(function (report) {
            result.textContent = 'Replayed ' + report.replayed.length + ' record' + (report.replayed.length === 1 ? '' : 's') + (report.notReplayable.length ? '; ' + report.notReplayable.length + ' could not be replayed' : '') + '.';
            result.setAttribute('data-replayed', String(report.replayed.length));
          });
        });
    }).catch(function (error) { result.className = 'result error'; result.textContent = 'Replay failed: ' + error.message; });
  }

  function startResync(event) {
    event.preventDefault();
    var form = event.target;
    var body = { tenant: form.tenant.value.trim(), types: form.types.value.split(',').map(function (t) { return t.trim(); }).filter(Boolean), from: form.from.value, into: form.into.value.trim() };
    var items = ['tenant: ' + (body.tenant || 'every tenant'), 'types: ' + (body.types.join(', ') || 'every type'), 'from: ' + body.from, 'into: ' + (body.into || 'the configured collection')];
    confirmDialog('Start a resync?', 'The index is rebuilt by replaying Kafka topics; live traffic goes on meanwhile.', items).then(function (ok) {
      if (!ok) return;
      body.confirm = true;
      post('/api/resync', body).then(renderResync).catch(function (error) {
        renderResync({ state: 'failed', args: ['resync'], exitCode: null, output: error.message });
      });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('replay').addEventListener('click', function () { replay($('replay-group').value); });
    $('resync-form').addEventListener('submit', startResync);
    var out = $('sign-out');
    if (out) out.addEventListener('click', function () { post('/logout', {}).finally(function () { location.href = '/login'; }); });
    window.addEventListener('resize', function () { if (latest) render(latest); });
    poll();
  });
})();
`;
