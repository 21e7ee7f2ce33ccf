/**
 * The dashboard: one self-contained page (no outside assets: a fleet may
 * have no internet) that polls the coordinator's JSON API every second and
 * draws the jobs, a job's curves per round as an SVG chart (training loss;
 * the test metric of the rounds it was evaluated at, with
 * `training.evaluateEvery`), and the workers with their backend, job and
 * rank, and their last round's mean step split into compute and wait (a
 * bar each, on one scale: a straggler's is long and mostly compute, its
 * peers' mostly wait). The chart grows while the job runs.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tfleet</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 24px; color: #1d2330; background: #fafbfc; }
  h1 { font-size: 20px; margin: 0 0 16px; }
  h2 { font-size: 16px; margin: 24px 0 8px; }
  table { border-collapse: collapse; background: #fff; }
  th, td { text-align: left; padding: 6px 12px; border-bottom: 1px solid #e3e6ea; }
  tr.job { cursor: pointer; }
  tr.job:hover, tr.selected { background: #eef3fb; }
  .state-succeeded { color: #1a7f37; } .state-failed { color: #cf222e; } .state-running { color: #0969da; }
  #chart { background: #fff; border: 1px solid #e3e6ea; }
  #chart polyline { fill: none; stroke-width: 3; }
  #loss { stroke: #1f77b4; } #test { stroke: #ff7f0e; }
  .legend-loss { fill: #1f77b4; } .legend-test { fill: #ff7f0e; }
  #error { color: #cf222e; }
  .muted { color: #6e7781; }
  .bar { display: flex; height: 8px; margin-top: 4px; background: #eef0f3; width: 160px; }
  .bar-compute { background: #2da44e; } .bar-wait { background: #d4a72c; }
  .step-compute { color: #1a7f37; } .step-wait { color: #9a6700; }
</style>
</head>
<body>
<h1>tfleet</h1>
<div id="error"></div>
<h2>Jobs</h2>
<table id="jobs"><thead><tr><th>job</th><th>name</th><th>state</th><th>progress</th><th>workers</th><th>test</th></tr></thead><tbody></tbody></table>
<div id="detail" hidden>
  <h2 id="detail-title"></h2>
  <div id="detail-info" class="muted"></div>
  <svg id="chart" width="640" height="260" viewBox="0 0 640 260" role="img" aria-label="training loss and test metric per round">
    <polyline id="loss" points=""></polyline>
    <polyline id="test" points=""></polyline>
    <text id="chart-top" x="8" y="16" font-size="12" class="legend-loss"></text>
    <text id="chart-test" x="632" y="16" font-size="12" text-anchor="end" class="legend-test"></text>
    <text id="chart-bottom" x="8" y="252" font-size="12" fill="#6e7781"></text>
  </svg>
</div>
<h2>Workers</h2>
<table id="workers"><thead><tr><th>worker</th><th>backend</th><th>job</th><th>step: compute / wait</th><th>last heard</th></tr></thead><tbody></tbody></table>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const headers = token ? { authorization: 'Bearer ' + token } : {};
let selected = new URLSearchParams(location.search).get('job');
const text = (s) => document.createTextNode(String(s));
function cell(row, value, cls) { const td = row.insertCell(); td.appendChild(text(value)); if (cls) td.className = cls; return td; }
function metric(m) { if (!m) return '-'; return m.accuracy !== undefined ? 'accuracy ' + m.accuracy.toFixed(4) : m.rmse !== undefined ? 'rmse ' + m.rmse.toFixed(4) : 'loss ' + m.loss.toFixed(4); }
async function get(path) {
  const res = await fetch(path, { headers });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.status);
  return body;
}
function drawJobs(jobs) {
  const body = document.querySelector('#jobs tbody');
  body.replaceChildren();
  for (const j of jobs.slice().reverse()) {
    const row = body.insertRow();
    row.className = 'job' + (j.id === selected ? ' selected' : '');
    row.dataset.id = j.id;
    cell(row, j.id); cell(row, j.name); cell(row, j.state, 'state-' + j.state);
    cell(row, j.epoch + '/' + j.epochs + (j.waiting ? ' (' + j.waiting + ')' : ''));
    cell(row, j.workers.join(', ')); cell(row, metric(j.metrics.test));
    row.onclick = () => { selected = j.id; history.replaceState(null, '', '?job=' + j.id + location.hash); refresh(); };
  }
}
function drawDetail(job) {
  const detail = document.getElementById('detail');
  if (!job) { detail.hidden = true; return; }
  detail.hidden = false;
  document.getElementById('detail-title').textContent = job.name + ' (' + job.id + '): ' + job.state;
  const lost = job.membership.filter((m) => m.change === 'lost').length;
  document.getElementById('detail-info').textContent = job.family + ', round ' + job.epoch + '/' + job.epochs + ', attempt ' + job.attempt + (lost ? ', ' + lost + ' member(s) lost' : '') + (job.error ? ', ' + job.error : '');
  const rounds = job.history;
  const w = 640, h = 260, pad = 24;
  const first = rounds.length ? rounds[0].round : 0, last = rounds.length ? rounds[rounds.length - 1].round : 0;
  const xOf = (round) => pad + (last === first ? 0 : ((round - first) * (w - 2 * pad)) / (last - first));
  // Each curve on its own scale: its smallest value at the bottom, its largest at the top.
  const curve = (entries, value) => {
    const values = entries.map(value);
    const max = Math.max(...values), min = Math.min(...values), span = max - min || 1;
    return { min, max, points: entries.map((e, i) => xOf(e.round).toFixed(1) + ',' + (pad + ((max - values[i]) * (h - 2 * pad)) / span).toFixed(1)).join(' ') };
  };
  const loss = curve(rounds, (e) => e.loss);
  document.getElementById('loss').setAttribute('points', loss.points);
  document.getElementById('chart-top').textContent = rounds.length ? 'train loss ' + loss.max.toFixed(4) + ' → ' + rounds[rounds.length - 1].loss.toFixed(4) : 'no round finished yet';
  document.getElementById('chart-bottom').textContent = rounds.length ? 'round ' + (first + 1) + ' to ' + (last + 1) + (job.state === 'running' ? ', live' : '') : '';
  const tested = rounds.filter((e) => e.test);
  const name = tested.length && tested[0].test.accuracy !== undefined ? 'accuracy' : 'rmse';
  const test = curve(tested, (e) => e.test[name]);
  document.getElementById('test').setAttribute('points', test.points);
  document.getElementById('chart-test').textContent = tested.length ? 'test ' + name + ' ' + tested[tested.length - 1].test[name].toFixed(4) + ' (round ' + (tested[tested.length - 1].round + 1) + ')' : '';
}
const ms = (seconds) => (seconds * 1000).toPrecision(3) + ' ms';
function span(parent, cls, value) { const s = document.createElement('span'); s.className = cls; s.appendChild(text(value)); parent.appendChild(s); return s; }
function drawStep(td, step, longest, job) {
  if (!step) { td.appendChild(text('-')); return; }
  span(td, 'step-compute', 'compute ' + ms(step.computeSeconds));
  td.appendChild(text(' / '));
  span(td, 'step-wait', 'wait ' + ms(step.waitSeconds));
  td.title = 'mean step of round ' + (step.round + 1) + ' of job ' + step.job + ', rank ' + step.rank;
  if (step.job !== job) span(td, 'muted', ' (job ' + step.job + ')');
  const bar = document.createElement('div');
  bar.className = 'bar';
  for (const [cls, seconds] of [['bar-compute', step.computeSeconds], ['bar-wait', step.waitSeconds]]) {
    const part = document.createElement('span');
    part.className = cls;
    part.style.width = (longest > 0 ? (100 * seconds) / longest : 0).toFixed(1) + '%';
    bar.appendChild(part);
  }
  td.appendChild(bar);
}
function drawWorkers(workers) {
  const body = document.querySelector('#workers tbody');
  body.replaceChildren();
  // One scale for every worker's bar: the longest step fills it.
  const longest = Math.max(0, ...workers.map((w) => (w.step ? w.step.computeSeconds + w.step.waitSeconds : 0)));
  for (const w of workers) {
    const row = body.insertRow();
    row.dataset.name = w.name;
    cell(row, w.name); cell(row, w.backend);
    cell(row, w.job ? w.job + (w.rank !== null ? ' rank ' + w.rank : ' (held)') : 'idle');
    drawStep(row.insertCell(), w.step, longest, w.job);
    cell(row, Math.round((Date.now() - w.lastSeenMs) / 1000) + ' s ago');
  }
}
async function refresh() {
  try {
    const [jobs, workers] = await Promise.all([get('/api/jobs'), get('/api/workers')]);
    drawJobs(jobs);
    drawWorkers(workers);
    drawDetail(selected ? await get('/api/jobs/' + encodeURIComponent(selected)) : null);
    document.getElementById('error').textContent = '';
  } catch (err) {
    document.getElementById('error').textContent = String(err.message || err);
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
